/* consume.c - parley.messages and parley.events -> notify-svc's database.
 *
 * A consumer is assigned this replica's partitions of both topics
 * (partition % replicas == ordinal: a StatefulSet's ordinal, no consumer
 * group) from the offsets stored in ns_offsets. Each record becomes at most
 * one event of the next batch (a counted message, a deletion, a join, a
 * member leaving) and advances its partition's offset; a batch goes to
 * PostgreSQL as one ns_apply_batch($1::jsonb) statement, so rows and
 * offsets commit together. A failed batch is resent as is with backoff
 * while new records wait (the consumer pauses past a bound): nothing is
 * skipped, and a crash restarts from the stored offsets (re-applying is a
 * no-op). Message text never reaches the database: only ids, ts and the
 * mentioned users, each checked by ns_id_ok. */
#include <libpq-fe.h>
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
#include "notify.h"
#include "pg.h"
#include "utf8.h"

#define NS_TOPICS 2
#define NS_BATCH_TEAMS 16	/* teams tracked per batch; more: the epoch */

static const char *const ns_topics[NS_TOPICS] = { PL_TOPIC_MESSAGES, PL_TOPIC_EVENTS };

struct ns_topic {
	int nparts;			/* partitions of the topic */
	int64_t *next;			/* per partition: offset after the last record read */
	char *dirty;			/* per partition: next not yet in a batch */
	char *owned;
};

static struct {
	struct pl_kafka_consumer *c;
	struct ns_topic t[NS_TOPICS];
	struct pl_buf ev;		/* the next batch's events, comma-separated */
	size_t nev, nrec;		/* its events, its records */
	struct pl_buf sent;		/* the batch in flight (or waiting for a retry) */
	size_t nsent;
	int inflight;
	uint64_t t0_us;
	struct pl_backoff bo;
	struct pl_timer *retry;
	int paused, stopping, ready;
	double *ts, *ts_sent;		/* message ts (s) of the next batch / of the one sent */
	size_t nts, nts_sent, cap_ts, cap_ts_sent;
	struct pl_metric *m_records, *m_events, *m_batches, *m_errors, *m_bad, *m_latency;
	struct pl_metric *m_e2e;
	/* teams with events in the next batch / the one sent: their cached
	 * counts are invalidated when it commits (cache.c) */
	char teams[NS_BATCH_TEAMS][NS_ID_MAX + 1], teams_sent[NS_BATCH_TEAMS][NS_ID_MAX + 1];
	int nteams, nteams_sent, unknown, unknown_sent;
} nc;

/* consume_team_note - an event of team (NULL or not an id: unknown) went
 * into the next batch */
static void
consume_team_note(const char *team)
{
	int i;

	if (team == NULL || !ns_id_ok(team)) {
		nc.unknown = 1;
		return;
	}
	for (i = 0; i < nc.nteams; i++)
		if (strcmp(nc.teams[i], team) == 0)
			return;
	if (nc.nteams == NS_BATCH_TEAMS) {
		nc.unknown = 1;		/* many teams: the epoch covers them all */
		return;
	}
	snprintf(nc.teams[nc.nteams++], NS_ID_MAX + 1, "%s", team);
}

/* consume_ts_note - remember a counted message's ts for the end-to-end
 * histogram (observed when its batch commits) */
static void
consume_ts_note(const char *ts)
{
	if (nc.nts == nc.cap_ts) {
		nc.cap_ts = nc.cap_ts ? nc.cap_ts * 2 : 1024;
		nc.ts = pl_realloc(nc.ts, nc.cap_ts * sizeof(*nc.ts));
	}
	nc.ts[nc.nts++] = strtod(ts, NULL);
}

/* consume_offsets - stored positions (blocking: start-up); absent ones start
 * at the beginning (a fresh database counts the whole retained log) */
static int
consume_offsets(void)
{
	PGconn *conn = PQconnectdb(ns_conf.pg_dsn);
	PGresult *res = NULL;
	int i, j, k, rv = PL_EUNAVAIL;

	for (k = 0; k < NS_TOPICS; k++)
		for (i = 0; i < nc.t[k].nparts; i++)
			nc.t[k].next[i] = PL_KAFKA_OFFSET_BEGINNING;
	if (PQstatus(conn) != CONNECTION_OK)
		goto out;
	res = PQexec(conn, "SELECT topic, partition, next_offset FROM ns_offsets");
	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		goto out;
	for (j = 0; j < PQntuples(res); j++) {
		int p = atoi(PQgetvalue(res, j, 1));

		for (k = 0; k < NS_TOPICS; k++)
			if (strcmp(PQgetvalue(res, j, 0), ns_topics[k]) == 0 && p >= 0 &&
			    p < nc.t[k].nparts)
				nc.t[k].next[p] = strtoll(PQgetvalue(res, j, 2), NULL, 10);
	}
	rv = 0;
out:
	if (rv != 0)
		pl_log_error("NS-OFFSETS-FAIL", "err=\"%s\"", PQerrorMessage(conn));
	PQclear(res);
	PQfinish(conn);
	return rv;
}

