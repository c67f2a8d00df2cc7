/* kafka.c - librdkafka producer and explicitly-assigned consumer on the loop.
 *
 * Each handle puts one queue on the loop: librdkafka writes a byte to a
 * non-blocking pipe when an op lands on that (previously empty) queue
 * (rd_kafka_queue_io_event_enable), the loop sees the pipe readable, and the
 * loop thread drains the queue: delivery reports for the producer (main
 * queue, dr_msg_cb), messages/EOFs for the consumer (consumer queue, with the
 * main queue forwarded into it). Because the wake-up fires only on an empty →
 * non-empty transition, a drain either empties the queue or wakes itself
 * again by writing to its own pipe.
 *
 * The consumer never joins a group: partitions are added with
 * rd_kafka_incremental_assign at offsets the caller chooses, and nothing is
 * ever committed (the caller keeps positions, e.g. in PostgreSQL). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>

#include "err.h"
#include "kafka.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"

#define KAFKA_BATCH 512		/* messages per consume call */
#define KAFKA_DRAIN_ROUNDS 8	/* batches per wake-up before yielding */
#define PL_KAFKA_RESOLVE_TIMEOUT_MS 5000	/* ListOffsets for an assignment at the end */

/* ---- shared plumbing ---- */

/* the queue-on-loop part shared by producer and consumer */
struct kq {
	rd_kafka_queue_t *q;
	int pipe[2];
	struct pl_watch *w;
	int in_drain;	/* a drain is running on the loop thread */
	int dead;	/* stop was called during the drain */
};

static const struct {
	rd_kafka_resp_err_t err;
	int pl;
} kafka_errs[] = {
	{ RD_KAFKA_RESP_ERR__QUEUE_FULL, PL_EAGAIN },
	{ RD_KAFKA_RESP_ERR__MSG_TIMED_OUT, PL_ETIMEDOUT },
	{ RD_KAFKA_RESP_ERR__TIMED_OUT, PL_ETIMEDOUT },
	{ RD_KAFKA_RESP_ERR__PURGE_QUEUE, PL_ECLOSED },
	{ RD_KAFKA_RESP_ERR__PURGE_INFLIGHT, PL_ECLOSED },
	{ RD_KAFKA_RESP_ERR__DESTROY, PL_ECLOSED },
	{ RD_KAFKA_RESP_ERR__UNKNOWN_TOPIC, PL_ENOTFOUND },
	{ RD_KAFKA_RESP_ERR_UNKNOWN_TOPIC_OR_PART, PL_ENOTFOUND },
	{ RD_KAFKA_RESP_ERR__UNKNOWN_PARTITION, PL_ENOTFOUND },
	{ RD_KAFKA_RESP_ERR_MSG_SIZE_TOO_LARGE, PL_ETOOBIG },
	{ RD_KAFKA_RESP_ERR__INVALID_ARG, PL_EINVAL },
	{ RD_KAFKA_RESP_ERR__ALL_BROKERS_DOWN, PL_EUNAVAIL },
	{ RD_KAFKA_RESP_ERR__TRANSPORT, PL_EUNAVAIL },
};

static struct {
	struct pl_metric *produced_ok;
	struct pl_metric *produced_err;
	struct pl_metric *ack_s;
	struct pl_metric *consumed;
	struct pl_metric *consume_err;
} kafka_m;

/* kafka_metrics_init - register the series (again is harmless) */
static void
kafka_metrics_init(void)
{
	kafka_m.produced_ok = pl_metrics_counter("parley_kafka_produced_total",
	    "Messages produced, by delivery outcome.", "result=\"ok\"");
	kafka_m.produced_err = pl_metrics_counter("parley_kafka_produced_total",
	    "Messages produced, by delivery outcome.", "result=\"error\"");
	kafka_m.ack_s = pl_metrics_histogram("parley_kafka_ack_seconds",
	    "Produce to broker acknowledgement (acks=all).", NULL,
	    PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	kafka_m.consumed = pl_metrics_counter("parley_kafka_consumed_total",
	    "Messages handed to consumers.", NULL);
	kafka_m.consume_err = pl_metrics_counter("parley_kafka_consume_errors_total",
	    "Consumer errors reported by librdkafka.", NULL);
}

/* kafka_err - librdkafka error → PL_E* */
static int
kafka_err(rd_kafka_resp_err_t err)
{
	size_t i;

	if (err == RD_KAFKA_RESP_ERR_NO_ERROR)
		return 0;
	for (i = 0; i < sizeof(kafka_errs) / sizeof(kafka_errs[0]); i++)
		if (kafka_errs[i].err == err)
			return kafka_errs[i].pl;
	return PL_EIO;
}

/* kafka_log_cb - librdkafka's log lines, on our log (any thread). Its
 * "errors" are mostly transient broker connection failures that error_cb
 * reports as well, so they are warnings here. */
static void
kafka_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	enum pl_log_level lvl = level <= LOG_WARNING ? PL_LOG_WARN :
	    level <= LOG_INFO ? PL_LOG_INFO : PL_LOG_DEBUG;

	pl_log_at(lvl, "PL-KAFKA-LOG", "client=%s fac=%s msg=\"%s\"",
	    rd_kafka_name(rk), fac, buf);
}

