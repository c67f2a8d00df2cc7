/* query.c - presence-svc's RPC socket (REQ/REP, PL_EP_PRESENCE_RPC_FMT):
 * Request in, Reply out, dispatched through a table by method.
 *
 *   users.getPresence  user (default: the caller) -> Slack's answer; for
 *                      yourself also online, auto_away, manual_away,
 *                      connection_count, last_activity (unix s)
 *   users.setPresence  presence = auto | away: stored (store.c), then cached
 *                      and settled in Redis; the change is published
 *   users.setActive    activity now
 *   presence.query     users = comma-separated ids (at most
 *                      PL_PRESENCE_QUERY_MAX): {"users":[{"id","presence",
 *                      "connected","connection_count"}]} in the asked
 *                      order (connected: a live session or a reconnect
 *                      grace, away or not); only users presence-svc knows
 *                      to be of the caller's team (never seen: left out,
 *                      they are away)
 *
 * Each user costs one Redis script on the user's own keys, O(1) in the size
 * of the team. REQ resends after its resend time, so every method is
 * idempotent. Errors are Slack's codes: not_authed (no caller),
 * user_not_found (bad id, another team's user), invalid_presence,
 * invalid_arguments, unknown_method, service_unavailable (Redis or
 * PostgreSQL failed). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "parley.pb-c.h"
#include "presence.h"
#include "presence_clnt.h"
#include "rpc.h"

/* one request being answered */
struct ps_call {
	struct pl_rpc_req *req;
	char user[PS_ID_MAX + 1];	/* the caller */
	char team[PS_ID_MAX + 1];
	char target[PS_ID_MAX + 1];	/* getPresence: the user asked about */
	int away;			/* setPresence */
	/* presence.query */
	char **ids;
	const char **presence;		/* per id; NULL: left out */
	int *connected;			/* per id: live session or grace */
	int64_t *conns;			/* per id: live sessions */
	size_t n, left;
	int failed;			/* a user's look-up failed */
};

typedef void (*ps_method_fn)(struct ps_call *call, const Parley__Request *r);

static struct {
	struct pl_metric *calls;
	struct pl_metric *errors;
	struct pl_metric *queried;
} ps_query;

/* ps_query_init - the counters */
void
ps_query_init(void)
{
	ps_query.calls = pl_metrics_counter("parley_presence_rpc_total",
	    "Requests on presence-svc's RPC socket.", NULL);
	ps_query.errors = pl_metrics_counter("parley_presence_rpc_errors_total",
	    "Requests answered with an error.", NULL);
	ps_query.queried = pl_metrics_counter("parley_presence_queried_users_total",
	    "Users looked up by users.getPresence and presence.query.", NULL);
}

/* ps_query_reply - answer ok with json (NULL: {}) or error, free call */
static void
ps_query_reply(struct ps_call *call, const char *error, const char *json)
{
	Parley__Reply reply = PARLEY__REPLY__INIT;
	uint8_t *buf;
	size_t n, i;

	reply.ok = error == NULL;
	reply.error = (char *)(error ? error : "");
	reply.json = (char *)(json ? json : "{}");
	if (error != NULL)
		pl_metrics_inc(ps_query.errors);
	n = parley__reply__get_packed_size(&reply);
	buf = pl_malloc(n ? n : 1);
	parley__reply__pack(&reply, buf);
	pl_rpc_reply(call->req, buf, n);
	free(buf);
	for (i = 0; i < call->n; i++)
		free(call->ids[i]);
	free(call->ids);
	free(call->presence);
	free(call->connected);
	free(call->conns);
	free(call);
}

/* ps_query_id - a user id presence-svc keeps: non-empty, fits, no '|' */
static int
ps_query_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= PS_ID_MAX && strchr(s, PS_SEP) == NULL;
}

/* ps_query_param - the value of key, or NULL */
static const char *
ps_query_param(const Parley__Request *r, const char *key)
{
	size_t i;

	for (i = 0; i < r->n_params; i++)
		if (r->params[i]->key && strcmp(r->params[i]->key, key) == 0)
			return r->params[i]->value;
	return NULL;
}