/* consume_counted - a message subtype that counts as unread */
static int
consume_counted(const char *subtype)
{
	static const char *const ok[] = { "", "me_message", "bot_message",
	    "thread_broadcast", "file_share" };
	size_t i;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(subtype ? subtype : "", ok[i]) == 0)
			return 1;
	return 0;
}

/* consume_push_candidate - may this message push someone: a mention, a
 * <!channel>/<!everyone>, or any message of a DM ('D') or group/private
 * channel ('G': the directory tells which at send time). <!here> never
 * pushes (it means the active members). */
static int
consume_push_candidate(const char *channel, const struct ns_mentions *men)
{
	if ((ns_conf.push_url == NULL || ns_conf.push_url[0] == '\0') &&
	    (ns_conf.smtp_url == NULL || ns_conf.smtp_url[0] == '\0'))
		return 0;
	return men->n > 0 || men->channel || channel[0] == 'D' || channel[0] == 'G';
}

/* consume_plain_candidate - any channel-level message (not a thread reply)
 * may push the users who set notify=all, when push is on (digests stay
 * mentions and DMs) */
static int
consume_plain_candidate(const char *thr)
{
	return ns_conf.push_url != NULL && ns_conf.push_url[0] != '\0' && thr[0] == '\0';
}

/* consume_text - at most NS_DIGEST_TEXT_MAX bytes of valid UTF-8 of text
 * (cut on a character boundary; "" when the text is not UTF-8) in cut */
static const char *
consume_text(const char *text, char cut[NS_DIGEST_TEXT_MAX + 1])
{
	size_t n = strlen(text);

	if (!pl_utf8_valid(text, n))
		return "";
	if (n > NS_DIGEST_TEXT_MAX) {
		n = NS_DIGEST_TEXT_MAX;
		while (n > 0 && ((unsigned char)text[n] & 0xC0) == 0x80)
			n--;
	}
	memcpy(cut, text, n);
	cut[n] = 0;
	return cut;
}

/* consume_event - append {"k","c","ts","u","thr"[,"men"][,"p","team","pu","b"]
 * [,"pa"[,"team"]]} */
static void
consume_event(const char *k, const char *c, const char *ts, const char *u,
    const char *thr, const struct ns_mentions *men, const char *team, const char *text)
{
	int i, cand;

	if (nc.nev > 0)
		pl_buf_puts(&nc.ev, ",");
	pl_buf_printf(&nc.ev, "{\"k\":\"%s\",\"c\":", k);
	pl_buf_json_str(&nc.ev, c);
	pl_buf_puts(&nc.ev, ",\"ts\":");
	pl_buf_json_str(&nc.ev, ts);
	pl_buf_puts(&nc.ev, ",\"u\":");
	pl_buf_json_str(&nc.ev, u);
	pl_buf_puts(&nc.ev, ",\"thr\":");
	pl_buf_json_str(&nc.ev, thr);
	if (men != NULL) {
		pl_buf_puts(&nc.ev, ",\"men\":[");
		for (i = 0; i < men->n; i++) {
			if (i)
				pl_buf_puts(&nc.ev, ",");
			pl_buf_json_str(&nc.ev, men->users[i]);
		}
		if (men->broadcast)
			pl_buf_puts(&nc.ev, men->n ? ",\"*\"" : "\"*\"");
		pl_buf_puts(&nc.ev, "]");
	}
	cand = men != NULL && team != NULL && consume_push_candidate(c, men);
	if (cand) {
		pl_buf_puts(&nc.ev, ",\"p\":1,\"team\":");
		pl_buf_json_str(&nc.ev, team);
		pl_buf_puts(&nc.ev, ",\"pu\":[");
		for (i = 0; i < men->n; i++) {
			if (i)
				pl_buf_puts(&nc.ev, ",");
			pl_buf_json_str(&nc.ev, men->users[i]);
		}
		pl_buf_printf(&nc.ev, "],\"b\":%s", men->channel ? "true" : "false");
		if (text != NULL && ns_conf.smtp_url != NULL && ns_conf.smtp_url[0]) {
			char cut[NS_DIGEST_TEXT_MAX + 1];

			pl_buf_puts(&nc.ev, ",\"tx\":");
			pl_buf_json_str(&nc.ev, consume_text(text, cut));
		}
	}
	if (men != NULL && team != NULL && consume_plain_candidate(thr)) {
		/* for the team's notify=all users (none: the batch writes nothing) */
		pl_buf_puts(&nc.ev, ",\"pa\":1");
		if (!cand) {
			pl_buf_puts(&nc.ev, ",\"team\":");
			pl_buf_json_str(&nc.ev, team);
		}
	}
	pl_buf_puts(&nc.ev, "}");
	nc.nev++;
}