/* kafka_error_cb - client-level errors (brokers down ...), loop thread */
static void
kafka_error_cb(rd_kafka_t *rk, int err, const char *reason, void *opaque)
{
	pl_log_warn("PL-KAFKA-ERROR", "client=%s err=%s reason=\"%s\"",
	    rd_kafka_name(rk), rd_kafka_err2name(err), reason);
}

/* kafka_conf_set - one property; logs a refusal */
static int
kafka_conf_set(rd_kafka_conf_t *conf, const char *k, const char *v)
{
	char errstr[256];

	if (rd_kafka_conf_set(conf, k, v, errstr, sizeof(errstr)) !=
	    RD_KAFKA_CONF_OK) {
		pl_log_error("PL-KAFKA-CONF", "key=%s value=%s err=\"%s\"", k, v,
		    errstr);
		return PL_EINVAL;
	}
	return 0;
}

/* kafka_conf_extra - apply "k=v,k=v". A piece without '=' continues the
 * previous value, so list values work: "debug=cgrp,fetch,linger.ms=1". */
static int
kafka_conf_extra(rd_kafka_conf_t *conf, const char *extra)
{
	char *copy, *p, *key = NULL, *eq, *comma;
	int rv = 0;

	if (extra == NULL || *extra == '\0')
		return 0;
	copy = pl_strdup(extra);
	for (p = copy; p != NULL && rv == 0; p = comma) {
		if ((comma = strchr(p, ',')) != NULL)
			*comma++ = '\0';
		if ((eq = strchr(p, '=')) == NULL) {
			if (key == NULL) {
				pl_log_error("PL-KAFKA-CONF", "entry=\"%s\" err=no_equals", p);
				rv = PL_EINVAL;
			} else {
				p[-1] = ',';	/* part of the previous value */
			}
			continue;
		}
		if (key != NULL)
			rv = kafka_conf_set(conf, key, key + strlen(key) + 1);
		*eq = '\0';
		key = p;
	}
	if (rv == 0 && key != NULL)
		rv = kafka_conf_set(conf, key, key + strlen(key) + 1);
	free(copy);
	return rv;
}

/* kafka_conf_new - base conf: brokers, logging, then the table, then extra */
static rd_kafka_conf_t *
kafka_conf_new(const char *brokers, const char *const (*kv)[2], size_t n,
    const char *extra)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	size_t i;

	rd_kafka_conf_set_log_cb(conf, kafka_log_cb);
	rd_kafka_conf_set_error_cb(conf, kafka_error_cb);
	if (kafka_conf_set(conf, "bootstrap.servers", brokers) != 0)
		goto fail;
	for (i = 0; i < n; i++)
		if (kafka_conf_set(conf, kv[i][0], kv[i][1]) != 0)
			goto fail;
	if (kafka_conf_extra(conf, extra) != 0)
		goto fail;
	return conf;
fail:
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* kq_kick - make the loop drain again (queue left non-empty) */
static void
kq_kick(struct kq *k)
{
	if (write(k->pipe[1], "1", 1) < 0 && errno != EAGAIN)
		pl_log_warn("PL-KAFKA-KICK", "err=%d", errno);
}

/* kq_clear - empty the wake-up pipe */
static void
kq_clear(struct kq *k)
{
	char b[64];

	while (read(k->pipe[0], b, sizeof(b)) > 0)
		;
}

