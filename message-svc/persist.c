/* persist.c - the log -> PostgreSQL writer of this shard.
 *
 * A consumer is assigned exactly this shard's partitions of parley.messages
 * (partition % shard_count == shard_index), starting at the offsets stored
 * in kafka_offsets. Events queue up in memory and go to PostgreSQL in batches
 * through ms_apply_batch(): one statement, so the rows and the new offsets
 * commit in the same transaction, idempotently (ON CONFLICT DO NOTHING).
 *
 * PostgreSQL down: the batch stays in memory and is retried with backoff;
 * when the queue passes its bound the consumer pauses. Nothing is committed
 * out of order and nothing is skipped; a crash restarts from the stored
 * offsets.
 *
 * Poison rows: when PostgreSQL refuses a batch for its data (an SQLSTATE
 * that pl_pg_data_error classes so: invalid UTF-8, a constraint, an index
 * row over btree's limit), resending it would fail forever and the shard
 * would never commit an offset again. The batch is split instead: the
 * failing range is bisected (halve on a data error, same size on success)
 * until one event fails alone; that event goes to message_quarantine with
 * the error, a tombstone keeps its seq in channel_events, and its offset
 * commits in the same transaction (ms_quarantine_event, migration 4). Each
 * is counted (parley_ms_quarantined_total) and logged (MS-QUARANTINE).
 * Any other failure (connection lost, server shutting down) retries the
 * same batch with backoff, as before.
 *
 * The consumer also feeds seq recovery (ms_chan_log_seen) and the
 * idempotency record (ms_dedupe_seen); sends are refused until it has caught
 * up with the end of every partition it owns. */
#include <libpq-fe.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "ms_pure.h"
#include "names.h"
#include "ids.h"
#include "pg.h"
#include "pgbin.h"
#include "utf8.h"

/* one record waiting for its batch: the raw Envelope only. It is decoded
 * for a moment on arrival and again when the batch is built, never kept
 * decoded: thousands of long-lived protobuf trees made glibc's allocator
 * consolidate and split chunks for most of the persister's time. */
struct pev {
	int32_t part;
	int64_t offset;
	uint8_t *raw;			/* NULL: undecodable, only the offset counts */
	size_t len;
	int64_t seq;
	char channel[PL_ID_MAX + 1];
};

static struct {
	struct pl_kafka_consumer *c;
	int32_t *parts;
	int nparts;
	int *eof;			/* per owned partition: reached the end once */
	int neof;
	struct pev *q;			/* waiting */
	size_t n, cap;
	size_t inflight;		/* q[0 .. inflight) are in the running batch */
	uint64_t batch_t0;
	struct pl_backoff bo;
	struct pl_timer *retry;
	int paused;
	int stopping;
	int64_t behind;			/* events read, not yet committed */
	size_t suspect;			/* q[0 .. suspect) hold an event PostgreSQL refused */
	size_t narrow;			/* batch size while bisecting that range */
	int quarantining;		/* the statement in flight quarantines q[0] */
	char qstate[6];			/* the refusal of q[0]: SQLSTATE, message */
	char qerr[256];
	struct pl_pgbin arrays[17];	/* the batch's parameters, memory reused */
} ps;

