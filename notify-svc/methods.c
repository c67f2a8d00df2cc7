/* methods.c - notify-svc's nng RPC (Request/Reply of proto/parley.proto).
 *
 *   conversations.mark  channel, ts[, thread_ts]: sets the caller's read
 *                       marker (the counts follow: they are derived), then
 *                       CHANNEL_MARKED on parley.events (subtype
 *                       channel_marked | group_marked | im_marked) for the
 *                       caller's other connections
 *   client.counts       every channel of the caller: last_read, latest,
 *                       unread_count, mention_count, has_unreads; threads
 *   notify.channel      one channel's last_read, unread_count and
 *                       unread_count_display (the gateway merges them into
 *                       conversations.info)
 *   dnd.info            [user]: snooze state (the caller's, or a user of the
 *                       caller's team)
 *   dnd.setSnooze       num_minutes (1..1440): snooze until now + minutes,
 *                       then DND_UPDATED on parley.events
 *   dnd.endSnooze       end it, then DND_UPDATED
 *   users.prefs.get     {"prefs":{"notify","muted_channels"}}
 *   users.prefs.set     name=notify value=all|mentions|nothing, or
 *                       name=muted_channels value=C1,C2 (at most
 *                       NS_MUTED_MAX ids): a muted channel still counts
 *   push.register       device_token, platform: a device of the caller (at most
 *                       NS_DEVICES_MAX; the same token again is a no-op)
 *   push.unregister     device_token (the Web API's "token" is the caller's)
 *
 * Membership and kinds come from the directory (read only) at call time:
 * counts are answered only for channels the caller is a member of, in their
 * own team. Every handler is idempotent (REQ resends). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "fields.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "names.h"
#include "notify.h"
#include "pg.h"
#include "rpc.h"

#define NS_CHANNELS_MAX 5000	/* channels of one user answered by client.counts */

struct ns_call {
	struct pl_rpc_req *rpc;
	Parley__Request *req;
	const char *user, *team;
	const char *method;
	uint64_t t0_us;
	char kind[16];
	struct pl_buf chans;		/* '{C1,C2}' */
	struct pl_buf kinds;		/* one letter per channel: p(ublic/private) g d */
	int nchans;
	struct ns_cache_tok tok;	/* client.counts: the Redis entry's generations */
};

struct ns_method {
	const char *name;
	void (*fn)(struct ns_call *c);
};

static struct {
	struct pl_metric *requests, *errors;
} nm;

/* ns_param - a request parameter, "" when missing */
static const char *
ns_param(const struct ns_call *c, const char *key)
{
	const char *v = pl_request_get(c->req, key);

	return v ? v : "";
}

/* ns_call_end - answer r and free the call */
static void
ns_call_end(struct ns_call *c, Parley__Reply *r)
{
	size_t len = parley__reply__get_packed_size(r);
	uint8_t *buf = pl_malloc(len ? len : 1);

	parley__reply__pack(r, buf);
	pl_rpc_reply(c->rpc, buf, len);
	free(buf);
	if (!r->ok)
		pl_metrics_inc(nm.errors);
	pl_log_debug("NS-REPLY", "method=%s user=%s ok=%d error=%s us=%llu", c->method,
	    c->user, r->ok, r->ok ? "" : r->error,
	    (unsigned long long)(pl_clock_mono_us() - c->t0_us));
	parley__request__free_unpacked(c->req, NULL);
	pl_buf_fini(&c->chans);
	pl_buf_fini(&c->kinds);
	free(c);
}

/* ns_call_error - ok=false with a Slack error code */
static void
ns_call_error(struct ns_call *c, const char *code)
{
	Parley__Reply r = PARLEY__REPLY__INIT;

	r.error = (char *)code;
	ns_call_end(c, &r);
}

/* ns_call_json - ok=true with the members as JSON object text */
static void
ns_call_json(struct ns_call *c, const char *json)
{
	Parley__Reply r = PARLEY__REPLY__INIT;

	r.ok = 1;
	r.json = (char *)json;
	ns_call_end(c, &r);
}

