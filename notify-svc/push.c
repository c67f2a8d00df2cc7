/* push.c - push notifications, exactly once per (user, message) by key.
 *
 * 1. The consumer writes a push candidate (a mention, <!channel>, any DM or
 *    'G' channel message; any channel-level message when the team has
 *    notify=all users, kept in the row's all_users) into ns_outbox in
 *    the same transaction as the offsets (consume.c), due push-delay-ms
 *    later.
 * 2. The expander takes due outbox rows one by one: the channel's kind and
 *    members from the directory (active users of the channel's team only),
 *    the recipients (explicit mentions; every member for <!channel> and in
 *    DMs and group DMs; members among all_users, kind "message", if still
 *    notify=all at expansion; never the author), those with no live connection
 *    (online.c: presence-svc's presence.query; unanswered = offline), then
 *    one statement inserts an ns_push row per recipient
 *    still unread, not muted, not set to nothing, not snoozed and with a
 *    device, keyed "push:<user>:<channel>:<ts>", and deletes the outbox row.
 * 3. The sender cancels pending rows read or deleted meanwhile, leases due
 *    rows (FOR UPDATE SKIP LOCKED, next_ms moves past the request's
 *    timeout), checks membership again in the directory (nothing about a
 *    channel the user is no longer in), and POSTs one request per row with
 *    libcurl on the loop (http.c), header Idempotency-Key: <key>. 2xx marks
 *    it sent; 4xx (not 408/429) rejected; anything else retries with full
 *    jitter backoff. A circuit breaker (lib/breaker.c) stops sending while
 *    the endpoint keeps failing: rows wait in PostgreSQL, one probe at a
 *    time half-opens it, success drains the queue.
 * A crash anywhere resends from PostgreSQL: an outbox row stays until its
 * expansion commits, a leased row comes due again after its lease, and a
 * resend carries the same key. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "breaker.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "pg.h"

#define NS_OUTBOX_BATCH 50	/* outbox rows per look */
#define NS_PUSH_FANOUT_MAX 5000	/* recipients of one message considered */

struct ob_row {
	char channel[NS_ID_MAX + 1], ts[NS_ID_MAX + 1], team[NS_ID_MAX + 1];
	char author[NS_ID_MAX + 1], thr[NS_ID_MAX + 1];
	char *users;			/* PostgreSQL text[] literal of the mentioned */
	int broadcast;
	char *all;			/* text[] literal: the team's notify=all users */
};

struct lease_row {
	char key[4 * NS_ID_MAX + 16];
	char user[NS_ID_MAX + 1], team[NS_ID_MAX + 1], channel[NS_ID_MAX + 1];
	char ts[NS_ID_MAX + 1], thr[NS_ID_MAX + 1], author[NS_ID_MAX + 1], kind[16];
	int attempts;
	char *devices;			/* "platform token platform token ..." */
	int member;
};

static struct {
	struct pl_timer *scan, *stats;
	struct pl_breaker br;
	enum pl_breaker_state last_state;
	/* expander */
	int expanding;
	struct ob_row *rows;
	int nrows, at;
	char (*recips)[NS_ID_MAX + 1];
	const char **rkind;
	int nrecips;
	int *online;
	/* sender */
	int leasing;
	int push_on;			/* PARLEY_PUSH_URL set: the sender runs */
	int stopping;			/* callbacks after ns_push_stop return at once */
	struct lease_row *leased;
	int nleased;
	int inflight;
	struct pl_buf acks;		/* keys answered 2xx, not yet marked sent */
	int nacks, acking;
	double queue_depth, queue_age_s, outbox_depth;
	struct pl_metric *m_sent, *m_rejected, *m_retried, *m_cancelled, *m_not_member;
	struct pl_metric *m_expanded, *m_online, *m_latency;
} np;

static void send_scan(void);
static void exp_next(void);

/* ---------------------------------------------------------------- expander */

/* exp_free_rows - the outbox rows of the last look */
static void
exp_free_rows(void)
{
	int i;

	for (i = 0; i < np.nrows; i++) {
		free(np.rows[i].users);
		free(np.rows[i].all);
	}
	pl_free(&np.rows);
	np.nrows = np.at = 0;
}

/* exp_finish - the look is over: look again now if it was full */
static void
exp_finish(void)
{
	exp_free_rows();
	np.expanding = 0;
	if (np.push_on)
		send_scan();
}

/* exp_expanded - one outbox row became its ns_push rows (or failed: it stays
 * and is taken again at the next look) */