/* persist_offsets - stored positions of our partitions (blocking: start-up) */
static int
persist_offsets(int64_t *offs)
{
	PGconn *conn = PQconnectdb(ms_conf.pg_dsn);
	PGresult *res = NULL;
	int i, j, rv = PL_EUNAVAIL;

	for (i = 0; i < ps.nparts; i++)
		offs[i] = PL_KAFKA_OFFSET_BEGINNING;
	if (PQstatus(conn) != CONNECTION_OK)
		goto out;
	res = PQexec(conn, "SELECT partition, next_offset FROM kafka_offsets"
	    " WHERE topic = '" PL_TOPIC_MESSAGES "'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	for (j = 0; j < PQntuples(res); j++) {
		int32_t p = (int32_t)atoi(PQgetvalue(res, j, 0));

		for (i = 0; i < ps.nparts; i++)
			if (ps.parts[i] == p)
				offs[i] = strtoll(PQgetvalue(res, j, 1), NULL, 10);
	}
	rv = 0;
out:
	if (rv != 0)
		pl_log_error("MS-PERSIST-OFFSETS-FAIL", "err=%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return rv;
}

static void persist_flush(void);
static void persist_done(int rv, struct pg_result *res, void *arg);

/* the element types of ms_apply_batch's array parameters $2..$17 */
static const uint32_t persist_oids[17] = {
	0, PL_OID_INT4, PL_OID_INT8, PL_OID_TEXT, PL_OID_INT8, PL_OID_INT4,
	PL_OID_TEXT, PL_OID_INT8, PL_OID_TEXT, PL_OID_TEXT, PL_OID_TEXT,
	PL_OID_TEXT, PL_OID_TEXT, PL_OID_TEXT, PL_OID_TEXT, PL_OID_TEXT,
	PL_OID_BYTEA,
};

/* persist_arrays - the batch q[0..n) as the 17 binary parameters of
 * ms_apply_batch ($1 the topic as raw text, then the arrays) */
static void
persist_arrays(size_t n, struct pl_pgbin *a)
{
	Parley__Envelope *env;
	int64_t next[1024];
	int32_t parts[1024];
	int np = 0, k;
	size_t i;

	pl_buf_reset(&a[0].b);
	pl_buf_puts(&a[0].b, PL_TOPIC_MESSAGES);
	for (k = 1; k < 17; k++)
		pl_pgbin_begin(&a[k], persist_oids[k]);
	for (i = 0; i < n; i++) {
		const struct pev *e = &ps.q[i];
		const Parley__Message *m;
		uint64_t ts_us = 0;

		for (k = 0; k < np && parts[k] != e->part; k++)
			;
		if (k == np && np < 1024)
			parts[np++] = e->part;
		if (k < 1024)
			next[k] = e->offset + 1;
		if (e->raw == NULL ||
		    (env = parley__envelope__unpack(NULL, e->len, e->raw)) == NULL)
			continue;
		m = env->message;
		ms_seq_ts_parse(m->ts, &ts_us);
		pl_pgbin_text(&a[3], m->channel);
		pl_pgbin_int8(&a[4], m->seq);
		pl_pgbin_int4(&a[5], env->type);
		pl_pgbin_text(&a[6], m->ts);
		pl_pgbin_int8(&a[7], (int64_t)ts_us);
		pl_pgbin_text(&a[8], m->user);
		pl_pgbin_text(&a[9], m->team[0] ? m->team : env->team);
		pl_pgbin_text(&a[10], m->text);
		pl_pgbin_text(&a[11], m->thread_ts);
		pl_pgbin_text(&a[12], m->client_msg_id);
		pl_pgbin_text(&a[13], m->subtype);
		pl_pgbin_text(&a[14], m->target_ts);
		pl_pgbin_text(&a[15], m->reaction);
		pl_pgbin_bytes(&a[16], e->raw, e->len);
		parley__envelope__free_unpacked(env, NULL);
	}
	for (k = 0; k < np; k++) {
		pl_pgbin_int4(&a[1], parts[k]);
		pl_pgbin_int8(&a[2], next[k]);
	}
	for (k = 1; k < 17; k++)
		pl_pgbin_end(&a[k]);
}

/* persist_pev_free - one queued event */
static void
persist_pev_free(struct pev *e)
{
	free(e->raw);
}

/* persist_drop - q[0 .. n) are committed: forget them */
static void
persist_drop(size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (ps.q[i].raw != NULL)
			ms_tail_persisted(ps.q[i].channel, ps.q[i].seq);
		persist_pev_free(&ps.q[i]);
	}
	memmove(ps.q, ps.q + n, (ps.n - n) * sizeof(*ps.q));
	ps.n -= n;
	ps.behind -= (int64_t)n;
}

/* persist_tombstone - the packed Envelope stored in place of a refused
 * event: its channel, seq and ts only (heap, *len_r bytes) */
static uint8_t *
persist_tombstone(const struct pev *e, const char *ts, size_t *len_r)
{
	Parley__Envelope env;
	Parley__Message m;
	uint8_t *buf;

	parley__envelope__init(&env);
	parley__message__init(&m);
	env.type = PARLEY__EVENT_TYPE__MESSAGE_QUARANTINED;
	env.version = PL_ENVELOPE_VERSION;
	env.body_case = PARLEY__ENVELOPE__BODY_MESSAGE;
	env.message = &m;
	m.channel = (char *)e->channel;
	m.seq = e->seq;
	m.ts = (char *)ts;
	*len_r = parley__envelope__get_packed_size(&env);
	buf = pl_malloc(*len_r ? *len_r : 1);
	parley__envelope__pack(&env, buf);
	return buf;
}

/* persist_quarantine - q[0] was refused alone: store it with its error in
 * message_quarantine, a tombstone in its place and its offset, in one
 * statement (ms_quarantine_event) */
