/* kafka_test.c - producer and consumer against an in-process librdkafka mock
 * cluster (3 brokers), on a libevent loop. */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <event2/event.h>
#include <unistd.h>
#include <uv.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "err.h"
#include "kafka.h"
#include "loop.h"
#include "pl_test.h"

#define TOPIC "pl.test"
#define NPART 4
#define NKEYS 5
#define NMSG 200
#define FAST "fetch.wait.max.ms=2"

static struct event_base *base;
/* pl_test.h's shared scaffolding, on this test's loop */
#define run_until(flag, want, ms) pl_test_run_until(base, (flag), (want), (ms))
static struct pl_loop *loop;
static rd_kafka_t *mock_rk;
static rd_kafka_mock_cluster_t *mc;
static const char *brokers;

static void
run_for(int ms)
{
	static const int never = 0;

	run_until(&never, 1, ms);
}

/* ---- produce side ---- */

static struct {
	int n, ok;
	int32_t part_of_key[NKEYS];
	int64_t last_off[NPART];
	int offsets_bad, keys_bad;
} D;

struct sent {
	int key;
	int seq;
};
static struct sent sent[NMSG + 100];

static void
on_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	struct sent *s = opaque;

	D.n++;
	if (rv != 0 || partition < 0 || partition >= NPART)
		return;
	D.ok++;
	if (offset <= D.last_off[partition])
		D.offsets_bad++;
	D.last_off[partition] = offset;
	if (D.part_of_key[s->key] < 0)
		D.part_of_key[s->key] = partition;
	else if (D.part_of_key[s->key] != partition)
		D.keys_bad++;
}

/* produce msgs [from, to): key k<i%NKEYS>, value "<key>:<seq>" */
static void
produce_range(struct pl_kafka_producer *p, int from, int to)
{
	char key[8], val[32];
	int i;

	for (i = from; i < to; i++) {
		sent[i].key = i % NKEYS;
		sent[i].seq = i;
		snprintf(key, sizeof(key), "k%d", sent[i].key);
		snprintf(val, sizeof(val), "%d:%d", sent[i].key, i);
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, -1, key, strlen(key),
		    val, strlen(val), on_dr, &sent[i]), 0);
	}
}

/* ---- consume side ---- */

static struct {
	int n;
	int last_seq[NKEYS];
	int order_bad;
	int eofs;
	int64_t first_off_p0;
	int p0_count;
} C;

static void
on_msg(const struct pl_kafka_msg *m, void *arg)
{
	int key = -1, seq = -1;
	char buf[32];

	C.n++;
	if (m->len >= sizeof(buf))
		return;
	memcpy(buf, m->payload, m->len);
	buf[m->len] = 0;
	if (sscanf(buf, "%d:%d", &key, &seq) != 2 || key < 0 || key >= NKEYS)
		return;
	if (seq <= C.last_seq[key])
		C.order_bad++;
	C.last_seq[key] = seq;
	if (m->partition == 0) {
		if (C.p0_count++ == 0)
			C.first_off_p0 = m->offset;
	}
}

static void
on_eof(const char *topic, int32_t partition, int64_t offset, void *arg)
{
	C.eofs++;
}

static void
reset_consumed(void)
{
	memset(&C, 0, sizeof(C));
	for (int k = 0; k < NKEYS; k++)
		C.last_seq[k] = -1;
	C.first_off_p0 = -1;
}

static void
setup(void)
{
	char errstr[256];
	rd_kafka_conf_t *conf = rd_kafka_conf_new();

	rd_kafka_conf_set(conf, "log_level", "3", errstr, sizeof(errstr));
	mock_rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr, sizeof(errstr));
	if (mock_rk == NULL)
		abort();
	mc = rd_kafka_mock_cluster_new(mock_rk, 3);
	if (mc == NULL)
		abort();
	rd_kafka_mock_topic_create(mc, TOPIC, NPART, 3);
	brokers = rd_kafka_mock_cluster_bootstraps(mc);
	base = event_base_new();
	loop = pl_loop_event_create(base);
	memset(&D, 0, sizeof(D));
	for (int k = 0; k < NKEYS; k++)
		D.part_of_key[k] = -1;
	for (int p = 0; p < NPART; p++)
		D.last_off[p] = -1;
	reset_consumed();
}

static void
teardown(void)
{
	pl_loop_free(&loop);
	event_base_free(base);
	rd_kafka_mock_cluster_destroy(mc);
	rd_kafka_destroy(mock_rk);
}