/* ps_query_got - getPresence: render Slack's answer */
static void
ps_query_got(int rv, const struct ps_state *s, void *arg)
{
	struct ps_call *call = arg;
	struct pl_buf b;

	if (rv != 0) {
		ps_query_reply(call, "service_unavailable", NULL);
		return;
	}
	if (s->team[0] != '\0' && strcmp(s->team, call->team) != 0) {
		ps_query_reply(call, "user_not_found", NULL);
		return;
	}
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"presence\":\"%s\"", s->presence);
	if (strcmp(call->target, call->user) == 0)
		pl_buf_printf(&b, ",\"online\":%s,\"auto_away\":%s,\"manual_away\":%s,"
		    "\"connection_count\":%lld,\"last_activity\":%lld",
		    s->online ? "true" : "false", s->auto_away ? "true" : "false",
		    s->manual_away ? "true" : "false", (long long)s->connection_count,
		    (long long)(s->last_activity_ms / 1000));
	pl_buf_puts(&b, "}");
	ps_query_reply(call, NULL, b.data);
	pl_buf_fini(&b);
}

/* ps_query_get - users.getPresence */
static void
ps_query_get(struct ps_call *call, const Parley__Request *r)
{
	const char *u = ps_query_param(r, "user");

	if (u == NULL || u[0] == '\0')
		u = call->user;
	if (!ps_query_id(u)) {
		ps_query_reply(call, "user_not_found", NULL);
		return;
	}
	snprintf(call->target, sizeof(call->target), "%s", u);
	pl_metrics_inc(ps_query.queried);
	(void)ps_conns_get(u, ps_query_got, call);
}

/* ps_query_settled - the setting is in Redis (and published if it changed) */
static void
ps_query_settled(int rv, void *arg)
{
	struct ps_call *call = arg;

	ps_query_reply(call, rv == 0 ? NULL : "service_unavailable", NULL);
}

/* ps_query_manual_set - the flag is cached and any change published: tell
 * the user's own sessions, then answer */
static void
ps_query_manual_set(int rv, void *arg)
{
	struct ps_call *call = arg;

	if (rv == 0)
		(void)ps_publish_manual(call->user, call->team, call->away);
	ps_query_settled(rv, call);
}

/* ps_query_saved - manual away is stored: now the cache and the change */
static void
ps_query_saved(int rv, int away, void *arg)
{
	struct ps_call *call = arg;

	(void)away;
	if (rv != 0) {
		ps_query_reply(call, "service_unavailable", NULL);
		return;
	}
	pl_log_info("PS-MANUAL", "user=%s team=%s away=%d", call->user, call->team,
	    call->away);
	ps_conns_manual(call->user, call->team, call->away, ps_query_manual_set, call);
}

/* ps_query_set - users.setPresence presence=auto|away */
static void
ps_query_set(struct ps_call *call, const Parley__Request *r)
{
	const char *p = ps_query_param(r, "presence");

	if (p == NULL || (strcmp(p, "auto") != 0 && strcmp(p, "away") != 0)) {
		ps_query_reply(call, "invalid_presence", NULL);
		return;
	}
	call->away = strcmp(p, "away") == 0;
	if (ps_store_save(call->user, call->team, call->away, ps_query_saved, call) != 0)
		ps_query_reply(call, "service_unavailable", NULL);
}

/* ps_query_active - users.setActive */
static void
ps_query_active(struct ps_call *call, const Parley__Request *r)
{
	(void)r;
	ps_conns_active(call->user, call->team, ps_query_settled, call);
}

/* ps_query_batch_done - every user answered: render in the asked order */
static void
ps_query_batch_done(struct ps_call *call)
{
	struct pl_buf b;
	size_t i;
	int first = 1;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"users\":[");
	for (i = 0; i < call->n; i++) {
		if (call->presence[i] == NULL)
			continue;
		pl_buf_puts(&b, first ? "{\"id\":" : ",{\"id\":");
		pl_buf_json_str(&b, call->ids[i]);
		pl_buf_printf(&b, ",\"presence\":\"%s\",\"connected\":%s,"
		    "\"connection_count\":%lld}", call->presence[i],
		    call->connected[i] ? "true" : "false", (long long)call->conns[i]);
		first = 0;
	}
	pl_buf_puts(&b, "]}");
	ps_query_reply(call, NULL, b.data);
	pl_buf_fini(&b);
}