static void
exp_expanded(int rv, struct pg_result *res, void *arg)
{
	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0) {
		pl_log_warn("NS-PUSH-EXPAND-FAIL", "channel=%s ts=%s err=%s",
		    np.rows[np.at].channel, np.rows[np.at].ts, pl_err_str(rv));
		exp_finish();
		return;
	}
	if (PQntuples(res) == 1)
		pl_metrics_add(np.m_expanded, (double)atoll(PQgetvalue(res, 0, 0)));
	np.at++;
	exp_next();
}

/* exp_store - the recipients left after the online check, as one statement */
static void
exp_store(void)
{
	static const char sql[] =
	    "WITH r AS (SELECT u, k, online FROM unnest($3::text[], $4::text[], $8::boolean[])"
	    "  AS x(u, k, online)),"
	    " o AS (SELECT * FROM ns_outbox WHERE channel = $1 AND ts = $2),"
	    " ins AS (INSERT INTO ns_push (key, user_id, team_id, channel, ts, thread_ts,"
	    "  author, kind, next_ms, created_ms)"
	    "  SELECT 'push:' || r.u || ':' || o.channel || ':' || o.ts, r.u, o.team_id,"
	    "  o.channel, o.ts, o.thread_ts, o.author, r.k, $5, $5 FROM r, o WHERE"
	    "  NOT EXISTS (SELECT 1 FROM ns_markers k WHERE k.user_id = r.u"
	    "   AND k.channel = o.channel AND k.thread_ts = o.thread_ts"
	    "   AND k.last_read >= o.ts)"
	    "  AND NOT EXISTS (SELECT 1 FROM ns_log l WHERE l.channel = o.channel"
	    "   AND l.ts = o.ts AND l.deleted)"
	    "  AND NOT EXISTS (SELECT 1 FROM ns_prefs f WHERE f.user_id = r.u"
	    "   AND (f.notify = 'nothing'"
	    "   OR o.channel = ANY (string_to_array(f.muted_channels, ','))))"
	    "  AND NOT EXISTS (SELECT 1 FROM ns_dnd d WHERE d.user_id = r.u"
	    "   AND d.snooze_end * 1000 > $5)"
	    "  AND EXISTS (SELECT 1 FROM ns_devices v WHERE v.user_id = r.u)"
	    "  AND (r.k <> 'message' OR EXISTS (SELECT 1 FROM ns_prefs f"
	    "   WHERE f.user_id = r.u AND f.notify = 'all'))"
	    "  AND NOT r.online AND $6::boolean"
	    "  ON CONFLICT DO NOTHING RETURNING 1),"
	    /* digests: every recipient (online too: they may not read it) */
	    " dig AS (INSERT INTO ns_digest_items (user_id, team_id, channel, ts, thread_ts,"
	    "  author, kind, text, created_ms)"
	    "  SELECT r.u, o.team_id, o.channel, o.ts, o.thread_ts, o.author, r.k, o.text, $5"
	    "  FROM r, o WHERE $7::boolean AND r.k <> 'message'"
	    "  AND NOT EXISTS (SELECT 1 FROM ns_markers k WHERE k.user_id = r.u"
	    "   AND k.channel = o.channel AND k.thread_ts = o.thread_ts"
	    "   AND k.last_read >= o.ts)"
	    "  AND NOT EXISTS (SELECT 1 FROM ns_prefs f WHERE f.user_id = r.u"
	    "   AND (f.notify = 'nothing'"
	    "   OR o.channel = ANY (string_to_array(f.muted_channels, ','))))"
	    "  ON CONFLICT DO NOTHING RETURNING 1),"
	    " del AS (DELETE FROM ns_outbox WHERE channel = $1 AND ts = $2 RETURNING 1)"
	    " SELECT (SELECT count(*) FROM ins), (SELECT count(*) FROM del),"
	    " (SELECT count(*) FROM dig)";
	const struct ob_row *o = &np.rows[np.at];
	struct pl_buf users, kinds, online;
	char now[24];
	const char *p[8];
	int i, rv;

	pl_buf_init(&users);
	pl_buf_init(&kinds);
	pl_buf_init(&online);
	pl_buf_puts(&users, "{");
	pl_buf_puts(&kinds, "{");
	pl_buf_puts(&online, "{");
	for (i = 0; i < np.nrecips; i++) {
		if (np.online[i])
			pl_metrics_inc(np.m_online);
		pl_buf_printf(&users, "%s%s", i ? "," : "", np.recips[i]);
		pl_buf_printf(&kinds, "%s%s", i ? "," : "", np.rkind[i]);
		pl_buf_printf(&online, "%s%s", i ? "," : "", np.online[i] ? "t" : "f");
	}
	pl_buf_puts(&users, "}");
	pl_buf_puts(&kinds, "}");
	pl_buf_puts(&online, "}");
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	p[0] = o->channel;
	p[1] = o->ts;
	p[2] = users.data;
	p[3] = kinds.data;
	p[4] = now;
	p[5] = np.push_on ? "true" : "false";
	p[6] = ns_conf.smtp_url != NULL && ns_conf.smtp_url[0] ? "true" : "false";
	p[7] = online.data;
	rv = pl_pg_query(ns.db, sql, 8, p, exp_expanded, NULL);
	pl_buf_fini(&users);
	pl_buf_fini(&kinds);
	pl_buf_fini(&online);
	if (rv != 0)
		exp_expanded(rv, NULL, NULL);
}