/* ns_kind_event - the RTM event of a mark in a channel of kind */
static const char *
ns_kind_event(const char *kind)
{
	if (strcmp(kind, "dm") == 0)
		return "im_marked";
	if (strcmp(kind, "group") == 0)
		return "group_marked";
	return "channel_marked";
}

/* mark_dr - the broker's answer for a CHANNEL_MARKED (best effort: the
 * marker is stored; other connections learn it at their next counts) */
static void
mark_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	(void)partition;
	(void)offset;
	(void)opaque;
	if (rv != 0)
		pl_log_warn("NS-MARK-EVENT-FAIL", "err=%s", pl_err_str(rv));
}

/* mark_event - CHANNEL_MARKED for the caller's connections */
static void
mark_event(const struct ns_call *c)
{
	Parley__Envelope env = PARLEY__ENVELOPE__INIT;
	Parley__Message m = PARLEY__MESSAGE__INIT;
	char key[128];
	uint8_t *buf;
	size_t len;
	int rv;

	snprintf(key, sizeof(key), "mark:%s:%s:%.20s", c->user, ns_param(c, "channel"),
	    ns_param(c, "ts"));
	env.type = PARLEY__EVENT_TYPE__CHANNEL_MARKED;
	env.version = PL_ENVELOPE_VERSION;
	env.idempotency_key = key;
	env.produced_us = (int64_t)pl_clock_wall_us();
	env.team = (char *)c->team;
	m.channel = (char *)ns_param(c, "channel");
	m.team = (char *)c->team;
	m.user = (char *)c->user;
	m.ts = (char *)ns_param(c, "ts");
	m.thread_ts = (char *)ns_param(c, "thread_ts");
	m.subtype = (char *)ns_kind_event(c->kind);
	env.body_case = PARLEY__ENVELOPE__BODY_MESSAGE;
	env.message = &m;
	len = parley__envelope__get_packed_size(&env);
	buf = pl_malloc(len ? len : 1);
	parley__envelope__pack(&env, buf);
	rv = pl_kafka_produce(ns.prod, PL_TOPIC_EVENTS, -1, c->team, strlen(c->team), buf,
	    len, mark_dr, NULL);
	if (rv != 0)
		pl_log_warn("NS-MARK-EVENT-FAIL", "err=%s", pl_err_str(rv));
	free(buf);
}

/* mark_dropped - the cached counts no longer match: tell the other
 * connections, answer */
static void
mark_dropped(void *arg)
{
	struct ns_call *c = arg;

	if (ns.prod != NULL)		/* NULL: stopping (Redis answers last) */
		mark_event(c);
	ns_call_json(c, "{}");
}

/* mark_stored - the marker is committed: the cached counts go */
static void
mark_stored(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;

	(void)res;
	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	ns_cache_counts_drop(c->user, mark_dropped, c);
}

