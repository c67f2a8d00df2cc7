/* index.c - the log -> index writer.
 *
 * Instance i of N owns the partitions p of parley.messages with
 * p % N == i (message-svc's rule, proto/shard.h): a consumer is assigned
 * exactly those explicitly (no group), from the offsets stored in its own
 * search_offsets (the beginning when none, or after --reindex), and indexes
 * every message event in them. A query therefore asks every instance and
 * merges (gather.c; docs/search.md "Scaling").
 *
 * Events are appended as they arrive to the open batch: fourteen PostgreSQL
 * array literals, one per column of si_apply_batch. While a batch is being
 * committed the next one fills; a committed batch is dropped, a failed one
 * is retried with backoff (never skipped, never reordered). The open batch
 * is closed at batch-max events and the consumer pauses until it is sent.
 * Rows and offsets commit in one statement, so a crash replays at most the
 * uncommitted batches, which apply again idempotently. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "parley.pb-c.h"
#include "pg.h"
#include "query.h"
#include "search.h"
#include "settings.h"
#include "utf8.h"

#define SI_COLS 11		/* array columns after topic, parts, next */

struct si_batch {
	struct pl_buf col[SI_COLS];
	size_t events;			/* log records covered (offsets) */
	size_t rows;			/* elements of each column */
	int closed;			/* the columns end with their '}' (sent once) */
	int64_t *next;			/* per partition: next offset, -1 untouched */
	int64_t *created_us;		/* ts of the created messages (lag) */
	size_t ncreated, capcreated;
};

static struct {
	struct pl_kafka_consumer *c;
	struct si_batch b[2];
	int open;			/* index of the filling batch */
	int sending;			/* the other one is in flight */
	struct pl_timer *retry;
	struct pl_backoff bo;
	uint64_t t0;
	int paused;
	int stopping;
	int32_t *parts;			/* the partitions this instance owns */
	int nparts;
	int *eof;			/* per partition of the topic */
	int neof;
	int caught_up;
} ix;

/* si_index_reset - empty batch b */
static void
si_index_reset(struct si_batch *b)
{
	int k;

	for (k = 0; k < SI_COLS; k++)
		pl_buf_reset(&b->col[k]);
	for (k = 0; k < si.partitions; k++)
		b->next[k] = -1;
	b->events = b->rows = b->ncreated = 0;
	b->closed = 0;
}

/* si_index_elem - append one array element: a quoted string, any invalid
 * UTF-8 byte replaced by '?' (PostgreSQL would refuse the whole batch) */
static void
si_index_elem(struct pl_buf *col, size_t row, const char *s)
{
	size_t len = strlen(s), i;
	int ok = pl_utf8_valid(s, len);

	pl_buf_puts(col, row ? ",\"" : "{\"");
	for (i = 0; i < len; i++) {
		char ch = s[i];

		if (!ok && (unsigned char)ch >= 0x80)
			ch = '?';
		if (ch == '"' || ch == '\\')
			pl_buf_append(col, "\\", 1);
		pl_buf_append(col, &ch, 1);
	}
	pl_buf_puts(col, "\"");
}

/* si_index_int - append one integer element */
static void
si_index_int(struct pl_buf *col, size_t row, long long v)
{
	pl_buf_printf(col, "%s%lld", row ? "," : "{", v);
}

/* si_index_ts_us - "<s>.<6 digits>" as microseconds, 0 if malformed */
static int64_t
si_index_ts_us(const char *ts)
{
	char *end;
	long long s = strtoll(ts, &end, 10);
	long long us = 0;

	if (end == ts || s < 0 || s > 100000000000LL)
		return 0;
	if (*end == '.')
		us = strtoll(end + 1, NULL, 10);
	return (int64_t)s * 1000000 + (us >= 0 && us < 1000000 ? us : 0);
}

/* si_index_add - one decoded message event into the open batch */
static void
si_index_add(struct si_batch *b, const Parley__Envelope *env)
{
	const Parley__Message *m = env->message;
	const char *team = m->team[0] ? m->team : env->team;
	int64_t ts_us = si_index_ts_us(m->ts);
	size_t r = b->rows;

	si_index_int(&b->col[0], r, env->type);
	si_index_elem(&b->col[1], r, team);
	si_index_elem(&b->col[2], r, m->channel);
	si_index_elem(&b->col[3], r, m->ts);
	si_index_int(&b->col[4], r, (long long)ts_us);
	si_index_int(&b->col[5], r, (long long)m->seq);
	si_index_elem(&b->col[6], r, m->user);
	si_index_elem(&b->col[7], r, m->text);
	si_index_elem(&b->col[8], r, m->thread_ts);
	si_index_elem(&b->col[9], r, m->target_ts);
	si_index_elem(&b->col[10], r, m->reaction);
	b->rows++;
	if (env->type == PARLEY__EVENT_TYPE__MESSAGE_CREATED && ts_us > 0) {
		if (b->ncreated == b->capcreated) {
			b->capcreated = b->capcreated ? b->capcreated * 2 : 256;
			b->created_us = pl_realloc(b->created_us,
			    b->capcreated * sizeof(*b->created_us));
		}
		b->created_us[b->ncreated++] = ts_us;
	}
}