/* exp_online - presence-svc answered for the recipients (those it did not
 * answer for are offline: online.c) */
static void
exp_online(int rv, void *arg)
{
	(void)rv;
	(void)arg;
	if (np.stopping)
		return;
	exp_store();
}

/* exp_mentioned - is user in the row's PostgreSQL array literal {U1,U2} */
static int
exp_mentioned(const char *arr, const char *user)
{
	size_t n = strlen(user);
	const char *p = arr;

	while ((p = strstr(p, user)) != NULL) {
		if ((p[-1] == '{' || p[-1] == ',') && (p[n] == ',' || p[n] == '}'))
			return 1;
		p += n;
	}
	return 0;
}

/* exp_members - the channel's kind and active members of its team */
static void
exp_members(int rv, struct pg_result *res, void *arg)
{
	const struct ob_row *o = &np.rows[np.at];
	int i, n, dm;

	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0) {
		pl_log_warn("NS-PUSH-DIR-FAIL", "err=%s", pl_err_str(rv));
		exp_finish();
		return;
	}
	n = PQntuples(res);
	np.nrecips = 0;
	np.recips = pl_realloc(np.recips, (size_t)(n + 1) * sizeof(*np.recips));
	np.rkind = pl_realloc(np.rkind, (size_t)(n + 1) * sizeof(*np.rkind));
	np.online = pl_realloc(np.online, (size_t)(n + 1) * sizeof(*np.online));
	for (i = 0; i < n && np.nrecips < NS_PUSH_FANOUT_MAX; i++) {
		const char *kind = PQgetvalue(res, i, 0), *u = PQgetvalue(res, i, 1);
		int named, all;

		dm = strcmp(kind, "dm") == 0 || strcmp(kind, "group") == 0;
		if (strcmp(u, o->author) == 0 || !ns_id_ok(u))
			continue;
		named = exp_mentioned(o->users, u);
		all = !named && !dm && !o->broadcast && exp_mentioned(o->all, u);
		if (!named && !dm && !o->broadcast && !all)
			continue;
		snprintf(np.recips[np.nrecips], NS_ID_MAX + 1, "%s", u);
		np.rkind[np.nrecips] = named ? "mention" : dm ? "dm" : all ? "message" :
		    "channel";
		np.nrecips++;
	}
	if (np.nrecips == 0) {
		exp_store();		/* nobody: the outbox row goes */
		return;
	}
	if (!np.push_on) {		/* digests only: presence does not matter */
		memset(np.online, 0, (size_t)np.nrecips * sizeof(*np.online));
		exp_store();
		return;
	}
	if (ns_online(o->team, np.recips, np.nrecips, np.online, exp_online, NULL) != 0) {
		memset(np.online, 0, (size_t)np.nrecips * sizeof(*np.online));
		exp_store();
	}
}

/* exp_next - the next outbox row of the look, or the end of the look */
static void
exp_next(void)
{
	static const char sql[] = "SELECT c.kind, m.user_id FROM channels c"
	    " JOIN channel_members m ON m.channel_id = c.id"
	    " JOIN users u ON u.id = m.user_id AND u.team_id = c.team_id AND NOT u.deleted"
	    " WHERE c.id = $1 AND c.team_id = $2 ORDER BY m.user_id LIMIT 10000";
	const char *p[2];

	if (np.at >= np.nrows) {
		exp_finish();
		return;
	}
	p[0] = np.rows[np.at].channel;
	p[1] = np.rows[np.at].team;
	if (pl_pg_query(ns.dir, sql, 2, p, exp_members, NULL) != 0)
		exp_finish();
}