/* consume_message - an event of parley.messages: 0, or PL_EINVAL (bad ids) */
static int
consume_message(const Parley__Envelope *env)
{
	const Parley__Message *m;
	struct ns_mentions men;
	const char *thr;

	if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE)
		return PL_EINVAL;
	m = env->message;
	if (!ns_id_ok(m->channel) || !ns_id_ok(m->ts))
		return PL_EINVAL;
	switch (env->type) {
	case PARLEY__EVENT_TYPE__MESSAGE_CREATED:
		if (!consume_counted(m->subtype))
			return 0;
		if (!ns_id_ok(m->user))
			return PL_EINVAL;
		/* a reply counts in its thread; a broadcast reply in the channel too */
		thr = m->thread_ts && *m->thread_ts && strcmp(m->thread_ts, m->ts) != 0 &&
		    strcmp(m->subtype, "thread_broadcast") != 0 ? m->thread_ts : "";
		if (*thr && !ns_id_ok(thr))
			return PL_EINVAL;
		ns_mention_parse(m->text, m->user, &men);
		consume_ts_note(m->ts);
		if (!ns_id_ok(env->team) && !ns_id_ok(m->team))
			return PL_EINVAL;
		consume_event("m", m->channel, m->ts, m->user, thr, &men,
		    ns_id_ok(m->team) ? m->team : env->team, m->text ? m->text : "");
		return 0;
	case PARLEY__EVENT_TYPE__MESSAGE_DELETED:
		if (!ns_id_ok(m->target_ts))
			return PL_EINVAL;
		consume_event("d", m->channel, m->target_ts, "", "", NULL, NULL, NULL);
		return 0;
	case PARLEY__EVENT_TYPE__CHANNEL_JOIN:
		if (!ns_id_ok(m->user))
			return PL_EINVAL;
		consume_event("j", m->channel, m->ts, m->user, "", NULL, NULL, NULL);
		return 0;
	default:
		return 0;
	}
}

/* consume_team_event - parley.events: a member who left gets nothing more
 * about the channel (their pending mentions of it go) */
static int
consume_team_event(const Parley__Envelope *env)
{
	const Parley__Membership *mb;

	if (env->type != PARLEY__EVENT_TYPE__MEMBER_LEFT)
		return 0;
	if (env->body_case != PARLEY__ENVELOPE__BODY_MEMBERSHIP)
		return PL_EINVAL;
	mb = env->membership;
	if (!ns_id_ok(mb->channel) || !ns_id_ok(mb->user))
		return PL_EINVAL;
	consume_event("l", mb->channel, "", mb->user, "", NULL, NULL, NULL);
	return 0;
}

static void consume_flush(void);

/* consume_retry - the backoff timer: send the same batch again */
static void
consume_retry(void *arg)
{
	(void)arg;
	pl_loop_timer_stop(&nc.retry);
	nc.inflight = 0;
	consume_flush();
}

/* consume_done - the batch committed (next one) or failed (same one later) */
static void
consume_done(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (nc.stopping)
		return;
	pl_metrics_observe(nc.m_latency, (double)(pl_clock_mono_us() - nc.t0_us) / 1e6);
	if (rv != 0) {
		uint64_t delay = pl_backoff_next(&nc.bo);

		pl_metrics_inc(nc.m_errors);
		pl_log_warn("NS-APPLY-RETRY", "events=%zu err=%s state=%s delay_ms=%llu",
		    nc.nsent, pl_err_str(rv), pl_pg_sqlstate(ns.db),
		    (unsigned long long)delay);
		if (pl_loop_timer(ns.loop, delay, 0, consume_retry, NULL, &nc.retry) != 0)
			nc.inflight = 0;
		return;
	}
	pl_backoff_reset(&nc.bo);
	{
		double now = (double)pl_clock_wall_us() / 1e6;
		size_t i;

		for (i = 0; i < nc.nts_sent; i++)
			pl_metrics_observe(nc.m_e2e, now - nc.ts_sent[i]);
		nc.nts_sent = 0;
	}
	ns_cache_bump(nc.teams_sent, nc.nteams_sent, nc.unknown_sent);
	nc.nteams_sent = nc.unknown_sent = 0;
	pl_metrics_add(nc.m_events, (double)nc.nsent);
	pl_metrics_inc(nc.m_batches);
	pl_buf_reset(&nc.sent);
	nc.nsent = 0;
	nc.inflight = 0;
	if (nc.paused && nc.nrec < (size_t)ns_conf.batch_max * 4) {
		pl_kafka_consumer_pause(nc.c, 0);
		nc.paused = 0;
	}
	consume_flush();
}