static void
persist_quarantine(void)
{
	static const char sql[] = "SELECT ms_quarantine_event($1, $2::int, $3::bigint,"
	    " $4, $5::bigint, $6::int, $7, $8::bigint, $9, $10, $11::bytea, $12::bytea)";
	const struct pev *e = &ps.q[0];
	Parley__Envelope *env;
	char part[16], off[24], seq[24], type[16], tsus[24], ts[MS_TS_MAX] = "";
	const char *p[12];
	int len[12], fmt[12], k, rv, t = 0;
	uint64_t us = 0;
	uint8_t *tomb;
	size_t tlen;

	if ((env = parley__envelope__unpack(NULL, e->len, e->raw)) != NULL) {
		t = (int)env->type;
		if (ms_seq_ts_parse(env->message->ts, &us) == 0)
			ms_seq_ts_format(us, ts);
		parley__envelope__free_unpacked(env, NULL);
	}
	tomb = persist_tombstone(e, ts, &tlen);
	snprintf(part, sizeof(part), "%d", (int)e->part);
	snprintf(off, sizeof(off), "%lld", (long long)e->offset);
	snprintf(seq, sizeof(seq), "%lld", (long long)e->seq);
	snprintf(type, sizeof(type), "%d", t);
	snprintf(tsus, sizeof(tsus), "%llu", (unsigned long long)us);
	p[0] = PL_TOPIC_MESSAGES;
	p[1] = part;
	p[2] = off;
	p[3] = e->channel;
	p[4] = seq;
	p[5] = type;
	p[6] = ts;
	p[7] = tsus;
	p[8] = ps.qstate;
	p[9] = ps.qerr;
	p[10] = (const char *)e->raw;
	p[11] = (const char *)tomb;
	for (k = 0; k < 12; k++) {
		len[k] = k < 10 ? (int)strlen(p[k]) : 0;
		fmt[k] = k >= 10;
	}
	len[10] = (int)e->len;
	len[11] = (int)tlen;
	ps.inflight = 1;
	ps.quarantining = 1;
	ps.batch_t0 = pl_clock_mono_us();
	rv = pl_pg_query_bin(ms.pg, sql, 12, p, len, fmt, persist_done, NULL);
	free(tomb);
	if (rv != 0)
		persist_done(rv, NULL, NULL);
}

/* persist_refused - PostgreSQL refused the batch q[0 .. n) for its data:
 * bisect the range, or quarantine the event that fails alone */
static void
persist_refused(size_t n)
{
	const char *err = pl_pg_last_error(ms.pg);
	size_t i;

	pl_metrics_inc(ms_m.pg_errors);
	ps.inflight = 0;
	snprintf(ps.qstate, sizeof(ps.qstate), "%s", pl_pg_sqlstate(ms.pg));
	/* the message may quote the refused bytes: printable ASCII only, and
	 * no double quote, so the log line's err="..." stays one field */
	for (i = 0; err[i] != '\0' && i < sizeof(ps.qerr) - 1; i++)
		ps.qerr[i] = err[i] == '"' ? '\'' : err[i] >= 0x20 && err[i] < 0x7f ? err[i] : '?';
	ps.qerr[i] = '\0';
	if (n == 1) {
		persist_quarantine();
		return;
	}
	pl_metrics_inc(ms_m.persist_splits);
	if (ps.suspect < n)
		ps.suspect = n;
	ps.narrow = n / 2;
	pl_log_warn("MS-PERSIST-SPLIT", "events=%zu next=%zu state=%s err=\"%s\"", n,
	    ps.narrow, ps.qstate, ps.qerr);
	persist_flush();
}

/* persist_quarantined - q[0] is in message_quarantine: go on after it */
static void
persist_quarantined(void)
{
	const struct pev *e = &ps.q[0];

	pl_metrics_inc(ms_m.quarantined);
	pl_log_error("MS-QUARANTINE", "channel=%s seq=%lld partition=%d offset=%lld state=%s"
	    " err=\"%s\"", e->channel, (long long)e->seq, (int)e->part, (long long)e->offset,
	    ps.qstate, ps.qerr);
	ps.quarantining = 0;
	persist_drop(1);
	if (ps.suspect > 0)
		ps.suspect--;
	/* the rest of the refused range in one batch again; bisected anew if
	 * it holds another refused event */
	ps.narrow = (size_t)ms_conf.batch_max;
}

/* persist_retry - the backoff timer fired: send the same batch again */
static void
persist_retry(void *arg)
{
	pl_loop_timer_stop(&ps.retry);
	ps.inflight = 0;
	persist_flush();
}

/* persist_done - the batch committed (drop it), was refused for its data
 * (split it) or failed otherwise (retry later) */