/* exp_rows - the due outbox rows */
static void
exp_rows(int rv, struct pg_result *res, void *arg)
{
	int i, n;

	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0) {
		np.expanding = 0;
		return;
	}
	n = PQntuples(res);
	np.rows = pl_calloc((size_t)n + 1, sizeof(*np.rows));
	for (i = 0; i < n; i++) {
		struct ob_row *o = &np.rows[np.nrows];

		snprintf(o->channel, sizeof(o->channel), "%s", PQgetvalue(res, i, 0));
		snprintf(o->ts, sizeof(o->ts), "%s", PQgetvalue(res, i, 1));
		snprintf(o->team, sizeof(o->team), "%s", PQgetvalue(res, i, 2));
		snprintf(o->author, sizeof(o->author), "%s", PQgetvalue(res, i, 3));
		snprintf(o->thr, sizeof(o->thr), "%s", PQgetvalue(res, i, 4));
		o->users = pl_strdup(PQgetvalue(res, i, 5));
		o->broadcast = PQgetvalue(res, i, 6)[0] == 't';
		o->all = pl_strdup(PQgetvalue(res, i, 7));
		np.nrows++;
	}
	exp_next();
}

/* exp_scan - look at the outbox unless a look runs */
static void
exp_scan(void)
{
	static const char sql[] = "SELECT channel, ts, team_id, author, thread_ts, users,"
	    " broadcast, all_users FROM ns_outbox WHERE due_ms <= $1 ORDER BY due_ms LIMIT 50";
	char now[24];
	const char *p[1];

	if (np.expanding)
		return;
	np.expanding = 1;
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	p[0] = now;
	if (pl_pg_query(ns.db, sql, 1, p, exp_rows, NULL) != 0)
		np.expanding = 0;
}

/* ---------------------------------------------------------------- sender */

/* send_state_log - say when the breaker changes state */
static void
send_state_log(void)
{
	if (np.br.state == np.last_state)
		return;
	pl_log_info("NS-PUSH-BREAKER", "state=%s failures=%u",
	    pl_breaker_state_name(np.br.state), np.br.failures);
	np.last_state = np.br.state;
}

/* send_ignore - completion of a bookkeeping statement (failure: the lease
 * runs out and the row is sent again with the same key) */
static void
send_ignore(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (rv != 0)
		pl_log_warn("NS-PUSH-STATE-FAIL", "err=%s", pl_err_str(rv));
}

/* send_mark - set a row's outcome: state "sent" | "rejected" | "cancelled",
 * or NULL with a retry time */
static void
send_mark(const char *key, const char *state, uint64_t next_ms)
{
	char now[24], next[24];
	const char *p[3];

	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	snprintf(next, sizeof(next), "%llu", (unsigned long long)next_ms);
	p[0] = key;
	if (state != NULL) {
		p[1] = state;
		p[2] = now;
		(void)pl_pg_query(ns.db, "UPDATE ns_push SET state = $2, done_ms = $3"
		    " WHERE key = $1 AND state = 'pending'", 3, p, send_ignore, NULL);
	} else {
		p[1] = next;
		(void)pl_pg_query(ns.db, "UPDATE ns_push SET next_ms = $2 WHERE key = $1"
		    " AND state = 'pending'", 2, p, send_ignore, NULL);
	}
}

static void ack_flush(void);

/* ack_done - a batch of "sent" marks committed (or not: their leases run
 * out and they are sent again with the same key) */
static void
ack_done(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0)
		pl_log_warn("NS-PUSH-STATE-FAIL", "err=%s", pl_err_str(rv));
	np.acking = 0;
	ack_flush();
}

/* ack_flush - mark every key answered since the last flush as sent, in one
 * statement (one per request would bound the sender by round trips) */
static void
ack_flush(void)
{
	char now[24];
	const char *p[2];
	int rv;

	if (np.acking || np.nacks == 0)
		return;
	pl_buf_puts(&np.acks, "}");
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	p[0] = np.acks.data;
	p[1] = now;
	np.acking = 1;
	rv = pl_pg_query(ns.db, "UPDATE ns_push SET state = 'sent', done_ms = $2"
	    " WHERE key = ANY ($1::text[]) AND state = 'pending'", 2, p, ack_done, NULL);
	pl_buf_reset(&np.acks);
	np.nacks = 0;
	if (rv != 0)
		np.acking = 0;
}

/* ack_add - key was answered 2xx */
static void
ack_add(const char *key)
{
	pl_buf_puts(&np.acks, np.nacks ? "," : "{");
	pl_buf_puts(&np.acks, key);
	np.nacks++;
	ack_flush();
}