/* kq_open - pipe + io event on q + loop watch */
static int
kq_open(struct kq *k, struct pl_loop *l, rd_kafka_queue_t *q, pl_loop_fn fn,
    void *arg)
{
	int rv;

	k->q = q;
	k->pipe[0] = k->pipe[1] = -1;
	if (pipe2(k->pipe, O_NONBLOCK | O_CLOEXEC) != 0) {
		pl_log_error("PL-KAFKA-PIPE", "err=%d", errno);
		return -errno;
	}
	if ((rv = pl_loop_watch(l, k->pipe[0], fn, arg, &k->w)) != 0)
		return rv;
	rd_kafka_queue_io_event_enable(q, k->pipe[1], "1", 1);
	/* ops queued before the io event was on (an early broker connection
	 * error, say) would keep the queue non-empty and so silence every
	 * later wake-up: drain once right away */
	kq_kick(k);
	return 0;
}

/* kq_close - undo kq_open (before rd_kafka_destroy) */
static void
kq_close(struct kq *k)
{
	if (k->q != NULL) {
		rd_kafka_queue_io_event_enable(k->q, -1, NULL, 0);
		rd_kafka_queue_destroy(k->q);
		k->q = NULL;
	}
	pl_loop_unwatch(&k->w);
	if (k->pipe[0] >= 0)
		close(k->pipe[0]);
	if (k->pipe[1] >= 0)
		close(k->pipe[1]);
	k->pipe[0] = k->pipe[1] = -1;
}

/* kafka_new - rd_kafka_new with the error logged; conf is consumed */
static rd_kafka_t *
kafka_new(rd_kafka_type_t type, rd_kafka_conf_t *conf)
{
	char errstr[512];
	rd_kafka_t *rk;

	if (conf == NULL)
		return NULL;
	rk = rd_kafka_new(type, conf, errstr, sizeof(errstr));
	if (rk == NULL) {
		pl_log_error("PL-KAFKA-NEW", "err=\"%s\"", errstr);
		rd_kafka_conf_destroy(conf);
	}
	return rk;
}

/* ==== producer ==== */

struct pl_kafka_producer {
	rd_kafka_t *rk;
	struct kq kq;
	int stop_timeout_ms;	/* for a stop deferred out of a report */
	pl_loop_fn drained;	/* after each drain's reports (may be NULL) */
	void *drained_arg;
};

/* one accepted message's report target */
struct kdr {
	pl_kafka_dr_fn cb;
	void *opaque;
	uint64_t start_us;
};

static const char *const producer_conf[][2] = {
	{ "enable.idempotence", "true" },
	{ "acks", "all" },
	{ "linger.ms", "0" },
	/* small requests must not wait for Nagle + delayed ACK (~40 ms) */
	{ "socket.nagle.disable", "true" },
	{ "client.id", "parley-producer" },
	{ "log.connection.close", "false" },
};

/* producer_dr_cb - one delivery report (loop thread, from rd_kafka_poll) */
static void
producer_dr_cb(rd_kafka_t *rk, const rd_kafka_message_t *m, void *opaque)
{
	struct kdr *dr = m->_private;
	int rv = kafka_err(m->err);

	if (m->err != 0 && rv != PL_ECLOSED)
		pl_log_warn("PL-KAFKA-DR-FAIL", "topic=%s partition=%" PRId32
		    " err=%s", rd_kafka_topic_name(m->rkt), m->partition,
		    rd_kafka_err2name(m->err));
	pl_metrics_inc(m->err ? kafka_m.produced_err : kafka_m.produced_ok);
	if (dr == NULL)
		return;
	if (m->err == 0)
		pl_metrics_observe(kafka_m.ack_s,
		    (double)(pl_clock_mono_us() - dr->start_us) / 1e6);
	if (dr->cb != NULL)
		dr->cb(rv, m->partition, m->err ? -1 : m->offset, dr->opaque);
	free(dr);
}

static void producer_destroy(struct pl_kafka_producer *p, int timeout_ms);

/* producer_drain - pipe readable: serve every queued delivery report */
static void
producer_drain(void *arg)
{
	struct pl_kafka_producer *p = arg;

	kq_clear(&p->kq);
	p->kq.in_drain = 1;
	rd_kafka_poll(p->rk, 0);
	if (p->drained != NULL && !p->kq.dead)
		p->drained(p->drained_arg);
	p->kq.in_drain = 0;
	if (p->kq.dead)
		producer_destroy(p, p->stop_timeout_ms);
}