static void
persist_done(int rv, struct pg_result *res, void *arg)
{
	size_t n = ps.inflight;

	if (ps.stopping)
		return;
	pl_metrics_observe(ms_m.pg_latency, (double)(pl_clock_mono_us() - ps.batch_t0) / 1e6);
	/* a quarantine statement refused for its data too is a bug of ours:
	 * it retries (and says so) rather than drop the event */
	if (rv != 0 && !ps.quarantining && (n > 1 || (n == 1 && ps.q[0].raw != NULL)) &&
	    pl_pg_data_error(rv, pl_pg_sqlstate(ms.pg))) {
		persist_refused(n);
		return;
	}
	if (rv != 0) {
		uint64_t delay = pl_backoff_next(&ps.bo);

		pl_metrics_inc(ms_m.pg_errors);
		pl_log_warn(ps.quarantining ? "MS-QUARANTINE-RETRY" : "MS-PERSIST-RETRY",
		    "events=%zu err=%s state=%s delay_ms=%llu", n, pl_err_str(rv),
		    pl_pg_sqlstate(ms.pg), (unsigned long long)delay);
		if (pl_loop_timer(ms.loop, delay, 0, persist_retry, NULL, &ps.retry) != 0)
			ps.inflight = 0;
		return;
	}
	pl_backoff_reset(&ps.bo);
	if (ps.quarantining) {
		persist_quarantined();
	} else {
		pl_metrics_add(ms_m.events_persisted, (double)n);
		pl_metrics_observe(ms_m.batch_size, (double)n);
		persist_drop(n);
		ps.suspect -= n < ps.suspect ? n : ps.suspect;
	}
	if (ps.suspect == 0)
		ps.narrow = 0;
	ps.inflight = 0;
	if (ps.paused && ps.n < (size_t)ms_conf.batch_max * 4) {
		pl_kafka_consumer_pause(ps.c, 0);
		ps.paused = 0;
	}
	persist_flush();
}

/* persist_flush - start a batch unless one is running */
static void
persist_flush(void)
{
	static const char sql[] = "SELECT ms_apply_batch($1::text, $2::int[],"
	    " $3::bigint[], $4::text[], $5::bigint[], $6::int[], $7::text[],"
	    " $8::bigint[], $9::text[], $10::text[], $11::text[], $12::text[],"
	    " $13::text[], $14::text[], $15::text[], $16::text[], $17::bytea[])";
	struct pl_pgbin *a = ps.arrays;
	const char *p[17];
	int len[17], fmt[17];
	size_t n;
	int k, rv;

	if (ps.inflight > 0 || ps.retry != NULL || ps.n == 0)
		return;
	if (ps.quarantining) {		/* its retry */
		persist_quarantine();
		return;
	}
	n = ps.n < (size_t)ms_conf.batch_max ? ps.n : (size_t)ms_conf.batch_max;
	if (ps.suspect > 0) {		/* bisecting a refused range */
		if (n > ps.narrow)
			n = ps.narrow;
		if (n > ps.suspect)
			n = ps.suspect;
	}
	persist_arrays(n, a);
	for (k = 0; k < 17; k++) {
		p[k] = a[k].b.data;
		len[k] = (int)a[k].b.len;
		fmt[k] = 1;
	}
	ps.inflight = n;
	ps.batch_t0 = pl_clock_mono_us();
	rv = pl_pg_query_bin(ms.pg, sql, 17, p, len, fmt, persist_done, NULL);
	if (rv != 0)
		persist_done(rv, NULL, NULL);
}

/* persist_msg - one record of our partitions */
static void
persist_msg(const struct pl_kafka_msg *km, void *arg)
{
	struct pev e = { km->partition, km->offset, NULL, 0, 0, "" };
	Parley__Envelope *env;
	uint64_t ts_us = 0;

	env = parley__envelope__unpack(NULL, km->len, km->payload);
	if (env != NULL && (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE ||
	    env->message->channel[0] == '\0' || env->message->seq <= 0 ||
	    strlen(env->message->channel) > PL_ID_MAX ||
	    !pl_utf8_valid_str(env->message->channel))) {
		parley__envelope__free_unpacked(env, NULL);
		env = NULL;
	}
	if (env == NULL) {
		pl_metrics_inc(ms_m.bad_input);
		pl_log_warn("MS-PERSIST-BAD", "partition=%d offset=%lld", (int)km->partition,
		    (long long)km->offset);
	} else {
		const Parley__Message *m = env->message;

		ms_seq_ts_parse(m->ts, &ts_us);
		ms_chan_log_seen(m->channel, m->seq, ts_us);
		if (env->type == PARLEY__EVENT_TYPE__MESSAGE_CREATED)
			ms_dedupe_seen(m);
		ms_tail_add(env->type, m, 0);
		e.raw = pl_memdup(km->payload, km->len ? km->len : 1);
		e.len = km->len;
		e.seq = m->seq;
		strcpy(e.channel, m->channel);
		parley__envelope__free_unpacked(env, NULL);
	}
	if (ps.n == ps.cap) {
		ps.cap = ps.cap ? ps.cap * 2 : 1024;
		ps.q = pl_realloc(ps.q, ps.cap * sizeof(*ps.q));
	}
	ps.q[ps.n++] = e;
	ps.behind++;
	if (!ps.paused && ps.n > (size_t)ms_conf.batch_max * 20) {
		pl_kafka_consumer_pause(ps.c, 1);
		ps.paused = 1;
	}
	persist_flush();
}