PL_TEST(produce_consume_order_eof_lag)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;

	setup();
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	produce_range(p, 0, NMSG);
	run_until(&D.n, NMSG, 10000);
	PL_CHECK_EQ_INT(D.ok, NMSG);
	PL_CHECK_EQ_INT(D.offsets_bad, 0);
	PL_CHECK_EQ_INT(D.keys_bad, 0);
	PL_CHECK_EQ_INT(pl_kafka_producer_outq(p), 0);

	/* list values in extra_conf; bad entries are refused */
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, "nonsense", on_msg,
	    on_eof, NULL, &c), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST ",no.such=1",
	    on_msg, on_eof, NULL, &c), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers,
	    "debug=consumer,cgrp," FAST ",client.id=t", on_msg, on_eof, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_partition_count(c, TOPIC, 5000), NPART);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, NULL, NULL, 0,
	    PL_KAFKA_OFFSET_BEGINNING), 0);
	/* a partition may report EOF more than once (after a re-fetch), so
	 * wait for the messages first, then for the EOFs */
	run_until(&C.n, NMSG, 10000);
	run_until(&C.eofs, NPART, 10000);
	PL_CHECK_EQ_INT(C.n, NMSG);
	PL_CHECK_EQ_INT(C.order_bad, 0);
	PL_CHECK(C.eofs >= NPART);
	PL_CHECK_EQ_INT(pl_kafka_consumer_lag(c), 0);

	/* more messages while consuming: live delivery, then EOF again */
	produce_range(p, NMSG, NMSG + 50);
	run_until(&C.n, NMSG + 50, 10000);
	PL_CHECK_EQ_INT(C.n, NMSG + 50);
	PL_CHECK_EQ_INT(C.order_bad, 0);
	run_until(&D.n, NMSG + 50, 5000);
	PL_CHECK_EQ_INT(D.ok, NMSG + 50);

	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 2000);
	PL_CHECK(c == NULL && p == NULL);
	teardown();
}

PL_TEST(seek_and_pause)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;
	int32_t part0 = 0;
	int64_t off0 = 0;
	int before, p0;

	setup();
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, "linger.ms=1", &p), 0);
	/* all on partition 0, explicit */
	for (int i = 0; i < 20; i++) {
		char val[32];

		snprintf(val, sizeof(val), "0:%d", i);
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, 0, "k0", 2, val,
		    strlen(val), on_dr, &sent[i]), 0);
	}
	run_until(&D.n, 20, 10000);
	PL_CHECK_EQ_INT(D.ok, 20);
	PL_CHECK_EQ_INT(D.last_off[0], 19);

	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST, on_msg,
	    on_eof, NULL, &c), 0);
	/* start from an explicit offset 5 */
	off0 = 5;
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, &part0, &off0, 1, 0), 0);
	run_until(&C.n, 15, 10000);
	run_until(&C.eofs, 1, 10000);
	PL_CHECK_EQ_INT(C.n, 15);
	PL_CHECK_EQ_INT(C.first_off_p0, 5);

	/* seek back to 0: everything again */
	reset_consumed();
	PL_CHECK_EQ_INT(pl_kafka_consumer_seek(c, TOPIC, 0, 0), 0);
	run_until(&C.n, 20, 10000);
	PL_CHECK_EQ_INT(C.n, 20);
	PL_CHECK_EQ_INT(C.first_off_p0, 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_seek(c, TOPIC, 3, 0), PL_ENOTFOUND);

	/* paused: nothing arrives; resumed: the rest arrives, none twice */
	run_for(100);
	PL_CHECK_EQ_INT(pl_kafka_consumer_pause(c, 1), 0);
	before = C.n;
	p0 = C.p0_count;
	for (int i = 20; i < 30; i++) {
		char val[32];

		snprintf(val, sizeof(val), "0:%d", i);
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, 0, "k0", 2, val,
		    strlen(val), on_dr, &sent[i]), 0);
	}
	run_until(&D.n, 30, 10000);
	run_for(300);
	PL_CHECK_EQ_INT(C.n, before);
	PL_CHECK_EQ_INT(pl_kafka_consumer_pause(c, 0), 0);
	run_until(&C.n, before + 10, 10000);
	run_for(100);
	PL_CHECK_EQ_INT(C.n, before + 10);
	PL_CHECK_EQ_INT(C.p0_count, p0 + 10);
	PL_CHECK_EQ_INT(C.order_bad, 0);

	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 2000);
	teardown();
}

/* brokers down: accepted messages are purged at stop, reports PL_ECLOSED */
static int closed_n, closed_rv;

static void
on_dr_closed(int rv, int32_t partition, int64_t offset, void *opaque)
{
	closed_n++;
	closed_rv = rv;
}