/* pl_kafka_producer_start - idempotent acks=all producer on loop l */
int
pl_kafka_producer_start(struct pl_loop *l, const char *brokers,
    const char *extra_conf, struct pl_kafka_producer **r)
{
	struct pl_kafka_producer *p;
	rd_kafka_conf_t *conf;
	int rv;

	if (l == NULL || brokers == NULL || *brokers == '\0' || r == NULL)
		return PL_EINVAL;
	kafka_metrics_init();
	conf = kafka_conf_new(brokers, producer_conf,
	    sizeof(producer_conf) / sizeof(producer_conf[0]), extra_conf);
	if (conf == NULL)
		return PL_EINVAL;
	rd_kafka_conf_set_dr_msg_cb(conf, producer_dr_cb);
	p = pl_calloc(1, sizeof(*p));
	p->kq.pipe[0] = p->kq.pipe[1] = -1;
	if ((p->rk = kafka_new(RD_KAFKA_PRODUCER, conf)) == NULL) {
		free(p);
		return PL_EINVAL;
	}
	if ((rv = kq_open(&p->kq, l, rd_kafka_queue_get_main(p->rk),
	    producer_drain, p)) != 0) {
		kq_close(&p->kq);
		rd_kafka_destroy(p->rk);
		free(p);
		return rv;
	}
	pl_log_info("PL-KAFKA-PRODUCER-START", "brokers=%s", brokers);
	*r = p;
	return 0;
}

/* pl_kafka_producer_on_drained - fn(arg) after the delivery reports of each
 * wake-up have all been served: the place to write out what the reports
 * gathered (one command per batch instead of one per report) */
void
pl_kafka_producer_on_drained(struct pl_kafka_producer *p, pl_loop_fn fn, void *arg)
{
	p->drained = fn;
	p->drained_arg = arg;
}

/* pl_kafka_produce - enqueue a copy of key/val; cb fires exactly once */
int
pl_kafka_produce(struct pl_kafka_producer *p, const char *topic,
    int32_t partition, const void *key, size_t klen, const void *val,
    size_t vlen, pl_kafka_dr_fn cb, void *opaque)
{
	struct kdr *dr;
	rd_kafka_resp_err_t err;

	if (p == NULL || topic == NULL || p->kq.dead)
		return p != NULL && p->kq.dead ? PL_ECLOSED : PL_EINVAL;
	dr = pl_malloc(sizeof(*dr));
	dr->cb = cb;
	dr->opaque = opaque;
	dr->start_us = pl_clock_mono_us();
	err = rd_kafka_producev(p->rk,
	    RD_KAFKA_V_TOPIC(topic),
	    RD_KAFKA_V_PARTITION(partition < 0 ? RD_KAFKA_PARTITION_UA : partition),
	    RD_KAFKA_V_KEY((void *)key, klen),
	    RD_KAFKA_V_VALUE((void *)val, vlen),
	    RD_KAFKA_V_MSGFLAGS(RD_KAFKA_MSG_F_COPY),
	    RD_KAFKA_V_OPAQUE(dr),
	    RD_KAFKA_V_END);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		free(dr);
		if (err != RD_KAFKA_RESP_ERR__QUEUE_FULL)
			pl_log_warn("PL-KAFKA-PRODUCE-FAIL", "topic=%s err=%s",
			    topic, rd_kafka_err2name(err));
		return kafka_err(err);
	}
	return 0;
}

/* pl_kafka_producer_outq - messages and reports not yet handed back */
int
pl_kafka_producer_outq(const struct pl_kafka_producer *p)
{
	return p != NULL ? rd_kafka_outq_len(p->rk) : 0;
}

/* producer_destroy - flush, purge the rest (reports fire PL_ECLOSED), free */
static void
producer_destroy(struct pl_kafka_producer *p, int timeout_ms)
{
	rd_kafka_resp_err_t err;
	int i;

	/* with a dr_msg_cb, flush serves the main queue: reports fire here */
	err = rd_kafka_flush(p->rk, timeout_ms > 0 ? timeout_ms : 0);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR)
		pl_log_warn("PL-KAFKA-FLUSH", "left=%d", rd_kafka_outq_len(p->rk));
	rd_kafka_purge(p->rk, RD_KAFKA_PURGE_F_QUEUE | RD_KAFKA_PURGE_F_INFLIGHT |
	    RD_KAFKA_PURGE_F_NON_BLOCKING);
	for (i = 0; i < 100 && rd_kafka_outq_len(p->rk) > 0; i++)
		rd_kafka_poll(p->rk, 10);
	kq_close(&p->kq);
	rd_kafka_destroy(p->rk);
	pl_log_info("PL-KAFKA-PRODUCER-STOP", "unflushed=%d", i >= 100);
	free(p);
}