/* consume_flush - seal the waiting records into a batch unless one runs */
static void
consume_flush(void)
{
	const char *p[1];
	int k, i, first = 1, rv;

	if (nc.inflight || nc.retry != NULL)
		return;
	if (nc.sent.len == 0) {
		if (nc.nrec == 0)
			return;
		pl_buf_printf(&nc.sent, "{\"dl\":%lld,\"ev\":[", (long long)ns_conf.push_delay_ms);
		if (nc.ev.len)
			pl_buf_append(&nc.sent, nc.ev.data, nc.ev.len);
		pl_buf_puts(&nc.sent, "],\"off\":[");
		for (k = 0; k < NS_TOPICS; k++) {
			for (i = 0; i < nc.t[k].nparts; i++) {
				if (!nc.t[k].dirty[i])
					continue;
				nc.t[k].dirty[i] = 0;
				pl_buf_printf(&nc.sent, "%s{\"t\":\"%s\",\"p\":%d,\"o\":%lld}",
				    first ? "" : ",", ns_topics[k], i,
				    (long long)nc.t[k].next[i]);
				first = 0;
			}
		}
		pl_buf_puts(&nc.sent, "]}");
		nc.nsent = nc.nev;
		{	/* swap the ts lists: the batch's go with it */
			double *t = nc.ts_sent;
			size_t c = nc.cap_ts_sent;

			nc.ts_sent = nc.ts;
			nc.cap_ts_sent = nc.cap_ts;
			nc.nts_sent = nc.nts;
			nc.ts = t;
			nc.cap_ts = c;
			nc.nts = 0;
		}
		pl_buf_reset(&nc.ev);
		nc.nev = nc.nrec = 0;
		memcpy(nc.teams_sent, nc.teams, sizeof(nc.teams));
		nc.nteams_sent = nc.nteams;
		nc.unknown_sent = nc.unknown;
		nc.nteams = nc.unknown = 0;
	}
	p[0] = nc.sent.data;
	nc.inflight = 1;
	nc.t0_us = pl_clock_mono_us();
	rv = pl_pg_query(ns.db, "SELECT ns_apply_batch($1::jsonb)", 1, p, consume_done, NULL);
	if (rv != 0)
		consume_done(rv, NULL, NULL);
}

/* consume_msg - one record of our partitions */
static void
consume_msg(const struct pl_kafka_msg *km, void *arg)
{
	Parley__Envelope *env;
	int k, rv = PL_EINVAL;

	(void)arg;
	k = strcmp(km->topic, PL_TOPIC_MESSAGES) == 0 ? 0 : 1;
	if (km->partition < 0 || km->partition >= nc.t[k].nparts)
		return;
	pl_metrics_inc(nc.m_records);
	env = parley__envelope__unpack(NULL, km->len, km->payload);
	if (env != NULL) {
		size_t before = nc.nev;

		rv = k == 0 ? consume_message(env) : consume_team_event(env);
		if (nc.nev != before)
			consume_team_note(ns_id_ok(env->team) ? env->team :
			    env->body_case == PARLEY__ENVELOPE__BODY_MESSAGE ?
			    env->message->team : NULL);
	}
	if (rv != 0) {
		pl_metrics_inc(nc.m_bad);
		pl_log_warn("NS-RECORD-BAD", "topic=%s partition=%d offset=%lld", km->topic,
		    (int)km->partition, (long long)km->offset);
	}
	if (env != NULL)
		parley__envelope__free_unpacked(env, NULL);
	nc.t[k].next[km->partition] = km->offset + 1;
	nc.t[k].dirty[km->partition] = 1;
	nc.nrec++;
	if (!nc.paused && nc.nrec > (size_t)ns_conf.batch_max * 20) {
		pl_kafka_consumer_pause(nc.c, 1);
		nc.paused = 1;
	}
	/* a batch seals at batch_max records or when the previous one commits */
	if (nc.nev >= (size_t)ns_conf.batch_max || !nc.inflight)
		consume_flush();
}