struct send_op {
	char key[4 * NS_ID_MAX + 16];
	int attempts;
	uint64_t t0_us;
};

/* send_done - the push gateway answered (or did not) */
static void
send_done(int status, int rv, void *arg)
{
	struct send_op *op = arg;
	uint64_t now = pl_clock_wall_us() / 1000;

	np.inflight--;
	pl_metrics_observe(np.m_latency, (double)(pl_clock_mono_us() - op->t0_us) / 1e6);
	if (rv == 0 && status >= 200 && status < 300) {
		pl_breaker_success(&np.br);
		pl_metrics_inc(np.m_sent);
		pl_log_debug("NS-PUSH-SENT", "key=%s status=%d", op->key, status);
		ack_add(op->key);
	} else if (rv == 0 && status >= 400 && status < 500 && status != 408 && status != 429) {
		pl_breaker_success(&np.br);	/* the endpoint is up: the request is bad */
		pl_metrics_inc(np.m_rejected);
		pl_log_warn("NS-PUSH-REJECTED", "key=%s status=%d", op->key, status);
		send_mark(op->key, "rejected", 0);
	} else {
		uint64_t cap = (uint64_t)ns_conf.push_backoff_cap_ms, d;
		int sh = op->attempts < 30 ? op->attempts : 30;

		d = (uint64_t)ns_conf.push_backoff_base_ms << sh;
		if (d > cap || d >> sh != (uint64_t)ns_conf.push_backoff_base_ms)
			d = cap;
		d = pl_jitter_ms(0, d);		/* full jitter */
		pl_breaker_failure(&np.br, pl_clock_mono_ms());
		pl_metrics_inc(np.m_retried);
		pl_log_warn("NS-PUSH-RETRY", "key=%s status=%d err=%s attempts=%d delay_ms=%llu",
		    op->key, status, pl_err_str(rv), op->attempts, (unsigned long long)d);
		send_mark(op->key, NULL, now + d);
	}
	send_state_log();
	free(op);
	/* refill in chunks: a lease round per completion would cost three
	 * statements per request */
	if (np.inflight <= (int)ns_conf.push_max_inflight / 2)
		send_scan();
}

/* send_body - the Matrix push gateway notification of a leased row */
static void
send_body(struct pl_buf *b, const struct lease_row *r)
{
	char *dev = pl_strdup(r->devices), *save = NULL, *plat, *tok;
	int first = 1;

	pl_buf_puts(b, "{\"notification\":{\"event_id\":");
	pl_buf_json_str(b, r->ts);
	pl_buf_puts(b, ",\"room_id\":");
	pl_buf_json_str(b, r->channel);
	pl_buf_puts(b, ",\"type\":\"m.room.message\",\"sender\":");
	pl_buf_json_str(b, r->author);
	pl_buf_puts(b, ",\"prio\":\"high\",\"devices\":[");
	for (plat = strtok_r(dev, " ", &save); plat != NULL; plat = strtok_r(NULL, " ", &save)) {
		if ((tok = strtok_r(NULL, " ", &save)) == NULL)
			break;
		pl_buf_puts(b, first ? "{\"app_id\":" : ",{\"app_id\":");
		first = 0;
		pl_buf_json_str(b, plat);
		pl_buf_puts(b, ",\"pushkey\":");
		pl_buf_json_str(b, tok);
		pl_buf_puts(b, "}");
	}
	pl_buf_puts(b, "],\"parley\":{\"id\":");
	pl_buf_json_str(b, r->key);
	pl_buf_puts(b, ",\"user\":");
	pl_buf_json_str(b, r->user);
	pl_buf_puts(b, ",\"team\":");
	pl_buf_json_str(b, r->team);
	pl_buf_puts(b, ",\"kind\":");
	pl_buf_json_str(b, r->kind);
	pl_buf_puts(b, ",\"thread_ts\":");
	pl_buf_json_str(b, r->thr);
	pl_buf_puts(b, "}}}");
	free(dev);
}

/* send_free_leased - the rows of the last lease */
static void
send_free_leased(void)
{
	int i;

	for (i = 0; i < np.nleased; i++)
		free(np.leased[i].devices);
	pl_free(&np.leased);
	np.nleased = 0;
}