/* pl_kafka_producer_stop - flush up to timeout_ms, then destroy */
void
pl_kafka_producer_stop(struct pl_kafka_producer **pp, int timeout_ms)
{
	struct pl_kafka_producer *p;

	if (pp == NULL || (p = *pp) == NULL)
		return;
	*pp = NULL;
	if (p->kq.in_drain) {	/* called from a delivery report */
		p->kq.dead = 1;
		p->stop_timeout_ms = timeout_ms;
		return;
	}
	producer_destroy(p, timeout_ms);
}

/* ==== consumer ==== */

/* one assigned partition and the position we last handed out */
struct kpart {
	char *topic;
	int32_t partition;
	int64_t pos;	/* next offset to deliver, -1 unknown */
};

struct pl_kafka_consumer {
	rd_kafka_t *rk;
	struct kq kq;
	pl_kafka_msg_fn fn;
	pl_kafka_eof_fn eof;
	void *arg;
	struct kpart *parts;
	int nparts;
	int paused;
};

static const char *const consumer_conf[][2] = {
	{ "enable.auto.commit", "false" },
	{ "enable.auto.offset.store", "false" },
	{ "enable.partition.eof", "true" },
	{ "auto.offset.reset", "earliest" },
	{ "socket.nagle.disable", "true" },
	{ "client.id", "parley-consumer" },
	{ "log.connection.close", "false" },
};

/* cons_part - the kpart of topic/partition, NULL if not assigned */
static struct kpart *
cons_part(const struct pl_kafka_consumer *c, const char *topic, int32_t part)
{
	int i;

	for (i = 0; i < c->nparts; i++)
		if (c->parts[i].partition == part &&
		    strcmp(c->parts[i].topic, topic) == 0)
			return &c->parts[i];
	return NULL;
}

/* cons_deliver - one message, EOF or consumer error from the queue */
static void
cons_deliver(struct pl_kafka_consumer *c, const rd_kafka_message_t *m)
{
	const char *topic = m->rkt != NULL ? rd_kafka_topic_name(m->rkt) : "";
	struct kpart *kp = cons_part(c, topic, m->partition);
	struct pl_kafka_msg pm;
	rd_kafka_timestamp_type_t tt;

	if (m->err == RD_KAFKA_RESP_ERR__PARTITION_EOF) {
		if (kp != NULL)
			kp->pos = m->offset;
		if (c->eof != NULL)
			c->eof(topic, m->partition, m->offset, c->arg);
		return;
	}
	if (m->err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		pl_metrics_inc(kafka_m.consume_err);
		pl_log_warn("PL-KAFKA-CONSUME-ERR", "topic=%s partition=%" PRId32
		    " err=%s msg=\"%s\"", topic, m->partition,
		    rd_kafka_err2name(m->err), rd_kafka_message_errstr(m));
		return;
	}
	if (kp != NULL)
		kp->pos = m->offset + 1;
	pm.topic = topic;
	pm.partition = m->partition;
	pm.offset = m->offset;
	pm.timestamp_ms = rd_kafka_message_timestamp(m, &tt);
	pm.key = m->key;
	pm.key_len = m->key_len;
	pm.payload = m->payload;
	pm.len = m->len;
	pl_metrics_inc(kafka_m.consumed);
	c->fn(&pm, c->arg);
}

static void consumer_destroy(struct pl_kafka_consumer *c);

/* cons_rewind - paused in the middle of a batch: librdkafka counts every
 * message it handed us as consumed, so seek each partition back to its first
 * undelivered message; after resume those are fetched again */
static void
cons_rewind(struct pl_kafka_consumer *c, rd_kafka_message_t **msgs, ssize_t n)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;
	const char *topic;
	struct kpart *kp;
	ssize_t i;

	list = rd_kafka_topic_partition_list_new((int)n);
	for (i = 0; i < n; i++) {
		if (msgs[i]->err != RD_KAFKA_RESP_ERR_NO_ERROR || msgs[i]->rkt == NULL)
			continue;
		topic = rd_kafka_topic_name(msgs[i]->rkt);
		if (rd_kafka_topic_partition_list_find(list, topic,
		    msgs[i]->partition) != NULL)
			continue;
		rd_kafka_topic_partition_list_add(list, topic,
		    msgs[i]->partition)->offset = msgs[i]->offset;
		if ((kp = cons_part(c, topic, msgs[i]->partition)) != NULL)
			kp->pos = msgs[i]->offset;
	}
	if (list->cnt > 0 &&
	    (error = rd_kafka_seek_partitions(c->rk, list, 0)) != NULL) {
		pl_log_error("PL-KAFKA-REWIND", "err=\"%s\"",
		    rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
	}
	rd_kafka_topic_partition_list_destroy(list);
}