/* consume_assign - topic k: count, own, assign from the stored offsets */
static int
consume_assign(int k)
{
	struct ns_topic *t = &nc.t[k];
	int32_t *parts;
	int64_t *offs;
	int i, n = 0, rv;

	parts = pl_calloc((size_t)t->nparts + 1, sizeof(*parts));
	offs = pl_calloc((size_t)t->nparts + 1, sizeof(*offs));
	for (i = 0; i < t->nparts; i++) {
		if (i % (int)ns_conf.replicas != (int)ns_conf.ordinal)
			continue;
		t->owned[i] = 1;
		parts[n] = i;
		offs[n++] = t->next[i];
		pl_log_info("NS-ASSIGN", "topic=%s partition=%d offset=%lld", ns_topics[k], i,
		    (long long)t->next[i]);
	}
	rv = n ? pl_kafka_consumer_assign(nc.c, ns_topics[k], parts, offs, n,
	    PL_KAFKA_OFFSET_BEGINNING) : 0;
	free(parts);
	free(offs);
	return rv;
}

/* ns_consume_start - metrics, consumer, partitions, stored offsets */
int
ns_consume_start(void)
{
	int k, n, rv;

	nc.m_records = pl_metrics_counter("parley_notify_records_total",
	    "Log records read (both topics).", NULL);
	nc.m_events = pl_metrics_counter("parley_notify_counts_updated_total",
	    "Events applied to the counts (messages, deletions, joins, leaves).", NULL);
	nc.m_batches = pl_metrics_counter("parley_notify_batches_total",
	    "ns_apply_batch statements committed.", NULL);
	nc.m_errors = pl_metrics_counter("parley_notify_apply_errors_total",
	    "ns_apply_batch statements that failed (retried with backoff).", NULL);
	nc.m_bad = pl_metrics_counter("parley_notify_bad_records_total",
	    "Records skipped: undecodable or with ids that are not plain ids.", NULL);
	nc.m_latency = pl_metrics_histogram("parley_notify_apply_seconds",
	    "Time of one ns_apply_batch statement.", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	nc.m_e2e = pl_metrics_histogram("parley_notify_count_delay_seconds",
	    "From a message's ts (its acknowledgement at message-svc) to its count "
	    "committed in notify-svc's database.", NULL, PL_METRICS_LATENCY_S,
	    PL_METRICS_LATENCY_S_N);
	pl_buf_init(&nc.ev);
	pl_buf_init(&nc.sent);
	pl_backoff_init(&nc.bo, 100, 5000, pl_clock_mono_us());
	if ((rv = pl_kafka_consumer_start(ns.loop, ns.brokers, "fetch.wait.max.ms=20",
	    consume_msg, NULL, NULL, &nc.c)) != 0)
		return rv;
	for (k = 0; k < NS_TOPICS; k++) {
		if ((n = pl_kafka_partition_count(nc.c, ns_topics[k], 10000)) <= 0)
			return n < 0 ? n : PL_ENOTFOUND;
		nc.t[k].nparts = n;
		nc.t[k].next = pl_calloc((size_t)n, sizeof(int64_t));
		nc.t[k].dirty = pl_calloc((size_t)n, 1);
		nc.t[k].owned = pl_calloc((size_t)n, 1);
	}
	if ((rv = consume_offsets()) != 0)
		return rv;
	for (k = 0; k < NS_TOPICS; k++)
		if ((rv = consume_assign(k)) != 0)
			return rv;
	nc.ready = 1;
	return 0;
}

/* ns_consume_ready - assigned */
int
ns_consume_ready(void)
{
	return nc.ready;
}

/* ns_consume_lag - records behind the end plus those not yet committed */
int64_t
ns_consume_lag(void)
{
	int64_t lag = nc.c ? pl_kafka_consumer_lag(nc.c) : -1;

	return (int64_t)(nc.nrec + nc.nsent) + (lag > 0 ? lag : 0);
}

/* ns_consume_stop - stop; what is not committed is re-read next start */
void
ns_consume_stop(void)
{
	int k;

	nc.stopping = 1;
	if (nc.retry != NULL)
		pl_loop_timer_stop(&nc.retry);
	if (nc.c != NULL)
		pl_kafka_consumer_stop(&nc.c);
	for (k = 0; k < NS_TOPICS; k++) {
		pl_free(&nc.t[k].next);
		pl_free(&nc.t[k].dirty);
		pl_free(&nc.t[k].owned);
	}
	pl_buf_fini(&nc.ev);
	pl_buf_fini(&nc.sent);
	pl_free(&nc.ts);
	pl_free(&nc.ts_sent);
}