/* send_go - membership checked: POST each row still allowed */
static void
send_go(int rv, struct pg_result *res, void *arg)
{
	uint64_t now = pl_clock_wall_us() / 1000;
	int i, j;

	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0) {
		/* the directory did not answer: nothing goes out unchecked; the
		 * leases run out and the rows come back */
		pl_log_warn("NS-PUSH-DIR-FAIL", "err=%s", pl_err_str(rv));
		goto out;
	}
	for (j = 0; j < PQntuples(res); j++)
		for (i = 0; i < np.nleased; i++)
			if (strcmp(np.leased[i].channel, PQgetvalue(res, j, 0)) == 0 &&
			    strcmp(np.leased[i].user, PQgetvalue(res, j, 1)) == 0)
				np.leased[i].member = 1;
	for (i = 0; i < np.nleased; i++) {
		struct lease_row *r = &np.leased[i];
		struct send_op *op;
		struct pl_buf b;
		char hdr[4 * NS_ID_MAX + 64];
		const char *h[1];

		if (!r->member || r->devices[0] == '\0') {
			pl_metrics_inc(np.m_not_member);
			pl_log_info("NS-PUSH-DROPPED", "key=%s why=%s", r->key, !r->member ?
			    "not_member" : "no_device");
			send_mark(r->key, "cancelled", 0);
			continue;
		}
		if (!pl_breaker_allow(&np.br, pl_clock_mono_ms())) {
			send_mark(r->key, NULL, now);	/* back in the queue, due now */
			continue;
		}
		op = pl_calloc(1, sizeof(*op));
		snprintf(op->key, sizeof(op->key), "%s", r->key);
		op->attempts = r->attempts;
		op->t0_us = pl_clock_mono_us();
		pl_buf_init(&b);
		send_body(&b, r);
		snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", r->key);
		h[0] = hdr;
		if (ns_http_post(ns_conf.push_url, b.data, h, 1, (long)ns_conf.push_timeout_ms,
		    send_done, op) != 0) {
			pl_breaker_failure(&np.br, pl_clock_mono_ms());
			send_mark(r->key, NULL, now + (uint64_t)ns_conf.push_backoff_base_ms);
			free(op);
		} else {
			np.inflight++;
		}
		pl_buf_fini(&b);
	}
	send_state_log();
out:
	send_free_leased();
	np.leasing = 0;
}

/* send_leased - the due rows are ours for a while: check membership */
static void
send_leased(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "SELECT x.c, x.u FROM unnest($1::text[], $2::text[])"
	    " AS x(c, u) JOIN channel_members m ON m.channel_id = x.c AND m.user_id = x.u"
	    " JOIN users us ON us.id = x.u AND NOT us.deleted"
	    " JOIN channels ch ON ch.id = x.c AND ch.team_id = us.team_id";
	struct pl_buf chans, users;
	const char *p[2];
	int i, n;

	(void)arg;
	if (np.stopping)
		return;
	if (rv != 0 || (n = PQntuples(res)) == 0) {
		np.leasing = 0;
		return;
	}
	np.leased = pl_calloc((size_t)n, sizeof(*np.leased));
	pl_buf_init(&chans);
	pl_buf_init(&users);
	pl_buf_puts(&chans, "{");
	pl_buf_puts(&users, "{");
	for (i = 0; i < n; i++) {
		struct lease_row *r = &np.leased[np.nleased++];

		snprintf(r->key, sizeof(r->key), "%s", PQgetvalue(res, i, 0));
		snprintf(r->user, sizeof(r->user), "%s", PQgetvalue(res, i, 1));
		snprintf(r->team, sizeof(r->team), "%s", PQgetvalue(res, i, 2));
		snprintf(r->channel, sizeof(r->channel), "%s", PQgetvalue(res, i, 3));
		snprintf(r->ts, sizeof(r->ts), "%s", PQgetvalue(res, i, 4));
		snprintf(r->thr, sizeof(r->thr), "%s", PQgetvalue(res, i, 5));
		snprintf(r->author, sizeof(r->author), "%s", PQgetvalue(res, i, 6));
		snprintf(r->kind, sizeof(r->kind), "%s", PQgetvalue(res, i, 7));
		r->attempts = atoi(PQgetvalue(res, i, 8));
		r->devices = pl_strdup(PQgetvalue(res, i, 9));
		pl_buf_printf(&chans, "%s%s", i ? "," : "", r->channel);
		pl_buf_printf(&users, "%s%s", i ? "," : "", r->user);
	}
	pl_buf_puts(&chans, "}");
	pl_buf_puts(&users, "}");
	p[0] = chans.data;
	p[1] = users.data;
	rv = pl_pg_query(ns.dir, sql, 2, p, send_go, NULL);
	pl_buf_fini(&chans);
	pl_buf_fini(&users);
	if (rv != 0)
		send_go(rv, NULL, NULL);
}