PL_TEST(stop_reports_unflushed_closed)
{
	struct pl_kafka_producer *p = NULL;

	setup();
	for (int b = 1; b <= 3; b++)
		rd_kafka_mock_broker_set_down(mc, b);
	closed_n = 0;
	closed_rv = 1;
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	for (int i = 0; i < 5; i++)
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, -1, "k", 1, "v", 1,
		    on_dr_closed, NULL), 0);
	run_for(100);
	PL_CHECK_EQ_INT(closed_n, 0);
	PL_CHECK(pl_kafka_producer_outq(p) >= 5);	/* + queued error events */
	pl_kafka_producer_stop(&p, 200);
	PL_CHECK_EQ_INT(closed_n, 5);
	PL_CHECK_EQ_INT(closed_rv, PL_ECLOSED);
	teardown();
}

/* many messages on a libuv loop: batches larger than one drain */
static int uv_got;

static void
on_msg_count(const struct pl_kafka_msg *m, void *arg)
{
	uv_got++;
}

PL_TEST(libuv_many_messages)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;
	struct pl_loop *ul;
	uv_loop_t uv;
	char val[16];
	int i, n = 3000;

	setup();
	uv_loop_init(&uv);
	ul = pl_loop_uv_create(&uv);
	uv_got = 0;
	D.n = 0;
	PL_CHECK_EQ_INT(pl_kafka_producer_start(ul, brokers, "linger.ms=5", &p), 0);
	for (i = 0; i < n; i++) {
		snprintf(val, sizeof(val), "%d", i);
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, i % NPART, NULL, 0, val,
		    strlen(val), NULL, NULL), 0);
	}
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(ul, brokers, FAST, on_msg_count,
	    NULL, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, NULL, NULL, 0,
	    PL_KAFKA_OFFSET_BEGINNING), 0);
	for (i = 0; i < 5000 && uv_got < n; i++)
		uv_run(&uv, UV_RUN_NOWAIT), usleep(2000);
	PL_CHECK_EQ_INT(uv_got, n);
	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 2000);
	pl_loop_free(&ul);
	uv_run(&uv, UV_RUN_DEFAULT);
	PL_CHECK_EQ_INT(uv_loop_close(&uv), 0);
	teardown();
}

/* pausing from inside the message callback stops delivery at once; the
 * rest of the fetched batch comes after resume, each message once */
static struct pl_kafka_consumer *pause_c;
static int pc_n, pc_dups, pc_after_pause;
static int64_t pc_seen[64];
static int pc_paused;
static int stop_self;

static void
on_msg_pause(const struct pl_kafka_msg *m, void *arg)
{
	if (stop_self) {
		pc_n++;
		pl_kafka_consumer_stop(&pause_c);
		return;
	}
	if (pc_paused)
		pc_after_pause++;
	if (m->offset >= 0 && m->offset < 64 && pc_seen[m->offset]++)
		pc_dups++;
	if (++pc_n == 5) {
		PL_CHECK_EQ_INT(pl_kafka_consumer_pause(pause_c, 1), 0);
		pc_paused = 1;
	}
}

PL_TEST(pause_inside_callback)
{
	struct pl_kafka_producer *p = NULL;
	int32_t part0 = 0;

	setup();
	memset(pc_seen, 0, sizeof(pc_seen));
	pc_n = pc_dups = pc_after_pause = pc_paused = 0;
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	for (int i = 0; i < 20; i++)
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, 0, NULL, 0, "x", 1,
		    on_dr, &sent[i]), 0);
	run_until(&D.n, 20, 10000);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST,
	    on_msg_pause, NULL, NULL, &pause_c), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(pause_c, TOPIC, &part0, NULL, 1,
	    PL_KAFKA_OFFSET_BEGINNING), 0);
	run_until(&pc_n, 5, 10000);
	run_for(300);
	PL_CHECK_EQ_INT(pc_n, 5);
	PL_CHECK_EQ_INT(pc_after_pause, 0);
	pc_paused = 0;
	PL_CHECK_EQ_INT(pl_kafka_consumer_pause(pause_c, 0), 0);
	run_until(&pc_n, 20, 10000);
	run_for(200);
	PL_CHECK_EQ_INT(pc_n, 20);
	PL_CHECK_EQ_INT(pc_dups, 0);
	/* a consumer may stop itself from its message callback */
	pc_n = 0;
	stop_self = 1;
	PL_CHECK_EQ_INT(pl_kafka_consumer_seek(pause_c, TOPIC, 0, 0), 0);
	run_until(&pc_n, 1, 5000);
	run_for(100);
	PL_CHECK_EQ_INT(pc_n, 1);
	PL_CHECK(pause_c == NULL);
	stop_self = 0;
	pl_kafka_producer_stop(&p, 1000);
	teardown();
}

/* a broker goes down and comes back: every accepted message is still
 * acknowledged (the idempotent producer retries), none is lost */
