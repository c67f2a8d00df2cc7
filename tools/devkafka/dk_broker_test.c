/* dk_broker_test.c - devkafka's native engine: the wire primitives, the
 * partition log (offsets, binary search, retention, idempotent producers,
 * corrupt batches), and real librdkafka clients (lib/kafka.c) against the
 * broker running on its own thread: metadata, an idempotent produce with
 * acks=all, a consumer that waits in Fetch and gets the message as soon as it
 * is produced, 2,000 messages in order, and a restart from a stored offset. */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: dk_wire dk_log dk_api dk_shared */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "buf.h"
#include "clock.h"
#include "devkafka.h"
#include "dk_log.h"
#include "dk_wire.h"
#include "kafka.h"
#include "loop.h"
#include "names.h"
#include "ops.h"
#include "pl_test.h"

/* ---- wire and log ---- */

PL_TEST(crc32c_known_vector)
{
	PL_CHECK_EQ_INT(dk_crc32c("123456789", 9), 0xE3069283u);
	PL_CHECK_EQ_INT(dk_crc32c("", 0), 0);
}

PL_TEST(reader_bounds_and_varints)
{
	struct pl_buf b;
	struct dk_rd rd;
	struct dk_str s;

	pl_buf_init(&b);
	dk_wr_i16(&b, -2);
	dk_wr_i32(&b, 70000);
	dk_wr_i64(&b, -5);
	dk_wr_str(&b, "topic");
	dk_wr_str(&b, NULL);
	dk_wr_uvarint(&b, 300);
	dk_rd_init(&rd, b.data, b.len);
	PL_CHECK_EQ_INT(dk_rd_i16(&rd), -2);
	PL_CHECK_EQ_INT(dk_rd_i32(&rd), 70000);
	PL_CHECK_EQ_INT(dk_rd_i64(&rd), -5);
	s = dk_rd_str(&rd);
	PL_CHECK(s.len == 5 && memcmp(s.p, "topic", 5) == 0);
	PL_CHECK_EQ_INT(dk_rd_str(&rd).len, -1);
	PL_CHECK_EQ_INT(dk_rd_uvarint(&rd), 300);
	PL_CHECK_EQ_INT(rd.err, 0);
	(void)dk_rd_i8(&rd);			/* past the end */
	PL_CHECK_EQ_INT(rd.err, 1);
	/* an array count larger than what is left is an error, not a loop */
	pl_buf_reset(&b);
	dk_wr_i32(&b, 1000000);
	dk_rd_init(&rd, b.data, b.len);
	PL_CHECK_EQ_INT(dk_rd_array(&rd, 4), 0);
	PL_CHECK_EQ_INT(rd.err, 1);
	pl_buf_fini(&b);
}

/* batch - a v2 record batch of n records (empty bodies) by pid/seq */
static size_t
batch(uint8_t *out, int32_t n, int64_t pid, int16_t epoch, int32_t seq,
    int64_t ts, size_t pad)
{
	size_t len = DK_BATCH_HEADER + pad;
	struct pl_buf b;
	uint32_t crc;

	pl_buf_init(&b);
	dk_wr_i64(&b, 0);			/* base offset */
	dk_wr_i32(&b, (int32_t)(len - 12));
	dk_wr_i32(&b, 0);			/* leader epoch */
	dk_wr_i8(&b, 2);			/* magic */
	dk_wr_i32(&b, 0);			/* crc, below */
	dk_wr_i16(&b, 0);			/* attributes */
	dk_wr_i32(&b, n - 1);			/* last offset delta */
	dk_wr_i64(&b, ts);
	dk_wr_i64(&b, ts);
	dk_wr_i64(&b, pid);
	dk_wr_i16(&b, epoch);
	dk_wr_i32(&b, seq);
	dk_wr_i32(&b, n);
	while (b.len < len)
		dk_wr_i8(&b, 0);
	memcpy(out, b.data, len);
	crc = dk_crc32c(out + 21, len - 21);
	out[17] = (uint8_t)(crc >> 24);
	out[18] = (uint8_t)(crc >> 16);
	out[19] = (uint8_t)(crc >> 8);
	out[20] = (uint8_t)crc;
	pl_buf_fini(&b);
	return len;
}