/* send_lease - take up to n due rows */
static void
send_lease(int n)
{
	static const char sql[] = "UPDATE ns_push p SET next_ms = $1::bigint + $3::bigint,"
	    " attempts = p.attempts + 1"
	    " FROM (SELECT key FROM ns_push WHERE state = 'pending' AND next_ms <= $1"
	    "  ORDER BY next_ms LIMIT $2 FOR UPDATE SKIP LOCKED) s WHERE p.key = s.key"
	    " RETURNING p.key, p.user_id, p.team_id, p.channel, p.ts, p.thread_ts, p.author,"
	    " p.kind, p.attempts, coalesce((SELECT string_agg(v.platform || ' ' || v.token,"
	    " ' ' ORDER BY v.token) FROM ns_devices v WHERE v.user_id = p.user_id), '')";
	char now[24], lim[16], lease[24];
	const char *p[3];

	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	snprintf(lim, sizeof(lim), "%d", n);
	snprintf(lease, sizeof(lease), "%lld", (long long)ns_conf.push_timeout_ms * 2 + 1000);
	p[0] = now;
	p[1] = lim;
	p[2] = lease;
	if (pl_pg_query(ns.db, sql, 3, p, send_leased, NULL) != 0)
		np.leasing = 0;
}

/* send_cancelled - rows read or deleted meanwhile are cancelled: lease */
static void
send_cancelled(int rv, struct pg_result *res, void *arg)
{
	int n = (int)(intptr_t)arg;

	if (np.stopping)
		return;
	if (rv == 0) {
		const char *t = PQcmdTuples(res);

		if (t && *t)
			pl_metrics_add(np.m_cancelled, (double)atoll(t));
	}
	send_lease(n);
}

/* send_scan - cancel what was read, then lease what the breaker allows */
static void
send_scan(void)
{
	static const char sql[] = "UPDATE ns_push p SET state = 'cancelled', done_ms = $1"
	    " WHERE p.state = 'pending' AND p.next_ms <= $1 AND (EXISTS (SELECT 1"
	    " FROM ns_markers k WHERE k.user_id = p.user_id AND k.channel = p.channel"
	    " AND k.thread_ts = p.thread_ts AND k.last_read >= p.ts) OR EXISTS"
	    " (SELECT 1 FROM ns_log l WHERE l.channel = p.channel AND l.ts = p.ts"
	    " AND l.deleted))";
	uint64_t mono = pl_clock_mono_ms();
	int n = (int)ns_conf.push_max_inflight - np.inflight;
	char now[24];
	const char *p[1];

	if (np.leasing || n <= 0)
		return;
	if (np.br.state == PL_BREAKER_OPEN && mono < np.br.opened_at_ms + np.br.open_ms)
		return;
	if (np.br.state == PL_BREAKER_HALF_OPEN && np.br.probe_in_flight)
		return;
	if (np.br.state != PL_BREAKER_CLOSED)
		n = 1;			/* one probe */
	np.leasing = 1;
	snprintf(now, sizeof(now), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000));
	p[0] = now;
	if (pl_pg_query(ns.db, sql, 1, p, send_cancelled, (void *)(intptr_t)n) != 0)
		np.leasing = 0;
}

/* ---------------------------------------------------------------- timers */

/* push_tick - the scan timer: expander and sender */
static void
push_tick(void *arg)
{
	(void)arg;
	exp_scan();
	if (np.push_on)
		send_scan();
}

/* push_stats_done - queue depth and age for /metrics */
static void
push_stats_done(int rv, struct pg_result *res, void *arg)
{
	uint64_t now = pl_clock_wall_us() / 1000;
	long long oldest;

	(void)arg;
	if (rv != 0 || PQntuples(res) != 1)
		return;
	np.queue_depth = (double)atoll(PQgetvalue(res, 0, 0));
	oldest = atoll(PQgetvalue(res, 0, 1));
	np.queue_age_s = oldest > 0 && (uint64_t)oldest < now ? (double)(now - (uint64_t)oldest) / 1e3 : 0;
	np.outbox_depth = (double)atoll(PQgetvalue(res, 0, 2));
}

/* push_stats - once a second */
static void
push_stats(void *arg)
{
	(void)arg;
	(void)pl_pg_query(ns.db, "SELECT (SELECT count(*) FROM ns_push WHERE state ="
	    " 'pending'), (SELECT coalesce(min(created_ms), 0) FROM ns_push WHERE state ="
	    " 'pending'), (SELECT count(*) FROM ns_outbox)", 0, NULL, push_stats_done, NULL);
}