/* persist_eof - a partition reached its end: caught up once all have */
static void
persist_eof(const char *topic, int32_t partition, int64_t offset, void *arg)
{
	int i;

	for (i = 0; i < ps.nparts; i++) {
		if (ps.parts[i] != partition || ps.eof[i])
			continue;
		ps.eof[i] = 1;
		if (++ps.neof == ps.nparts && !ms.caught_up) {
			ms.caught_up = 1;
			pl_log_info("MS-CAUGHT-UP", "partitions=%d queued=%zu", ps.nparts, ps.n);
		}
	}
}

/* ms_persist_start - consumer on our partitions from the stored offsets */
int
ms_persist_start(void)
{
	struct pl_buf extra;
	int64_t *offs = NULL;
	int i, rv;

	pl_backoff_init(&ps.bo, 100, 5000, pl_clock_mono_us());
	pl_buf_init(&extra);
	pl_buf_printf(&extra, "fetch.wait.max.ms=%lld,fetch.min.bytes=%lld",
	    (long long)ms_conf.fetch_wait_ms, (long long)ms_conf.fetch_min_bytes);
	if (ms_conf.kafka_extra != NULL && ms_conf.kafka_extra[0] != '\0')
		pl_buf_printf(&extra, ",%s", ms_conf.kafka_extra);
	rv = pl_kafka_consumer_start(ms.loop, ms.brokers, extra.data, persist_msg,
	    persist_eof, NULL, &ps.c);
	pl_buf_fini(&extra);
	if (rv != 0)
		return rv;
	if ((rv = pl_kafka_partition_count(ps.c, PL_TOPIC_MESSAGES, 10000)) <= 0)
		return rv < 0 ? rv : PL_ENOTFOUND;
	ms.partitions = rv;
	ps.parts = pl_calloc((size_t)ms.partitions, sizeof(*ps.parts));
	for (i = 0; i < ms.partitions; i++)
		if (i % (int)ms_conf.shard_count == (int)ms_conf.shard_index)
			ps.parts[ps.nparts++] = i;
	ps.eof = pl_calloc((size_t)ps.nparts + 1, sizeof(*ps.eof));
	if (ps.nparts == 0) {
		ms.caught_up = 1;
		return 0;
	}
	offs = pl_calloc((size_t)ps.nparts, sizeof(*offs));
	if ((rv = persist_offsets(offs)) == 0)
		rv = pl_kafka_consumer_assign(ps.c, PL_TOPIC_MESSAGES, ps.parts, offs,
		    ps.nparts, PL_KAFKA_OFFSET_BEGINNING);
	for (i = 0; rv == 0 && i < ps.nparts; i++)
		pl_log_info("MS-PERSIST-ASSIGN", "partition=%d offset=%lld", (int)ps.parts[i],
		    (long long)offs[i]);
	free(offs);
	return rv;
}

/* ms_persist_stop - stop consuming; uncommitted events are re-read next start */
void
ms_persist_stop(void)
{
	size_t i;

	ps.stopping = 1;
	if (ps.retry != NULL)
		pl_loop_timer_stop(&ps.retry);
	if (ps.c != NULL)
		pl_kafka_consumer_stop(&ps.c);
	for (i = 0; i < ps.n; i++)
		persist_pev_free(&ps.q[i]);
	pl_free(&ps.q);
	ps.n = ps.cap = 0;
	pl_free(&ps.parts);
	pl_free(&ps.eof);
	for (i = 0; i < 17; i++)
		pl_buf_fini(&ps.arrays[i].b);
}

/* ms_persist_lag - events read from the log and not yet committed */
int64_t
ms_persist_lag(void)
{
	int64_t lag = ps.c ? pl_kafka_consumer_lag(ps.c) : -1;

	return ps.behind + (lag > 0 ? lag : 0);
}