/* mark_checked - the channel exists in the caller's team and they are in it */
static void
mark_checked(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "INSERT INTO ns_markers (user_id, channel, thread_ts,"
	    " last_read) VALUES ($1, $2, $3, $4) ON CONFLICT (user_id, channel, thread_ts)"
	    " DO UPDATE SET last_read = excluded.last_read";
	struct ns_call *c = arg;
	const char *p[4];

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	if (PQntuples(res) != 1) {
		ns_call_error(c, "channel_not_found");
		return;
	}
	if (strcmp(PQgetvalue(res, 0, 1), "t") != 0) {
		ns_call_error(c, "not_in_channel");
		return;
	}
	snprintf(c->kind, sizeof(c->kind), "%s", PQgetvalue(res, 0, 0));
	p[0] = c->user;
	p[1] = ns_param(c, "channel");
	p[2] = ns_param(c, "thread_ts");
	p[3] = ns_param(c, "ts");
	if (pl_pg_query(ns.db, sql, 4, p, mark_stored, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* ns_mark - conversations.mark */
static void
ns_mark(struct ns_call *c)
{
	static const char sql[] = "SELECT c.kind, EXISTS (SELECT 1 FROM channel_members m"
	    " WHERE m.channel_id = c.id AND m.user_id = $2) FROM channels c"
	    " WHERE c.id = $1 AND c.team_id = $3";
	const char *ch = ns_param(c, "channel"), *ts = ns_param(c, "ts");
	const char *thr = ns_param(c, "thread_ts");
	const char *p[3];

	if (*ch == 0) {
		ns_call_error(c, "channel_not_found");
		return;
	}
	if (*ts == 0 || !pl_fields_ts_canonical(ts) || (*thr && !pl_fields_ts_canonical(thr))) {
		ns_call_error(c, "invalid_timestamp");
		return;
	}
	if (!ns_id_ok(ch)) {
		ns_call_error(c, "channel_not_found");
		return;
	}
	p[0] = ch;
	p[1] = c->user;
	p[2] = c->team;
	if (pl_pg_query(ns.dir, sql, 3, p, mark_checked, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* counts_kind_list - the JSON array a channel kind goes to */
static int
counts_kind_list(char k)
{
	return k == 'd' ? 2 : k == 'g' ? 1 : 0;
}

/* counts_done - render client.counts or notify.channel */
static void
counts_done(int rv, struct pg_result *res, void *arg)
{
	static const char *const lists[3] = { "channels", "mpims", "ims" };
	struct ns_call *c = arg;
	int one = strcmp(c->method, "notify.channel") == 0;
	long long thread_mentions = 0;
	struct pl_buf b;
	int i, l, n, first;

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	pl_buf_init(&b);
	n = PQntuples(res);
	for (i = 0; i < n; i++)
		if (PQgetvalue(res, i, 0)[0] == 0)
			thread_mentions = atoll(PQgetvalue(res, i, 3));
	if (one) {
		for (i = 0; i < n; i++) {
			long long unread = atoll(PQgetvalue(res, i, 2));

			if (PQgetvalue(res, i, 0)[0] == 0)
				continue;
			pl_buf_puts(&b, "{\"last_read\":");
			pl_buf_json_str(&b, PQgetvalue(res, i, 1)[0] ? PQgetvalue(res, i, 1) :
			    "0000000000.000000");
			pl_buf_printf(&b, ",\"unread_count\":%lld,\"unread_count_display\":%lld}",
			    unread, unread);
		}
		ns_call_json(c, b.len ? b.data : "{}");
		pl_buf_fini(&b);
		return;
	}
	pl_buf_puts(&b, "{");
	for (l = 0; l < 3; l++) {
		pl_buf_printf(&b, "%s\"%s\":[", l ? "," : "", lists[l]);
		first = 1;
		for (i = 0; i < n; i++) {
			const char *ch = PQgetvalue(res, i, 0);
			char kind = PQgetvalue(res, i, 5)[0];
			long long unread = atoll(PQgetvalue(res, i, 2));
			long long mentions = atoll(PQgetvalue(res, i, 3));

			if (ch[0] == 0 || counts_kind_list(kind) != l)
				continue;
			if (kind == 'd' || kind == 'g')
				mentions = unread;	/* every DM message is a mention */
			pl_buf_puts(&b, first ? "{\"id\":" : ",{\"id\":");
			first = 0;
			pl_buf_json_str(&b, ch);
			pl_buf_puts(&b, ",\"last_read\":");
			pl_buf_json_str(&b, PQgetvalue(res, i, 1)[0] ? PQgetvalue(res, i, 1) :
			    "0000000000.000000");
			pl_buf_puts(&b, ",\"latest\":");
			pl_buf_json_str(&b, PQgetvalue(res, i, 4));
			pl_buf_printf(&b, ",\"unread_count\":%lld,\"unread_count_display\":%lld,"
			    "\"mention_count\":%lld,\"has_unreads\":%s}", unread, unread, mentions,
			    unread > 0 ? "true" : "false");
		}
		pl_buf_puts(&b, "]");
	}
	pl_buf_printf(&b, ",\"threads\":{\"has_unreads\":%s,\"mention_count\":%lld}}",
	    thread_mentions > 0 ? "true" : "false", thread_mentions);
	ns_cache_counts_put(&c->tok, c->user, b.data);
	ns_call_json(c, b.data);
	pl_buf_fini(&b);
}

/* counts_query - count each of the caller's channels in notify-svc's database */
static void
counts_query(struct ns_call *c)
{
	static const char sql[] =
	    "SELECT c.ch, coalesce(k.last_read, ''),"
	    " (SELECT count(*) FROM (SELECT 1 FROM ns_log l WHERE l.channel = c.ch"
	    "  AND l.thread_ts = '' AND NOT l.deleted AND l.ts > coalesce(k.last_read, '')"
	    "  AND l.user_id <> $1 LIMIT $3) a),"
	    " (SELECT count(*) FROM (SELECT 1 FROM ns_mentions n WHERE n.channel = c.ch"
	    "  AND n.user_id IN ($1, '*') AND n.thread_ts = '' AND n.author <> $1"
	    "  AND n.ts > coalesce(k.last_read, '') LIMIT $3) b),"
	    " (SELECT coalesce(max(l.ts), '') FROM ns_log l WHERE l.channel = c.ch"
	    "  AND l.thread_ts = '' AND NOT l.deleted),"
	    " substr($4, c.i::int, 1)"
	    " FROM unnest($2::text[]) WITH ORDINALITY AS c(ch, i)"
	    " LEFT JOIN ns_markers k ON k.user_id = $1 AND k.channel = c.ch AND k.thread_ts = ''"
	    " UNION ALL SELECT '', '', 0, count(*), '', '' FROM (SELECT 1 FROM ns_mentions n"
	    "  LEFT JOIN ns_markers k ON k.user_id = $1 AND k.channel = n.channel"
	    "  AND k.thread_ts = n.thread_ts WHERE n.channel = ANY ($2::text[])"
	    "  AND n.user_id IN ($1, '*') AND n.thread_ts <> '' AND n.author <> $1"
	    "  AND n.ts > coalesce(k.last_read, '') LIMIT $3) t";
	char cap[24];
	const char *p[4];

	snprintf(cap, sizeof(cap), "%lld", (long long)ns_conf.count_cap);
	p[0] = c->user;
	p[1] = c->chans.data;
	p[2] = cap;
	p[3] = c->kinds.data ? c->kinds.data : "";
	if (pl_pg_query(ns.db, sql, 4, p, counts_done, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* counts_cached - Redis answered client.counts (json) or not (NULL) */
static void
counts_cached(const char *json, void *arg)
{
	struct ns_call *c = arg;

	if (json != NULL)
		ns_call_json(c, json);
	else
		counts_query(c);
}

/* counts_listed - the caller's channels (directory): cached or counted */
static void
counts_listed(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;
	int i, n;

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	n = PQntuples(res);
	pl_buf_puts(&c->chans, "{");
	for (i = 0; i < n; i++) {
		const char *id = PQgetvalue(res, i, 0), *kind = PQgetvalue(res, i, 1);

		if (!ns_id_ok(id))
			continue;
		pl_buf_printf(&c->chans, "%s%s", c->nchans ? "," : "", id);
		pl_buf_puts(&c->kinds, strcmp(kind, "dm") == 0 ? "d" :
		    strcmp(kind, "group") == 0 ? "g" : "p");
		c->nchans++;
	}
	pl_buf_puts(&c->chans, "}");
	pl_buf_puts(&c->kinds, "");
	if (strcmp(c->method, "client.counts") == 0) {
		c->tok.fp = ns_cache_fp(c->chans.data, c->kinds.data ? c->kinds.data : "");
		ns_cache_counts_get(c->user, c->team, &c->tok, counts_cached, c);
		return;
	}
	counts_query(c);
}

/* ns_counts - client.counts (every channel) and notify.channel (one) */
static void
ns_counts(struct ns_call *c)
{
	static const char sql[] = "SELECT c.id, c.kind FROM channel_members m"
	    " JOIN channels c ON c.id = m.channel_id WHERE m.user_id = $1"
	    " AND c.team_id = $2 AND NOT c.archived AND ($3 = '' OR c.id = $3)"
	    " ORDER BY c.id LIMIT 5000";	/* NS_CHANNELS_MAX */
	const char *p[3];

	p[0] = c->user;
	p[1] = c->team;
	p[2] = strcmp(c->method, "notify.channel") == 0 ? ns_param(c, "channel") : "";
	if (strcmp(c->method, "notify.channel") == 0 && !ns_id_ok(p[2])) {
		ns_call_error(c, "channel_not_found");
		return;
	}
	if (pl_pg_query(ns.dir, sql, 3, p, counts_listed, c) != 0)
		ns_call_error(c, "service_unavailable");
}

#define NS_SNOOZE_MAX_MIN 1440	/* dnd.setSnooze: at most a day */

/* dnd_render - Slack's dnd.* members for a snooze ending at end_s (0: none);
 * no scheduled DND hours in Parley: dnd_enabled false, next_* 1 as Slack
 * answers for a user without a schedule */
static void
dnd_render(struct pl_buf *b, int64_t end_s, int64_t now_s, int with_user_fields)
{
	int on = end_s > now_s;

	pl_buf_puts(b, "{");
	if (with_user_fields)
		pl_buf_puts(b, "\"dnd_enabled\":false,\"next_dnd_start_ts\":1,"
		    "\"next_dnd_end_ts\":1,");
	pl_buf_printf(b, "\"snooze_enabled\":%s", on ? "true" : "false");
	if (on)
		pl_buf_printf(b, ",\"snooze_endtime\":%lld,\"snooze_remaining\":%lld",
		    (long long)end_s, (long long)(end_s - now_s));
	pl_buf_puts(b, "}");
}

/* dnd_event - DND_UPDATED for the user's sessions and watchers */
static void
dnd_event(const struct ns_call *c, int64_t end_s, int64_t now_s)
{
	Parley__Envelope env = PARLEY__ENVELOPE__INIT;
	Parley__Dnd d = PARLEY__DND__INIT;
	char key[128];
	uint8_t *buf;
	size_t len;
	int rv;

	snprintf(key, sizeof(key), "dnd:%s:%lld", c->user, (long long)end_s);
	env.type = PARLEY__EVENT_TYPE__DND_UPDATED;
	env.version = PL_ENVELOPE_VERSION;
	env.idempotency_key = key;
	env.produced_us = (int64_t)pl_clock_wall_us();
	env.team = (char *)c->team;
	d.user = (char *)c->user;
	d.team = (char *)c->team;
	d.dnd_enabled = 0;
	d.snooze_enabled = end_s > now_s;
	d.snooze_endtime = end_s > now_s ? end_s : 0;
	env.body_case = PARLEY__ENVELOPE__BODY_DND;
	env.dnd = &d;
	len = parley__envelope__get_packed_size(&env);
	buf = pl_malloc(len ? len : 1);
	parley__envelope__pack(&env, buf);
	rv = pl_kafka_produce(ns.prod, PL_TOPIC_EVENTS, -1, c->team, strlen(c->team), buf,
	    len, mark_dr, NULL);
	if (rv != 0)
		pl_log_warn("NS-DND-EVENT-FAIL", "err=%s", pl_err_str(rv));
	free(buf);
}

/* dnd_stored - the snooze is committed (RETURNING snooze_end): answer, tell */
static void
dnd_stored(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;
	int64_t now_s = (int64_t)(pl_clock_wall_us() / 1000000);
	int64_t end_s;
	struct pl_buf b;

	if (rv != 0 || PQntuples(res) != 1) {
		ns_call_error(c, "internal_error");
		return;
	}
	end_s = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	dnd_event(c, end_s, now_s);
	pl_buf_init(&b);
	dnd_render(&b, end_s, now_s, strcmp(c->method, "dnd.endSnooze") == 0);
	ns_call_json(c, b.data);
	pl_buf_fini(&b);
}

/* ns_dnd_set - dnd.setSnooze and dnd.endSnooze */
static void
ns_dnd_set(struct ns_call *c)
{
	static const char sql[] = "INSERT INTO ns_dnd (user_id, team_id, snooze_end)"
	    " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE"
	    " SET snooze_end = excluded.snooze_end RETURNING snooze_end";
	int64_t now_s = (int64_t)(pl_clock_wall_us() / 1000000), end_s = 0;
	char end[24];
	const char *p[3];

	if (strcmp(c->method, "dnd.setSnooze") == 0) {
		const char *v = ns_param(c, "num_minutes");
		char *e = NULL;
		long long min;

		if (*v == 0) {
			ns_call_error(c, "missing_duration");
			return;
		}
		min = strtoll(v, &e, 10);
		if (e == v || *e != 0 || min < 1 || min > NS_SNOOZE_MAX_MIN) {
			ns_call_error(c, "invalid_arguments");
			return;
		}
		end_s = now_s + min * 60;
	}
	snprintf(end, sizeof(end), "%lld", (long long)end_s);
	p[0] = c->user;
	p[1] = c->team;
	p[2] = end;
	if (pl_pg_query(ns.db, sql, 3, p, dnd_stored, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* dnd_read - dnd.info's answer */
static void
dnd_read(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;
	int64_t now_s = (int64_t)(pl_clock_wall_us() / 1000000);
	struct pl_buf b;

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	pl_buf_init(&b);
	dnd_render(&b, PQntuples(res) ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0,
	    now_s, 1);
	ns_call_json(c, b.data);
	pl_buf_fini(&b);
}

/* dnd_checked - the asked user is of the caller's team (directory) */
static void
dnd_checked(int rv, struct pg_result *res, void *arg)
{
	static const char sql[] = "SELECT snooze_end FROM ns_dnd WHERE user_id = $1"
	    " AND team_id = $2";
	struct ns_call *c = arg;
	const char *p[2];

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	if (PQntuples(res) != 1) {
		ns_call_error(c, "user_not_found");
		return;
	}
	p[0] = *ns_param(c, "user") ? ns_param(c, "user") : c->user;
	p[1] = c->team;
	if (pl_pg_query(ns.db, sql, 2, p, dnd_read, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* ns_dnd_info - dnd.info [user] */
static void
ns_dnd_info(struct ns_call *c)
{
	static const char sql[] = "SELECT 1 FROM users WHERE id = $1 AND team_id = $2"
	    " AND NOT deleted";
	const char *u = *ns_param(c, "user") ? ns_param(c, "user") : c->user;
	const char *p[2];

	if (!ns_id_ok(u)) {
		ns_call_error(c, "user_not_found");
		return;
	}
	p[0] = u;
	p[1] = c->team;
	if (pl_pg_query(ns.dir, sql, 2, p, dnd_checked, c) != 0)
		ns_call_error(c, "service_unavailable");
}

#define NS_MUTED_MAX 500	/* channels in muted_channels */

/* prefs_done - users.prefs.get/set's answer from the row (or the defaults) */
static void
prefs_done(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;
	struct pl_buf b;

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"prefs\":{\"notify\":");
	pl_buf_json_str(&b, PQntuples(res) ? PQgetvalue(res, 0, 0) : "mentions");
	pl_buf_puts(&b, ",\"muted_channels\":");
	pl_buf_json_str(&b, PQntuples(res) ? PQgetvalue(res, 0, 1) : "");
	pl_buf_puts(&b, "}}");
	ns_call_json(c, b.data);
	pl_buf_fini(&b);
}

/* ns_prefs_get - users.prefs.get */
static void
ns_prefs_get(struct ns_call *c)
{
	static const char sql[] = "SELECT notify, muted_channels FROM ns_prefs"
	    " WHERE user_id = $1 AND team_id = $2";
	const char *p[2] = { c->user, c->team };

	if (pl_pg_query(ns.db, sql, 2, p, prefs_done, c) != 0)
		ns_call_error(c, "service_unavailable");
}

/* prefs_muted_ok - a comma-separated list of ids, at most NS_MUTED_MAX,
 * rewritten without duplicates or empty items into out */
static int
prefs_muted_ok(const char *v, struct pl_buf *out)
{
	char id[NS_ID_MAX + 1];
	int n = 0;

	while (*v) {
		size_t k = strcspn(v, ",");

		if (k > 0) {
			if (k > NS_ID_MAX || ++n > NS_MUTED_MAX)
				return 0;
			memcpy(id, v, k);
			id[k] = 0;
			if (!ns_id_ok(id))
				return 0;
			if (out->len)
				pl_buf_puts(out, ",");
			pl_buf_puts(out, id);
		}
		v += k;
		if (*v == ',')
			v++;
	}
	return 1;
}

/* ns_prefs_set - users.prefs.set name value */
static void
ns_prefs_set(struct ns_call *c)
{
	static const char sql_notify[] = "INSERT INTO ns_prefs (user_id, team_id, notify)"
	    " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE SET notify = $3"
	    " RETURNING notify, muted_channels";
	static const char sql_muted[] = "INSERT INTO ns_prefs (user_id, team_id,"
	    " muted_channels) VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE"
	    " SET muted_channels = $3 RETURNING notify, muted_channels";
	const char *name = ns_param(c, "name"), *value = ns_param(c, "value");
	const char *p[3];
	struct pl_buf muted;
	int rv;

	p[0] = c->user;
	p[1] = c->team;
	if (strcmp(name, "notify") == 0) {
		if (strcmp(value, "all") != 0 && strcmp(value, "mentions") != 0 &&
		    strcmp(value, "nothing") != 0) {
			ns_call_error(c, "invalid_value");
			return;
		}
		p[2] = value;
		if (pl_pg_query(ns.db, sql_notify, 3, p, prefs_done, c) != 0)
			ns_call_error(c, "service_unavailable");
		return;
	}
	if (strcmp(name, "muted_channels") != 0) {
		ns_call_error(c, *name ? "invalid_name" : "missing_name");
		return;
	}
	pl_buf_init(&muted);
	if (!prefs_muted_ok(value, &muted)) {
		pl_buf_fini(&muted);
		ns_call_error(c, "invalid_value");
		return;
	}
	p[2] = muted.data ? muted.data : "";
	rv = pl_pg_query(ns.db, sql_muted, 3, p, prefs_done, c);
	pl_buf_fini(&muted);
	if (rv != 0)
		ns_call_error(c, "service_unavailable");
}

#define NS_DEVICES_MAX 10	/* devices per user */
#define NS_TOKEN_MAX 256	/* bytes of a device token */

/* push_token_ok - printable ASCII without spaces, 1..NS_TOKEN_MAX bytes */
static int
push_token_ok(const char *t)
{
	size_t n = 0;

	for (; t[n]; n++)
		if (n >= NS_TOKEN_MAX || t[n] <= ' ' || t[n] > '~')
			return 0;
	return n > 0;
}

/* push_registered - INSERT ... RETURNING: a row, or none when at the cap */
static void
push_registered(int rv, struct pg_result *res, void *arg)
{
	struct ns_call *c = arg;

	if (rv != 0) {
		ns_call_error(c, "internal_error");
		return;
	}
	if (strcmp(c->method, "push.unregister") == 0) {
		const char *t = PQcmdTuples(res);

		if (t == NULL || atoi(t) == 0)
			ns_call_error(c, "device_not_found");
		else
			ns_call_json(c, "{}");
		return;
	}
	if (PQntuples(res) == 0)
		ns_call_error(c, "too_many_devices");
	else
		ns_call_json(c, "{}");
}

/* ns_push_register - push.register and push.unregister */
static void
ns_push_register(struct ns_call *c)
{
	static const char sql_add[] = "INSERT INTO ns_devices (user_id, team_id, token,"
	    " platform) SELECT $1, $2, $3, $4 WHERE (SELECT count(*) FROM ns_devices"
	    " WHERE user_id = $1 AND token <> $3) < 10"	/* NS_DEVICES_MAX */
	    " ON CONFLICT (user_id, token) DO UPDATE SET platform = excluded.platform"
	    " RETURNING 1";
	static const char sql_del[] = "DELETE FROM ns_devices WHERE user_id = $1"
	    " AND team_id = $2 AND token = $3";
	const char *tok = ns_param(c, "device_token"), *plat = ns_param(c, "platform");
	int add = strcmp(c->method, "push.register") == 0;
	const char *p[4];

	if (!push_token_ok(tok)) {
		ns_call_error(c, *tok ? "invalid_token_value" : "missing_token");
		return;
	}
	if (add && !ns_id_ok(plat)) {
		ns_call_error(c, "invalid_platform");
		return;
	}
	p[0] = c->user;
	p[1] = c->team;
	p[2] = tok;
	p[3] = plat;
	if (pl_pg_query(ns.db, add ? sql_add : sql_del, add ? 4 : 3, p, push_registered,
	    c) != 0)
		ns_call_error(c, "service_unavailable");
}

static const struct ns_method ns_methods[] = {
	{ "conversations.mark", ns_mark },
	{ "client.counts", ns_counts },
	{ "notify.channel", ns_counts },
	{ "dnd.info", ns_dnd_info },
	{ "dnd.setSnooze", ns_dnd_set },
	{ "dnd.endSnooze", ns_dnd_set },
	{ "users.prefs.get", ns_prefs_get },
	{ "users.prefs.set", ns_prefs_set },
	{ "push.register", ns_push_register },
	{ "push.unregister", ns_push_register },
};

/* ns_methods_init - metrics */
void
ns_methods_init(void)
{
	nm.requests = pl_metrics_counter("parley_notify_requests_total",
	    "RPC requests received.", NULL);
	nm.errors = pl_metrics_counter("parley_notify_request_errors_total",
	    "RPC requests answered ok=false.", NULL);
	ns_cache_init();
}

/* ns_methods_handle - the rpc handler: decode, check the caller, dispatch */
void
ns_methods_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg)
{
	Parley__Request *req;
	struct ns_call *c;
	size_t i;

	(void)arg;
	pl_metrics_inc(nm.requests);
	req = parley__request__unpack(NULL, len, data);
	if (req == NULL) {
		Parley__Reply r = PARLEY__REPLY__INIT;
		uint8_t buf[64];

		pl_log_warn("NS-REQ-BAD", "len=%zu", len);
		r.error = "invalid_request";
		pl_rpc_reply(rpc, buf, parley__reply__pack(&r, buf));
		return;
	}
	c = pl_calloc(1, sizeof(*c));
	c->rpc = rpc;
	c->req = req;
	c->t0_us = pl_clock_mono_us();
	c->method = req->method ? req->method : "";
	c->user = req->caller && req->caller->user ? req->caller->user : "";
	c->team = req->caller && req->caller->team ? req->caller->team : "";
	pl_buf_init(&c->chans);
	pl_buf_init(&c->kinds);
	if (!ns_id_ok(c->user) || !ns_id_ok(c->team)) {
		ns_call_error(c, "not_authed");
		return;
	}
	for (i = 0; i < sizeof(ns_methods) / sizeof(ns_methods[0]); i++) {
		if (strcmp(ns_methods[i].name, c->method) == 0) {
			ns_methods[i].fn(c);
			return;
		}
	}
	ns_call_error(c, "unknown_method");
}