/* cons_batch - deliver msgs until a callback pauses or stops us; the
 * messages are destroyed here. Returns 1 when delivery must stop. */
static int
cons_batch(struct pl_kafka_consumer *c, rd_kafka_message_t **msgs, ssize_t n)
{
	ssize_t i;
	int stop = 0;

	for (i = 0; i < n; i++) {
		if (!stop && !c->kq.dead && !c->paused) {
			cons_deliver(c, msgs[i]);
			continue;
		}
		if (!stop && !c->kq.dead)
			cons_rewind(c, msgs + i, n - i);
		stop = 1;
		break;
	}
	for (i = 0; i < n; i++)
		rd_kafka_message_destroy(msgs[i]);
	return stop || c->kq.dead || c->paused;
}

/* consumer_drain - pipe readable: hand out what the queue holds */
static void
consumer_drain(void *arg)
{
	struct pl_kafka_consumer *c = arg;
	rd_kafka_message_t *msgs[KAFKA_BATCH];
	ssize_t n = 0;
	int round;

	kq_clear(&c->kq);
	c->kq.in_drain = 1;
	for (round = 0; round < KAFKA_DRAIN_ROUNDS && !c->kq.dead; round++) {
		n = rd_kafka_consume_batch_queue(c->kq.q, 0, msgs, KAFKA_BATCH);
		if (cons_batch(c, msgs, n) || n < KAFKA_BATCH)
			break;
	}
	c->kq.in_drain = 0;
	if (c->kq.dead) {
		consumer_destroy(c);
		return;
	}
	if (n == KAFKA_BATCH)	/* more may wait: come back after other work */
		kq_kick(&c->kq);
}

/* pl_kafka_consumer_start - an unassigned consumer; see pl_kafka_consumer_assign */
int
pl_kafka_consumer_start(struct pl_loop *l, const char *brokers,
    const char *extra_conf, pl_kafka_msg_fn fn, pl_kafka_eof_fn eof,
    void *arg, struct pl_kafka_consumer **r)
{
	static unsigned seq;
	struct pl_kafka_consumer *c;
	rd_kafka_conf_t *conf;
	char group[96];
	int rv;

	if (l == NULL || brokers == NULL || *brokers == '\0' || fn == NULL ||
	    r == NULL)
		return PL_EINVAL;
	kafka_metrics_init();
	conf = kafka_conf_new(brokers, consumer_conf,
	    sizeof(consumer_conf) / sizeof(consumer_conf[0]), extra_conf);
	if (conf == NULL)
		return PL_EINVAL;
	/* a group id is needed for the consumer queue; it is never joined
	 * (no subscribe) and never committed to */
	snprintf(group, sizeof(group), "parley-assign-%d-%u", (int)getpid(), seq++);
	if (kafka_conf_set(conf, "group.id", group) != 0) {
		rd_kafka_conf_destroy(conf);
		return PL_EINVAL;
	}
	c = pl_calloc(1, sizeof(*c));
	c->fn = fn;
	c->eof = eof;
	c->arg = arg;
	c->kq.pipe[0] = c->kq.pipe[1] = -1;
	if ((c->rk = kafka_new(RD_KAFKA_CONSUMER, conf)) == NULL) {
		free(c);
		return PL_EINVAL;
	}
	rd_kafka_poll_set_consumer(c->rk);	/* errors come through the same queue */
	if ((rv = kq_open(&c->kq, l, rd_kafka_queue_get_consumer(c->rk),
	    consumer_drain, c)) != 0) {
		kq_close(&c->kq);
		rd_kafka_destroy(c->rk);
		free(c);
		return rv;
	}
	pl_log_info("PL-KAFKA-CONSUMER-START", "brokers=%s", brokers);
	*r = c;
	return 0;
}

/* cons_add_part - remember an assigned partition (replacing a previous one) */
static void
cons_add_part(struct pl_kafka_consumer *c, const char *topic, int32_t part,
    int64_t off)
{
	struct kpart *kp = cons_part(c, topic, part);

	if (kp == NULL) {
		c->parts = pl_realloc(c->parts, (size_t)(c->nparts + 1) *
		    sizeof(*c->parts));
		kp = &c->parts[c->nparts++];
		kp->topic = pl_strdup(topic);
		kp->partition = part;
	}
	kp->pos = off >= 0 ? off : -1;
}

