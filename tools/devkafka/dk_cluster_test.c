/* dk_cluster_test.c - devkafka's mock engine: topics with their partition
 * counts, the brokers file, readiness, and a produce → consume round trip
 * through lib/kafka.c; fini removes the file. */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: dk_shared */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>

#include "buf.h"
#include "devkafka.h"
#include "kafka.h"
#include "loop.h"
#include "names.h"
#include "ops.h"
#include "pl_test.h"

static struct event_base *base;
/* pl_test.h's shared scaffolding, on this test's loop */
#define run_until(flag, want, ms) pl_test_run_until(base, (flag), (want), (ms))
static int got, eofs;
static char got_val[32];

static void
on_msg(const struct pl_kafka_msg *m, void *arg)
{
	if (m->len < sizeof(got_val)) {
		memcpy(got_val, m->payload, m->len);
		got_val[m->len] = 0;
	}
	got++;
}

static void
on_eof(const char *t, int32_t p, int64_t off, void *arg)
{
	eofs++;
}

static int dr_n, dr_rv = 1;

static void
on_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	dr_n++;
	dr_rv = rv;
}

PL_TEST(cluster_up_topics_file_roundtrip)
{
	char dir[] = "/tmp/pl-dk-test-XXXXXX", path[128], brokers[512] = "";
	struct pl_kafka_consumer *c = NULL;
	struct pl_kafka_producer *p = NULL;
	struct pl_loop *loop;
	struct pl_buf body;
	const char *ct;
	FILE *f;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/run/kafka.brokers", dir);
	dk_conf.brokers = 3;
	dk_conf.partitions_messages = 8;
	dk_conf.partitions_events = 4;
	dk_conf.partitions_presence = 2;
	dk_conf.brokers_file = path;
	base = event_base_new();
	loop = pl_loop_event_create(base);
	PL_CHECK_EQ_INT(dk_cluster_init(base, loop), 0);

	f = fopen(path, "r");
	PL_CHECK(f != NULL);
	if (f != NULL) {
		PL_CHECK(fgets(brokers, sizeof(brokers), f) != NULL);
		fclose(f);
	}
	brokers[strcspn(brokers, "\n")] = 0;
	PL_CHECK(strncmp(brokers, "127.0.0.1:", 10) == 0);

	pl_buf_init(&body);
	PL_CHECK_EQ_INT(pl_ops_handle("/readyz", &body, &ct), 200);
	pl_buf_fini(&body);

	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers,
	    "fetch.wait.max.ms=2", on_msg, on_eof, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_MESSAGES, 3000), 8);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_EVENTS, 3000), 4);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_PRESENCE, 3000), 2);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, PL_TOPIC_MESSAGES, NULL,
	    NULL, 0, PL_KAFKA_OFFSET_BEGINNING), 0);
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	PL_CHECK_EQ_INT(pl_kafka_produce(p, PL_TOPIC_MESSAGES, 3, "C1", 2,
	    "hello", 5, on_dr, NULL), 0);
	run_until(&got, 1, 10000);
	PL_CHECK_EQ_INT(dr_rv, 0);
	PL_CHECK_EQ_STR(got_val, "hello");

	pl_kafka_producer_stop(&p, 1000);
	pl_kafka_consumer_stop(&c);
	dk_cluster_fini();
	PL_CHECK(access(path, F_OK) != 0);
	pl_loop_free(&loop);
	event_base_free(base);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(cluster_up_topics_file_roundtrip),
};
PL_TEST_MAIN(tests)