PL_TEST(log_offsets_find_and_retention)
{
	uint8_t b[256];
	struct dk_part *p;
	int64_t base;
	size_t len;
	int i;

	dk_log_init(10 * (DK_BATCH_HEADER + 39));
	dk_log_topic_add("t", 2, 3);
	p = dk_log_part("t", 1, 1);
	PL_CHECK(p != NULL && dk_log_part("t", 1, 2) == NULL &&
	    dk_log_part("x", 1, 0) == NULL);
	for (i = 0; i < 30; i++) {
		len = batch(b, 3, -1, 0, 0, 1000 + i, 39);
		PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_NONE);
		PL_CHECK_EQ_INT(base, i * 3);
	}
	/* retention kept the newest 10 batches: offsets 60..89 */
	PL_CHECK_EQ_INT(p->n, 10);
	PL_CHECK_EQ_INT(p->start, 60);
	PL_CHECK_EQ_INT(p->end, 90);
	PL_CHECK_EQ_INT(dk_part_batch(p, dk_part_find(p, 61))->base, 60);
	PL_CHECK_EQ_INT(dk_part_batch(p, dk_part_find(p, 63))->base, 63);
	PL_CHECK_EQ_INT(dk_part_find(p, 90), p->n);
	/* the stored batch carries its offset */
	PL_CHECK_EQ_INT(dk_be64(dk_part_batch(p, 0)->data), 60);
	PL_CHECK_EQ_INT(dk_part_offset_for_ts(p, 1025), 75);
	PL_CHECK_EQ_INT(dk_part_offset_for_ts(p, 5000), -1);
	dk_log_fini();
}

PL_TEST(log_idempotent_producer_and_corruption)
{
	uint8_t b[256];
	struct dk_part *p;
	int64_t base;
	size_t len;

	dk_log_init(1 << 20);
	dk_log_topic_add("t", 1, 1);
	p = dk_log_part("t", 1, 0);
	len = batch(b, 2, 7, 0, 0, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_NONE);
	PL_CHECK_EQ_INT(base, 0);
	len = batch(b, 2, 7, 0, 2, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_NONE);
	PL_CHECK_EQ_INT(base, 2);
	/* a resend of seq 0..1: the original offset, nothing appended */
	len = batch(b, 2, 7, 0, 0, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_NONE);
	PL_CHECK_EQ_INT(base, 0);
	PL_CHECK_EQ_INT(p->end, 4);
	/* a gap in the sequence */
	len = batch(b, 1, 7, 0, 9, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base),
	    DK_ERR_OUT_OF_ORDER_SEQUENCE);
	/* an old epoch is fenced, a new one starts over */
	len = batch(b, 1, 7, 1, 0, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_NONE);
	len = batch(b, 1, 7, 0, 4, 1, 0);
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base),
	    DK_ERR_INVALID_PRODUCER_EPOCH);
	/* a flipped byte fails the CRC; a short batch is corrupt */
	len = batch(b, 1, -1, 0, 0, 1, 8);
	b[len - 1] ^= 1;
	PL_CHECK_EQ_INT(dk_part_append(p, b, len, &base), DK_ERR_CORRUPT_MESSAGE);
	PL_CHECK_EQ_INT(dk_part_append(p, b, 30, &base), DK_ERR_CORRUPT_MESSAGE);
	PL_CHECK_EQ_INT(p->end, 5);
	dk_log_fini();
}

/* ---- real clients against the broker on its own thread ---- */

static struct event_base *bk_base;

static void *
broker_thread(void *arg)
{
	event_base_dispatch(bk_base);
	return NULL;
}

static struct event_base *base;
/* pl_test.h's shared scaffolding, on this test's loop */
#define run_until(flag, want, ms) pl_test_run_until(base, (flag), (want), (ms))
static int got, dr_n, dr_fail;
static int64_t last_off;
static char first_val[32];
static int in_order = 1;

static void
on_msg(const struct pl_kafka_msg *m, void *arg)
{
	if (got == 0 && m->len < sizeof(first_val)) {
		memcpy(first_val, m->payload, m->len);
		first_val[m->len] = 0;
	}
	if (got > 0 && m->offset != last_off + 1)
		in_order = 0;
	last_off = m->offset;
	got++;
}

static void
on_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	dr_n++;
	if (rv != 0)
		dr_fail++;
}