/* cons_resolve_end - replace the logical "end" of every partition in list
 * by its current high watermark (one ListOffsets round, blocking up to
 * PL_KAFKA_RESOLVE_TIMEOUT_MS). Assigned at the logical end, librdkafka
 * looks the offset up later, on its own thread: a message produced between
 * the assignment and that look-up would be skipped, although the caller
 * (a gateway's /readyz) already said it consumes. */
static int
cons_resolve_end(struct pl_kafka_consumer *c, const char *topic,
    rd_kafka_topic_partition_list_t *list)
{
	rd_kafka_resp_err_t err;
	int i;

	/* a timestamp of -1 asks ListOffsets for the latest offset */
	err = rd_kafka_offsets_for_times(c->rk, list, PL_KAFKA_RESOLVE_TIMEOUT_MS);
	for (i = 0; err == RD_KAFKA_RESP_ERR_NO_ERROR && i < list->cnt; i++) {
		if (list->elems[i].err != RD_KAFKA_RESP_ERR_NO_ERROR)
			err = list->elems[i].err;
		else if (list->elems[i].offset < 0)
			err = RD_KAFKA_RESP_ERR__BAD_MSG;
	}
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		pl_log_warn("PL-KAFKA-END-OFFSETS", "topic=%s err=\"%s\"", topic,
		    rd_kafka_err2str(err));
		return PL_EIO;
	}
	return 0;
}

/* pl_kafka_consumer_assign - add partitions of topic at the given offsets */
int
pl_kafka_consumer_assign(struct pl_kafka_consumer *c, const char *topic,
    const int32_t *partitions, const int64_t *offsets, int n,
    int64_t start_offset)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;
	int i, cnt, rv = 0;

	if (c == NULL || topic == NULL)
		return PL_EINVAL;
	if (partitions == NULL) {
		if ((cnt = pl_kafka_partition_count(c, topic, 5000)) < 0)
			return cnt;
		n = cnt;
	}
	if (n <= 0)
		return PL_EINVAL;
	list = rd_kafka_topic_partition_list_new(n);
	for (i = 0; i < n; i++) {
		int32_t part = partitions != NULL ? partitions[i] : i;
		int64_t off = offsets != NULL ? offsets[i] : start_offset;

		rd_kafka_topic_partition_list_add(list, topic, part)->offset = off;
	}
	if (offsets == NULL && start_offset == PL_KAFKA_OFFSET_END &&
	    (rv = cons_resolve_end(c, topic, list)) != 0)
		goto out;
	if ((error = rd_kafka_incremental_assign(c->rk, list)) != NULL) {
		pl_log_error("PL-KAFKA-ASSIGN", "topic=%s err=\"%s\"", topic,
		    rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rv = PL_EIO;
		goto out;
	}
	for (i = 0; i < list->cnt; i++)
		cons_add_part(c, topic, list->elems[i].partition,
		    list->elems[i].offset);
	pl_log_info("PL-KAFKA-ASSIGN", "topic=%s partitions=%d start=%" PRId64,
	    topic, n, start_offset);
out:
	rd_kafka_topic_partition_list_destroy(list);
	return rv;
}

/* pl_kafka_partition_count - partitions of topic from a metadata request */
int
pl_kafka_partition_count(struct pl_kafka_consumer *c, const char *topic,
    int timeout_ms)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_topic_t *rkt;
	rd_kafka_resp_err_t err;
	int rv;

	if (c == NULL || topic == NULL)
		return PL_EINVAL;
	rkt = rd_kafka_topic_new(c->rk, topic, NULL);
	if (rkt == NULL)
		return PL_EINVAL;
	err = rd_kafka_metadata(c->rk, 0, rkt, &md, timeout_ms);
	if (err == RD_KAFKA_RESP_ERR_NO_ERROR && md->topic_cnt == 1)
		err = md->topics[0].err;
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		pl_log_warn("PL-KAFKA-METADATA", "topic=%s err=%s", topic,
		    rd_kafka_err2name(err));
		rv = kafka_err(err);
	} else {
		rv = md->topic_cnt == 1 ? md->topics[0].partition_cnt : PL_ENOTFOUND;
	}
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	rd_kafka_topic_destroy(rkt);
	return rv;
}