static double push_g_depth(void *a) { (void)a; return np.queue_depth; }
static double push_g_age(void *a) { (void)a; return np.queue_age_s; }
static double push_g_outbox(void *a) { (void)a; return np.outbox_depth; }
static double push_g_breaker(void *a) { (void)a; return (double)np.br.state; }
static double push_g_inflight(void *a) { (void)a; return (double)np.inflight; }

/* push_counter - parley_notify_push_total{outcome} */
static struct pl_metric *
push_counter(const char *outcome)
{
	char labels[64];

	snprintf(labels, sizeof(labels), "outcome=\"%s\"", outcome);
	return pl_metrics_counter("parley_notify_push_total",
	    "Push notifications by outcome: sent (2xx), rejected (4xx), retried "
	    "(5xx, timeout, refused), cancelled (read or deleted first), dropped "
	    "(no longer a member, or no device).", labels);
}

/* ns_push_start - metrics, breaker, HTTP, timers (nothing when push is off) */
int
ns_push_start(void)
{
	int rv;

	np.m_sent = push_counter("sent");
	np.m_rejected = push_counter("rejected");
	np.m_retried = push_counter("retried");
	np.m_cancelled = push_counter("cancelled");
	np.m_not_member = push_counter("dropped");
	np.m_expanded = pl_metrics_counter("parley_notify_push_queued_total",
	    "(user, message) notifications queued for push.", NULL);
	np.m_online = pl_metrics_counter("parley_notify_push_online_total",
	    "Recipients skipped because they had a live connection.", NULL);
	np.m_latency = pl_metrics_histogram("parley_notify_push_request_seconds",
	    "Push gateway request time.", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	pl_metrics_gauge_fn("parley_notify_queue_depth",
	    "Push notifications waiting in PostgreSQL (pending).", NULL, push_g_depth, NULL);
	pl_metrics_gauge_fn("parley_notify_push_queue_age_seconds",
	    "Age of the oldest pending push notification.", NULL, push_g_age, NULL);
	pl_metrics_gauge_fn("parley_notify_outbox_depth",
	    "Push candidates waiting for their delay.", NULL, push_g_outbox, NULL);
	pl_metrics_gauge_fn("parley_notify_push_breaker_state",
	    "Push gateway circuit breaker: 0 closed, 1 open, 2 half-open.", NULL,
	    push_g_breaker, NULL);
	pl_metrics_gauge_fn("parley_notify_push_inflight", "Push requests running.", NULL,
	    push_g_inflight, NULL);
	pl_buf_init(&np.acks);
	/* the metrics exist (at 0) with push off too: alerts read them */
	np.push_on = ns_conf.push_url != NULL && ns_conf.push_url[0] != '\0';
	if (!ns_push_expander_on()) {
		pl_log_info("NS-PUSH-OFF", "why=no_push_url_no_smtp_url");
		return 0;
	}
	pl_breaker_init(&np.br, (unsigned)ns_conf.push_breaker_threshold,
	    (uint64_t)ns_conf.push_breaker_open_ms);
	if ((rv = ns_http_init(ns.loop)) != 0)
		return rv;
	if ((rv = pl_loop_timer(ns.loop, (uint64_t)ns_conf.push_scan_ms, 1, push_tick, NULL,
	    &np.scan)) != 0 ||
	    (rv = pl_loop_timer(ns.loop, 1000, 1, push_stats, NULL, &np.stats)) != 0)
		return rv;
	pl_log_info("NS-PUSH", "url=%s delay_ms=%lld", np.push_on ? ns_conf.push_url : "",
	    (long long)ns_conf.push_delay_ms);
	return 0;
}

/* ns_push_expander_on - push or digests configured */
int
ns_push_expander_on(void)
{
	return (ns_conf.push_url != NULL && ns_conf.push_url[0] != '\0') ||
	    (ns_conf.smtp_url != NULL && ns_conf.smtp_url[0] != '\0');
}

/* ns_push_stop - timers, transfers (their rows are resent after the lease) */
void
ns_push_stop(void)
{
	np.stopping = 1;
	if (np.scan)
		pl_loop_timer_stop(&np.scan);
	if (np.stats)
		pl_loop_timer_stop(&np.stats);
	ns_http_fini();
	exp_free_rows();
	send_free_leased();
	pl_free(&np.recips);
	free((void *)np.rkind);
	np.rkind = NULL;
	pl_free(&np.online);
	pl_buf_fini(&np.acks);
}