/* si_index_wanted - a message event (every one of an owned partition is indexed) */
static int
si_index_wanted(const Parley__Envelope *env)
{
	const Parley__Message *m;

	if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE || env->message == NULL)
		return 0;
	if (env->type < PARLEY__EVENT_TYPE__MESSAGE_CREATED ||
	    env->type > PARLEY__EVENT_TYPE__REACTION_REMOVED)
		return 0;
	m = env->message;
	return m->channel[0] != '\0' && m->ts[0] != '\0';
}

static void si_index_flush(void);

/* si_index_retry - the backoff timer: send the same batch again */
static void
si_index_retry(void *arg)
{
	pl_loop_timer_stop(&ix.retry);
	ix.sending = 0;
	si_index_flush();
}

/* si_index_done - committed (observe, drop, send the next) or failed (retry) */
static void
si_index_done(int rv, struct pg_result *res, void *arg)
{
	struct si_batch *b = &ix.b[!ix.open];
	double now = (double)pl_clock_wall_us();
	size_t i;

	if (ix.stopping)
		return;
	if (rv != 0) {
		uint64_t delay = pl_backoff_next(&ix.bo);

		pl_metrics_inc(si_m.err_index);
		pl_log_warn("SI-INDEX-RETRY", "events=%zu err=%s delay_ms=%llu", b->events,
		    pl_err_str(rv), (unsigned long long)delay);
		if (pl_loop_timer(si.loop, delay, 0, si_index_retry, NULL, &ix.retry) != 0)
			ix.sending = 0;
		return;
	}
	pl_backoff_reset(&ix.bo);
	pl_metrics_observe(si_m.batch_s, (now - (double)ix.t0) / 1e6);
	pl_metrics_observe(si_m.batch_size, (double)b->rows);
	pl_metrics_add(si_m.indexed, (double)b->rows);
	for (i = 0; i < b->ncreated; i++)
		pl_metrics_observe(si_m.lag, (now - (double)b->created_us[i]) / 1e6);
	si_index_reset(b);
	ix.sending = 0;
	si_index_flush();
}

/* si_index_flush - close the open batch and send it, unless one is in flight */
static void
si_index_flush(void)
{
	static const char sql[] = "SELECT si_apply_batch($1, $2::int[], $3::bigint[],"
	    " $4::int[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[],"
	    " $10::text[], $11::text[], $12::text[], $13::text[], $14::text[])";
	struct si_batch *b;
	struct pl_buf parts, next;
	const char *p[3 + SI_COLS];
	int k, rv, n = 0;

	if (ix.sending || ix.retry != NULL)
		return;
	if (ix.b[!ix.open].events == 0) {
		if (ix.b[ix.open].events == 0)
			return;
		ix.open = !ix.open;	/* the filled one goes, the empty one fills */
		if (ix.paused) {
			pl_kafka_consumer_pause(ix.c, 0);
			ix.paused = 0;
		}
	}
	b = &ix.b[!ix.open];
	pl_buf_init(&parts);
	pl_buf_init(&next);
	for (k = 0; k < si.partitions; k++) {
		if (b->next[k] < 0)
			continue;
		si_index_int(&parts, (size_t)n, k);
		si_index_int(&next, (size_t)n, (long long)b->next[k]);
		n++;
	}
	pl_buf_puts(&parts, n ? "}" : "{}");
	pl_buf_puts(&next, n ? "}" : "{}");
	p[0] = PL_TOPIC_MESSAGES;
	p[1] = parts.data;
	p[2] = next.data;
	for (k = 0; k < SI_COLS; k++) {
		if (!b->closed)
			pl_buf_puts(&b->col[k], b->rows ? "}" : "{}");
		p[3 + k] = b->col[k].data;
	}
	b->closed = 1;
	ix.sending = 1;
	ix.t0 = pl_clock_wall_us();
	rv = pl_pg_query(si.pg, sql, 3 + SI_COLS, p, si_index_done, NULL);
	pl_buf_fini(&parts);
	pl_buf_fini(&next);
	if (rv != 0)
		si_index_done(rv, NULL, NULL);
}

/* si_index_msg - one record: into the open batch if ours, its offset always */
static void
si_index_msg(const struct pl_kafka_msg *km, void *arg)
{
	struct si_batch *b = &ix.b[ix.open];
	Parley__Envelope *env;

	if (km->partition < 0 || km->partition >= si.partitions)
		return;
	env = parley__envelope__unpack(NULL, km->len, km->payload);
	if (env == NULL) {
		pl_metrics_inc(si_m.bad_input);
		pl_log_warn("SI-INDEX-BAD", "partition=%d offset=%lld", (int)km->partition,
		    (long long)km->offset);
	} else {
		if (si_index_wanted(env))
			si_index_add(b, env);
		parley__envelope__free_unpacked(env, NULL);
	}
	b->next[km->partition] = km->offset + 1;
	b->events++;
	if (!ix.paused && b->rows >= (size_t)si_conf.batch_max) {
		pl_kafka_consumer_pause(ix.c, 1);
		ix.paused = 1;
	}
	si_index_flush();
}