/* one user of a batch */
struct ps_item {
	struct ps_call *call;
	size_t i;
};

/* ps_query_item - one user of presence.query answered */
static void
ps_query_item(int rv, const struct ps_state *s, void *arg)
{
	struct ps_item *it = arg;
	struct ps_call *call = it->call;

	/* only users known to be of the caller's team: one never seen (or
	 * whose state expired) is away, and may be of another team */
	if (rv == 0 && strcmp(s->team, call->team) == 0) {
		call->presence[it->i] = s->presence;
		call->connected[it->i] = s->online;
		call->conns[it->i] = s->connection_count;
	}
	else if (rv != 0)
		call->failed = 1;
	free(it);
	if (--call->left == 0) {
		if (call->failed)
			ps_query_reply(call, "service_unavailable", NULL);
		else
			ps_query_batch_done(call);
	}
}

/* ps_query_split - the comma-separated ids of s; PL_ETOOBIG past the max,
 * PL_EINVAL for a bad id */
static int
ps_query_split(struct ps_call *call, const char *s)
{
	const char *p = s, *end;
	size_t len;

	while (*p) {
		end = strchr(p, ',');
		len = end ? (size_t)(end - p) : strlen(p);
		if (len == 0 || len > PS_ID_MAX || memchr(p, PS_SEP, len) != NULL)
			return PL_EINVAL;
		if (call->n >= PL_PRESENCE_QUERY_MAX)
			return PL_ETOOBIG;
		call->ids = pl_realloc(call->ids, (call->n + 1) * sizeof(*call->ids));
		call->ids[call->n++] = pl_strndup(p, len);
		p = end ? end + 1 : p + len;
	}
	return 0;
}

/* ps_query_batch - presence.query users=U1,U2,... */
static void
ps_query_batch(struct ps_call *call, const Parley__Request *r)
{
	const char *users = ps_query_param(r, "users");
	struct ps_item *it;
	size_t i;

	if (users == NULL || ps_query_split(call, users) != 0) {
		ps_query_reply(call, "invalid_arguments", NULL);
		return;
	}
	if (call->n == 0) {
		ps_query_batch_done(call);
		return;
	}
	call->presence = pl_calloc(call->n, sizeof(*call->presence));
	call->connected = pl_calloc(call->n, sizeof(*call->connected));
	call->conns = pl_calloc(call->n, sizeof(*call->conns));
	call->left = call->n;
	pl_metrics_add(ps_query.queried, (double)call->n);
	for (i = 0; i < call->n; i++) {
		it = pl_calloc(1, sizeof(*it));
		it->call = call;
		it->i = i;
		(void)ps_conns_get(call->ids[i], ps_query_item, it);
	}
}

static const struct {
	const char *method;
	ps_method_fn fn;
} ps_methods[] = {
	{ "users.getPresence", ps_query_get },
	{ "users.setPresence", ps_query_set },
	{ "users.setActive", ps_query_active },
	{ "presence.query", ps_query_batch },
};

/* ps_query_recv - one request: decode, check the caller, dispatch */
void
ps_query_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg)
{
	Parley__Request *r = parley__request__unpack(NULL, len, data);
	struct ps_call *call = pl_calloc(1, sizeof(*call));
	size_t i;

	(void)arg;
	call->req = req;
	pl_metrics_inc(ps_query.calls);
	if (r == NULL) {
		pl_log_warn("PS-RPC-UNDECODABLE", "len=%zu", len);
		ps_query_reply(call, "invalid_arguments", NULL);
		return;
	}
	if (r->caller == NULL || !ps_query_id(r->caller->user) ||
	    !ps_query_id(r->caller->team)) {
		ps_query_reply(call, "not_authed", NULL);
		goto out;
	}
	snprintf(call->user, sizeof(call->user), "%s", r->caller->user);
	snprintf(call->team, sizeof(call->team), "%s", r->caller->team);
	for (i = 0; i < sizeof(ps_methods) / sizeof(ps_methods[0]); i++) {
		if (r->method != NULL && strcmp(r->method, ps_methods[i].method) == 0) {
			ps_methods[i].fn(call, r);
			goto out;
		}
	}
	ps_query_reply(call, "unknown_method", NULL);
out:
	parley__request__free_unpacked(r, NULL);
}