PL_TEST(librdkafka_clients_against_native_broker)
{
	char dir[] = "/tmp/pl-dkn-test-XXXXXX", path[128], brokers[512] = "";
	struct pl_kafka_consumer *c = NULL;
	struct pl_kafka_producer *p = NULL;
	struct pl_loop *bk_loop, *loop;
	pthread_t th;
	uint64_t t0;
	char v[32];
	int i;
	FILE *f;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/run/kafka.brokers", dir);
	dk_conf.brokers = 3;
	dk_conf.partitions_messages = 8;
	dk_conf.partitions_events = 4;
	dk_conf.partitions_presence = 2;
	dk_conf.retention_bytes = 64 << 20;
	dk_conf.brokers_file = path;
	evthread_use_pthreads();		/* loopbreak from this thread */
	bk_base = event_base_new();
	bk_loop = pl_loop_event_create(bk_base);
	PL_CHECK_EQ_INT(dk_broker_init(bk_base, bk_loop), 0);
	PL_CHECK_EQ_INT(pthread_create(&th, NULL, broker_thread, NULL), 0);

	f = fopen(path, "r");
	PL_CHECK(f != NULL);
	if (f != NULL) {
		PL_CHECK(fgets(brokers, sizeof(brokers), f) != NULL);
		fclose(f);
	}
	brokers[strcspn(brokers, "\n")] = 0;
	PL_CHECK(strncmp(brokers, "127.0.0.1:", 10) == 0);

	base = event_base_new();
	loop = pl_loop_event_create(base);
	/* a long fetch wait: the broker must answer when data arrives */
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers,
	    "fetch.wait.max.ms=5000", on_msg, NULL, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_MESSAGES, 3000), 8);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_EVENTS, 3000), 4);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, PL_TOPIC_PRESENCE, 3000), 2);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, "no.such.topic", 1000) < 0, 1);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, PL_TOPIC_MESSAGES, NULL,
	    NULL, 0, PL_KAFKA_OFFSET_END), 0);
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	run_until(&got, 1, 1500);		/* the consumer settles at the end */

	t0 = pl_clock_mono_ms();
	PL_CHECK_EQ_INT(pl_kafka_produce(p, PL_TOPIC_MESSAGES, 3, "C1", 2,
	    "hello", 5, on_dr, NULL), 0);
	run_until(&got, 1, 10000);
	PL_CHECK_EQ_STR(first_val, "hello");
	PL_CHECK_EQ_INT(dr_fail, 0);
	/* well inside the 5 s fetch wait: answered when the data came */
	PL_CHECK(pl_clock_mono_ms() - t0 < 4000);

	for (i = 0; i < 2000; i++) {
		snprintf(v, sizeof(v), "m%d", i);
		PL_CHECK_EQ_INT(pl_kafka_produce(p, PL_TOPIC_MESSAGES, 3, "C1", 2,
		    v, strlen(v), on_dr, NULL), 0);
	}
	run_until(&got, 2001, 20000);
	PL_CHECK_EQ_INT(got, 2001);
	PL_CHECK_EQ_INT(dr_n, 2001);
	PL_CHECK_EQ_INT(dr_fail, 0);
	PL_CHECK_EQ_INT(in_order, 1);
	PL_CHECK_EQ_INT(last_off, 2000);
	pl_kafka_consumer_stop(&c);

	/* a second consumer from a stored position reads the rest */
	got = 0;
	in_order = 1;
	{
		int32_t part = 3;
		int64_t off = 1990;

		PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers,
		    "fetch.wait.max.ms=5000", on_msg, NULL, NULL, &c), 0);
		PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, PL_TOPIC_MESSAGES,
		    &part, &off, 1, 0), 0);
	}
	run_until(&got, 11, 10000);
	PL_CHECK_EQ_INT(got, 11);
	PL_CHECK_EQ_INT(last_off, 2000);

	pl_kafka_producer_stop(&p, 1000);
	pl_kafka_consumer_stop(&c);
	event_base_loopbreak(bk_base);
	pthread_join(th, NULL);
	dk_broker_fini();
	PL_CHECK(access(path, F_OK) != 0);
	pl_loop_free(&loop);
	pl_loop_free(&bk_loop);
	event_base_free(base);
	event_base_free(bk_base);
	snprintf(path, sizeof(path), "%s/run", dir);
	rmdir(path);
	rmdir(dir);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(crc32c_known_vector),
	PL_TEST_CASE(reader_bounds_and_varints),
	PL_TEST_CASE(log_offsets_find_and_retention),
	PL_TEST_CASE(log_idempotent_producer_and_corruption),
	PL_TEST_CASE(librdkafka_clients_against_native_broker),
};
PL_TEST_MAIN(tests)