static void
broker_up_cb(void *arg)
{
	rd_kafka_mock_broker_set_up(mc, 1);
}

PL_TEST(broker_bounce_no_loss)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;
	struct pl_timer *t = NULL;
	char val[16];

	setup();
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	produce_range(p, 0, 10);
	run_until(&D.n, 10, 10000);
	rd_kafka_mock_broker_set_down(mc, 1);
	for (int i = 10; i < 60; i++) {
		snprintf(val, sizeof(val), "%d:%d", i % NKEYS, i);
		sent[i].key = i % NKEYS;
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, i % NPART, NULL, 0, val,
		    strlen(val), on_dr, &sent[i]), 0);
	}
	PL_CHECK_EQ_INT(pl_loop_timer(loop, 500, 0, broker_up_cb, NULL, &t), 0);
	run_until(&D.n, 60, 15000);
	PL_CHECK_EQ_INT(D.n, 60);
	PL_CHECK_EQ_INT(D.ok, 60);
	PL_CHECK_EQ_INT(D.offsets_bad, 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST, on_msg,
	    on_eof, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, NULL, NULL, 0,
	    PL_KAFKA_OFFSET_BEGINNING), 0);
	run_until(&C.n, 60, 10000);
	run_until(&C.eofs, NPART, 10000);
	run_for(100);
	PL_CHECK_EQ_INT(C.n, 60);	/* none lost, none duplicated */
	pl_loop_timer_stop(&t);
	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 1000);
	teardown();
}

/* a consumer and a producer started while a broker is down: an error op
 * queued before the io event was enabled must not silence the queue
 * (regression: it stalled about one run in three) */
PL_TEST(start_while_broker_down)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;
	struct pl_timer *t = NULL;

	setup();
	rd_kafka_mock_broker_set_down(mc, 1);
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, NULL, &p), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST, on_msg,
	    on_eof, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, NULL, NULL, 0,
	    PL_KAFKA_OFFSET_BEGINNING), 0);
	produce_range(p, 0, 40);
	PL_CHECK_EQ_INT(pl_loop_timer(loop, 300, 0, broker_up_cb, NULL, &t), 0);
	run_until(&D.n, 40, 15000);
	run_until(&C.n, 40, 15000);
	PL_CHECK_EQ_INT(D.ok, 40);
	PL_CHECK_EQ_INT(C.n, 40);
	PL_CHECK_EQ_INT(C.order_bad, 0);
	pl_loop_timer_stop(&t);
	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 1000);
	teardown();
}

/* an assignment at the end is at a real offset when it returns: the
 * message produced right after it is the first one consumed (regression:
 * the logical end was looked up later, and that message could be skipped) */
PL_TEST(assign_at_end_resolves_now)
{
	struct pl_kafka_producer *p = NULL;
	struct pl_kafka_consumer *c = NULL;
	int32_t part0 = 0;

	setup();
	PL_CHECK_EQ_INT(pl_kafka_producer_start(loop, brokers, "linger.ms=1", &p), 0);
	for (int i = 0; i < 20; i++)
		PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, 0, "k0", 2, "0:0", 3,
		    on_dr, &sent[i]), 0);
	run_until(&D.n, 20, 10000);
	PL_CHECK_EQ_INT(D.ok, 20);
	PL_CHECK_EQ_INT(D.last_off[0], 19);
	PL_CHECK_EQ_INT(pl_kafka_consumer_start(loop, brokers, FAST, on_msg,
	    on_eof, NULL, &c), 0);
	PL_CHECK_EQ_INT(pl_kafka_consumer_assign(c, TOPIC, &part0, NULL, 1,
	    PL_KAFKA_OFFSET_END), 0);
	PL_CHECK_EQ_INT(pl_kafka_produce(p, TOPIC, 0, "k0", 2, "0:1000", 6,
	    on_dr, &sent[20]), 0);
	run_until(&C.n, 1, 10000);
	run_for(100);
	PL_CHECK_EQ_INT(C.n, 1);
	PL_CHECK_EQ_INT(C.first_off_p0, 20);
	pl_kafka_consumer_stop(&c);
	pl_kafka_producer_stop(&p, 1000);
	teardown();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(assign_at_end_resolves_now),
	PL_TEST_CASE(start_while_broker_down),
	PL_TEST_CASE(broker_bounce_no_loss),
	PL_TEST_CASE(pause_inside_callback),
	PL_TEST_CASE(stop_reports_unflushed_closed),
	PL_TEST_CASE(libuv_many_messages),
	PL_TEST_CASE(produce_consume_order_eof_lag),
	PL_TEST_CASE(seek_and_pause),
};
PL_TEST_MAIN(tests)