/* pl_kafka_consumer_seek - the next message of topic/partition is at offset */
int
pl_kafka_consumer_seek(struct pl_kafka_consumer *c, const char *topic,
    int32_t partition, int64_t offset)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_error_t *error;
	struct kpart *kp;
	int rv = 0;

	if (c == NULL || topic == NULL)
		return PL_EINVAL;
	if ((kp = cons_part(c, topic, partition)) == NULL)
		return PL_ENOTFOUND;
	list = rd_kafka_topic_partition_list_new(1);
	rd_kafka_topic_partition_list_add(list, topic, partition)->offset = offset;
	/* timeout 0: asynchronous; messages fetched from the old position
	 * are discarded by librdkafka's version barrier */
	if ((error = rd_kafka_seek_partitions(c->rk, list, 0)) != NULL) {
		pl_log_error("PL-KAFKA-SEEK", "topic=%s partition=%" PRId32
		    " err=\"%s\"", topic, partition, rd_kafka_error_string(error));
		rd_kafka_error_destroy(error);
		rv = PL_EIO;
	} else {
		kp->pos = offset >= 0 ? offset : -1;
		kq_kick(&c->kq);
	}
	rd_kafka_topic_partition_list_destroy(list);
	return rv;
}

/* cons_list - every assigned partition as a librdkafka list */
static rd_kafka_topic_partition_list_t *
cons_list(const struct pl_kafka_consumer *c)
{
	rd_kafka_topic_partition_list_t *list;
	int i;

	list = rd_kafka_topic_partition_list_new(c->nparts > 0 ? c->nparts : 1);
	for (i = 0; i < c->nparts; i++)
		rd_kafka_topic_partition_list_add(list, c->parts[i].topic,
		    c->parts[i].partition);
	return list;
}

/* pl_kafka_consumer_pause - pause (1) or resume (0) every partition */
int
pl_kafka_consumer_pause(struct pl_kafka_consumer *c, int pause)
{
	rd_kafka_topic_partition_list_t *list;
	rd_kafka_resp_err_t err;

	if (c == NULL)
		return PL_EINVAL;
	list = cons_list(c);
	err = pause ? rd_kafka_pause_partitions(c->rk, list) :
	    rd_kafka_resume_partitions(c->rk, list);
	rd_kafka_topic_partition_list_destroy(list);
	if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
		pl_log_error("PL-KAFKA-PAUSE", "pause=%d err=%s", pause,
		    rd_kafka_err2name(err));
		return kafka_err(err);
	}
	c->paused = pause;
	/* a drain cut short by the pause may have left ops in the queue, and
	 * the wake-up only fires on empty → non-empty: drain once more */
	if (!pause)
		kq_kick(&c->kq);
	return 0;
}

/* pl_kafka_consumer_lag - sum of cached high watermark - our position */
int64_t
pl_kafka_consumer_lag(const struct pl_kafka_consumer *c)
{
	int64_t lag = 0, lo, hi;
	int i;

	if (c == NULL || c->nparts == 0)
		return -1;
	for (i = 0; i < c->nparts; i++) {
		const struct kpart *kp = &c->parts[i];

		if (rd_kafka_get_watermark_offsets(c->rk, kp->topic,
		    kp->partition, &lo, &hi) != RD_KAFKA_RESP_ERR_NO_ERROR ||
		    hi < 0 || kp->pos < 0)
			return -1;
		lag += hi > kp->pos ? hi - kp->pos : 0;
	}
	return lag;
}

/* consumer_destroy - close (no group to leave), free */
static void
consumer_destroy(struct pl_kafka_consumer *c)
{
	rd_kafka_resp_err_t err;
	int i;

	kq_close(&c->kq);
	if ((err = rd_kafka_consumer_close(c->rk)) != RD_KAFKA_RESP_ERR_NO_ERROR)
		pl_log_warn("PL-KAFKA-CONSUMER-CLOSE", "err=%s",
		    rd_kafka_err2name(err));
	rd_kafka_destroy(c->rk);
	for (i = 0; i < c->nparts; i++)
		free(c->parts[i].topic);
	free(c->parts);
	pl_log_info("PL-KAFKA-CONSUMER-STOP", "partitions=%d", c->nparts);
	free(c);
}

/* pl_kafka_consumer_stop - stop delivering and free (deferred when called
 * from a message callback) */
void
pl_kafka_consumer_stop(struct pl_kafka_consumer **cp)
{
	struct pl_kafka_consumer *c;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	*cp = NULL;
	if (c->kq.in_drain) {
		c->kq.dead = 1;
		return;
	}
	consumer_destroy(c);
}