/* si_index_eof - an owned partition reached its end: ready once all have */
static void
si_index_eof(const char *topic, int32_t partition, int64_t offset, void *arg)
{
	if (partition < 0 || partition >= si.partitions || ix.eof[partition])
		return;
	ix.eof[partition] = 1;
	if (++ix.neof == ix.nparts && !ix.caught_up) {
		ix.caught_up = 1;
		pl_log_info("SI-CAUGHT-UP", "partitions=%d", ix.nparts);
	}
}

/* si_index_offsets - stored positions of the owned partitions, offs[k] of
 * ix.parts[k] (blocking: start-up) */
static int
si_index_offsets(int64_t *offs)
{
	PGconn *conn = PQconnectdb(si_conf.pg_dsn);
	PGresult *res = NULL;
	int i, k, rv = PL_EUNAVAIL;

	for (k = 0; k < ix.nparts; k++)
		offs[k] = PL_KAFKA_OFFSET_BEGINNING;
	if (PQstatus(conn) != CONNECTION_OK)
		goto out;
	res = PQexec(conn, "SELECT partition, next_offset FROM search_offsets"
	    " WHERE topic = '" PL_TOPIC_MESSAGES "'");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	for (i = 0; i < PQntuples(res); i++) {
		int p = atoi(PQgetvalue(res, i, 0));

		for (k = 0; k < ix.nparts; k++)
			if (ix.parts[k] == p)
				offs[k] = strtoll(PQgetvalue(res, i, 1), NULL, 10);
	}
	rv = 0;
out:
	if (rv != 0)
		pl_log_error("SI-OFFSETS-FAIL", "err=%s", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return rv;
}

/* si_index_start - consumer on the owned partitions from the stored offsets */
int
si_index_start(void)
{
	char extra[128];
	int64_t *offs;
	int i, rv;

	pl_backoff_init(&ix.bo, 100, 5000, pl_clock_mono_us());
	snprintf(extra, sizeof(extra), "fetch.wait.max.ms=%lld,fetch.min.bytes=%lld",
	    (long long)pl_settings.kafka_fetch_wait_ms,
	    (long long)pl_settings.feed_fetch_min_bytes);
	if ((rv = pl_kafka_consumer_start(si.loop, si.brokers, extra, si_index_msg,
	    si_index_eof, NULL, &ix.c)) != 0)
		return rv;
	if ((rv = pl_kafka_partition_count(ix.c, PL_TOPIC_MESSAGES, 10000)) <= 0)
		return rv < 0 ? rv : PL_ENOTFOUND;
	si.partitions = rv;
	if (si_conf.count > si.partitions) {
		pl_log_error("SI-COUNT-OVER-PARTITIONS", "search_count=%lld partitions=%d",
		    (long long)si_conf.count, si.partitions);
		return PL_EINVAL;
	}
	ix.parts = pl_calloc((size_t)si.partitions, sizeof(*ix.parts));
	for (i = 0; i < si.partitions; i++)
		if (i % si_conf.count == si_conf.index)
			ix.parts[ix.nparts++] = i;
	ix.eof = pl_calloc((size_t)si.partitions, sizeof(*ix.eof));
	for (i = 0; i < 2; i++) {
		ix.b[i].next = pl_calloc((size_t)si.partitions, sizeof(int64_t));
		si_index_reset(&ix.b[i]);
	}
	offs = pl_calloc((size_t)ix.nparts, sizeof(*offs));
	if ((rv = si_index_offsets(offs)) == 0)
		rv = pl_kafka_consumer_assign(ix.c, PL_TOPIC_MESSAGES, ix.parts, offs,
		    ix.nparts, PL_KAFKA_OFFSET_BEGINNING);
	for (i = 0; rv == 0 && i < ix.nparts; i++)
		pl_log_info("SI-INDEX-ASSIGN", "partition=%d offset=%lld", (int)ix.parts[i],
		    (long long)offs[i]);
	free(offs);
	return rv;
}

/* si_index_ready - assigned and caught up with the end of every partition once */
int
si_index_ready(void)
{
	return ix.c != NULL && ix.caught_up;
}

/* si_index_behind - events read and not committed, plus the consumer's lag */
int64_t
si_index_behind(void)
{
	int64_t lag = ix.c ? pl_kafka_consumer_lag(ix.c) : -1;

	return (int64_t)(ix.b[0].events + ix.b[1].events) + (lag > 0 ? lag : 0);
}

/* si_index_stop - stop consuming; what is not committed is read again next start */
void
si_index_stop(void)
{
	int i, k;

	ix.stopping = 1;
	if (ix.retry != NULL)
		pl_loop_timer_stop(&ix.retry);
	if (ix.c != NULL)
		pl_kafka_consumer_stop(&ix.c);
	for (i = 0; i < 2; i++) {
		for (k = 0; k < SI_COLS; k++)
			pl_buf_fini(&ix.b[i].col[k]);
		pl_free(&ix.b[i].next);
		pl_free(&ix.b[i].created_us);
	}
	pl_free(&ix.eof);
	pl_free(&ix.parts);
	ix.nparts = 0;
}
