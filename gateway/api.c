/* api.c - the Web API front door: /api/<method>.
 *
 * A table maps each method to its owner: the gateway itself (api.test,
 * rtm.connect) or a service reached over nng. The table is an allow-list: a
 * method not in it is unknown_method here, so the services' internal
 * methods (session.boot, session.check, channel.replay) are never reachable
 * from outside; the presence, read-marker and search methods plug in as
 * rows. The gateway authenticates (Bearer or token parameter; the admin
 * token for admin.*), refuses deactivated users (active.c), forwards, and
 * answers {"ok":true, <members of Reply.json>} or {"ok":false,"error":code}:
 * always HTTP 200, except 429 with Retry-After. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "fields.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_api.h"
#include "gw_auth.h"
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_poll.h"
#include "gw_presence.h"
#include "gw_reply.h"
#include "gw_server.h"
#include "gw_ticket.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "notify_clnt.h"
#include "search_clnt.h"
#include "presence_clnt.h"
#include "slack_err.h"

#define GW_JSON "application/json; charset=utf-8"
#define GW_API_NOAUTH 1		/* no token needed */
#define GW_API_ADMIN 2		/* the admin token */

struct gw_api_call {
	gw_handle h;
	uint64_t start_us;
	char user[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	int64_t exp_s;
};

typedef void (*gw_api_fn)(struct gw_conn *c, struct gw_auth *a);

/* Rate-limit tiers (Slack's): calls a minute and burst per (caller, method);
 * GW_TIER_POST is chat.postMessage's ~1/s per user and channel with bursts. */
enum gw_api_tier {
	GW_TIER_NONE, GW_TIER_1, GW_TIER_2, GW_TIER_3, GW_TIER_4, GW_TIER_POST,
};

static const struct {
	double per_min, burst;
} gw_api_tiers[] = {
	[GW_TIER_NONE] = { 0, 0 },
	[GW_TIER_1] = { 1, 3 },
	[GW_TIER_2] = { 20, 20 },
	[GW_TIER_3] = { 50, 50 },
	[GW_TIER_4] = { 100, 100 },
	[GW_TIER_POST] = { 60, 10 },
};

struct gw_api_method {
	const char *name;	/* exact, or a prefix ending in '.' */
	gw_api_fn fn;
	int flags;
	enum gw_api_tier tier;
};

static void gw_api_test(struct gw_conn *c, struct gw_auth *a);
static void gw_api_rtm_connect(struct gw_conn *c, struct gw_auth *a);
static void gw_api_forward(struct gw_conn *c, struct gw_auth *a);
static void gw_api_notify(struct gw_conn *c, struct gw_auth *a);
static void gw_api_info(struct gw_conn *c, struct gw_auth *a);
static void gw_api_search(struct gw_conn *c, struct gw_auth *a);
static void gw_api_presence(struct gw_conn *c, struct gw_auth *a);

/* gw_api_poll - events.poll, served by poll.c */
static void
gw_api_poll(struct gw_conn *c, struct gw_auth *a)
{
	gw_poll_start(c, a);
}

#define FWD gw_api_forward
static const struct gw_api_method gw_api_methods[] = {
	{ "api.test", gw_api_test, GW_API_NOAUTH, GW_TIER_NONE },
	{ "auth.test", FWD, 0, GW_TIER_4 },
	{ "rtm.connect", gw_api_rtm_connect, 0, GW_TIER_1 },
	{ "rtm.start", gw_api_rtm_connect, 0, GW_TIER_1 },
	{ "events.poll", gw_api_poll, 0, GW_TIER_4 },
	{ "chat.postMessage", FWD, 0, GW_TIER_POST },
	{ "chat.update", FWD, 0, GW_TIER_3 },
	{ "chat.delete", FWD, 0, GW_TIER_3 },
	{ "conversations.create", FWD, 0, GW_TIER_2 },
	{ "conversations.list", FWD, 0, GW_TIER_2 },
	{ "conversations.members", FWD, 0, GW_TIER_4 },
	{ "reactions.remove", FWD, 0, GW_TIER_2 },
	{ "users.list", FWD, 0, GW_TIER_2 },
	{ "users.info", FWD, 0, GW_TIER_4 },
	{ "users.setPresence", gw_api_presence, 0, GW_TIER_2 },
	{ "users.getPresence", gw_api_presence, 0, GW_TIER_3 },
	{ "users.setActive", gw_api_presence, 0, GW_TIER_2 },
	{ "search.messages", gw_api_search, 0, GW_TIER_2 },
	/* provisioning, with the admin token */
	{ "admin.teams.create", FWD, GW_API_ADMIN, GW_TIER_NONE },
	{ "admin.users.create", FWD, GW_API_ADMIN, GW_TIER_NONE },
	{ "admin.users.remove", FWD, GW_API_ADMIN, GW_TIER_NONE },
	/* the rest of message-svc's public methods, Tier 3 */
	{ "conversations.archive", FWD, 0, GW_TIER_3 },
	{ "conversations.history", FWD, 0, GW_TIER_3 },
	{ "conversations.info", gw_api_info, 0, GW_TIER_3 },
	{ "conversations.invite", FWD, 0, GW_TIER_3 },
	{ "conversations.join", FWD, 0, GW_TIER_3 },
	{ "conversations.kick", FWD, 0, GW_TIER_3 },
	{ "conversations.leave", FWD, 0, GW_TIER_3 },
	{ "conversations.open", FWD, 0, GW_TIER_3 },
	{ "conversations.replies", FWD, 0, GW_TIER_3 },
	{ "reactions.add", FWD, 0, GW_TIER_3 },
	{ "reactions.get", FWD, 0, GW_TIER_3 },
	{ "team.info", FWD, 0, GW_TIER_3 },
	{ "users.conversations", FWD, 0, GW_TIER_3 },
	/* notify-svc: read markers and counts */
	{ "conversations.mark", gw_api_notify, 0, GW_TIER_3 },
	{ "client.counts", gw_api_notify, 0, GW_TIER_3 },
	{ "dnd.info", gw_api_notify, 0, GW_TIER_3 },
	{ "dnd.setSnooze", gw_api_notify, 0, GW_TIER_2 },
	{ "dnd.endSnooze", gw_api_notify, 0, GW_TIER_2 },
	{ "users.prefs.get", gw_api_notify, 0, GW_TIER_3 },
	{ "users.prefs.set", gw_api_notify, 0, GW_TIER_2 },
	{ "push.register", gw_api_notify, 0, GW_TIER_2 },
	{ "push.unregister", gw_api_notify, 0, GW_TIER_2 },
};
#undef FWD

/* gw_api_reply_json - answer 200 with body */
static void
gw_api_reply_json(struct gw_conn *c, const struct pl_buf *b)
{
	gw_http_reply(c, 200, GW_JSON, b->data ? b->data : "{}", b->len);
}

/* gw_api_test - Slack's api.test: echo the arguments */
static void
gw_api_test(struct gw_conn *c, struct gw_auth *a)
{
	const struct gw_params *p = &c->http->params;
	const char *err = gw_params_get(p, "error");
	struct pl_buf b;
	int i;

	(void)a;
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"ok\":%s", err ? "false,\"error\":" : "true");
	if (err)
		pl_buf_json_str(&b, err);
	pl_buf_puts(&b, ",\"args\":{");
	for (i = 0; i < (int)p->n; i++) {
		if (strcmp(p->v[i].key, "token") == 0)
			continue;
		pl_buf_printf(&b, "%s", b.data[b.len - 1] == '{' ? "" : ",");
		pl_buf_json_str(&b, p->v[i].key);
		pl_buf_puts(&b, ":");
		pl_buf_json_str(&b, p->v[i].val);
	}
	pl_buf_puts(&b, "}}");
	gw_api_reply_json(c, &b);
	pl_buf_fini(&b);
}

/* gw_api_request - a Request of the call's method, caller and params */
static void
gw_api_request(struct gw_conn *c, const struct gw_auth *a, Parley__Request *req,
    Parley__Caller *caller, char key[33])
{
	const struct gw_params *p = &c->http->params;
	int i;

	pl_request_init(req, c->http->method);
	gw_request_caller(req, caller, a->user, a->team, a->admin, "");
	req->source = "web";
	gw_request_key(req, key);
	for (i = 0; i < (int)p->n; i++)
		if (strcmp(p->v[i].key, "token") != 0)
			pl_request_param(req, p->v[i].key, p->v[i].val);
}

/* gw_api_forwarded - the owner answered: render Slack's envelope */
static void
gw_api_forwarded(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_api_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	struct pl_buf b;
	const char *json;

	pl_metrics_observe(gw_m.rpc_s, (double)(pl_clock_mono_us() - call->start_us) / 1e6);
	if (c == NULL || c->http == NULL)
		goto out;
	if (rv != 0 || reply == NULL) {
		pl_log_warn("GW-API-RPC", "method=%s err=%s", c->http->method, pl_err_str(rv));
		gw_reply_api_error(c, pl_slack_rpc_error(rv));
		goto out;
	}
	if (!reply->ok && reply->error && strcmp(reply->error, "ratelimited") == 0 &&
	    reply->retry_after > 0) {
		c->http->retry_after = reply->retry_after;
		gw_http_reply(c, 429, GW_JSON, "{\"ok\":false,\"error\":\"ratelimited\"}", 35);
		goto out;
	}
	if (!reply->ok) {
		gw_reply_api_error(c, reply->error && *reply->error ? reply->error : "internal_error");
		goto out;
	}
	json = reply->json && reply->json[0] == '{' ? reply->json : "{}";
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"ok\":true");
	if (reply->warning && *reply->warning) {
		pl_buf_puts(&b, ",\"warning\":");
		pl_buf_json_str(&b, reply->warning);
	}
	while (*++json == ' ')
		;
	if (*json != '}')
		pl_buf_puts(&b, ",");
	pl_buf_puts(&b, json);
	gw_api_reply_json(c, &b);
	pl_buf_fini(&b);
out:
	free(call);
}

/* gw_api_call_new - the completion context of c */
static struct gw_api_call *
gw_api_call_new(struct gw_conn *c, const struct gw_auth *a)
{
	struct gw_api_call *call = pl_calloc(1, sizeof(*call));

	call->h = gw_conn_handle(c);
	call->start_us = pl_clock_mono_us();
	memcpy(call->user, a->user, sizeof(call->user));
	memcpy(call->team, a->team, sizeof(call->team));
	call->exp_s = a->exp_s;
	return call;
}

/* gw_api_fields - the message fields of chat.postMessage and chat.update
 * that proto/fields.h refuses, answered here before they travel (message-svc
 * checks them again); NULL for every other method */
static const char *
gw_api_fields(const struct gw_conn *c)
{
	const struct gw_params *p = &c->http->params;
	const char *ts;

	if (strcmp(c->http->method, "chat.postMessage") == 0)
		return pl_fields_message_error(gw_params_get(p, "text"),
		    gw_params_get(p, "thread_ts"), gw_params_get(p, "client_msg_id"));
	if (strcmp(c->http->method, "chat.update") != 0)
		return NULL;
	if ((ts = gw_params_get(p, "ts")) != NULL && ts[0] != '\0' &&
	    !pl_fields_ts_canonical(ts))
		return "message_not_found";
	return pl_fields_message_error(gw_params_get(p, "text"), NULL, NULL);
}

/* gw_api_route - build the request of an API call and hand it to one
 * service's client stub (send); answered like a forward */
static void
gw_api_route(struct gw_conn *c, struct gw_auth *a,
    int (*send)(Parley__Request *req, struct gw_api_call *call))
{
	struct gw_api_call *call = gw_api_call_new(c, a);
	Parley__Request req;
	Parley__Caller caller;
	char key[33];
	int rv;

	gw_api_request(c, a, &req, &caller, key);
	rv = send(&req, call);
	req.caller = NULL;
	req.source = NULL;
	req.idempotency_key = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_api_forwarded(rv, NULL, call);
}

static int
gw_api_to_message(Parley__Request *req, struct gw_api_call *call)
{
	return pl_message_clnt_call(gw.msg, -1, req, gw_api_forwarded, call);
}

/* gw_api_forward - send the call to message-svc (routed by message_clnt) */
static void
gw_api_forward(struct gw_conn *c, struct gw_auth *a)
{
	const char *bad;

	if ((bad = gw_api_fields(c)) != NULL) {
		gw_reply_api_error(c, bad);
		return;
	}
	if (strcmp(c->http->method, "chat.postMessage") == 0)
		gw_presence_activity(a->user, a->team);
	gw_api_route(c, a, gw_api_to_message);
}

static int
gw_api_to_search(Parley__Request *req, struct gw_api_call *call)
{
	return pl_search_clnt_call(gw.search, req, gw_api_forwarded, call);
}

static int
gw_api_to_presence(Parley__Request *req, struct gw_api_call *call)
{
	return pl_presence_call(gw.presence, req, gw_api_forwarded, call);
}

static int
gw_api_to_notify(Parley__Request *req, struct gw_api_call *call)
{
	return pl_notify_clnt_call(gw.notify, req, gw_api_forwarded, call);
}

/* gw_api_search - search.messages goes to the caller's team's search-indexer */
static void
gw_api_search(struct gw_conn *c, struct gw_auth *a)
{
	gw_api_route(c, a, gw_api_to_search);
}

/* gw_api_presence - users.getPresence / setPresence / setActive: to
 * presence-svc's RPC socket (presence_clnt.h) */
static void
gw_api_presence(struct gw_conn *c, struct gw_auth *a)
{
	gw_api_route(c, a, gw_api_to_presence);
}

/* gw_api_notify - notify-svc's methods (marks, counts, prefs, dnd, push) */
static void
gw_api_notify(struct gw_conn *c, struct gw_auth *a)
{
	gw_api_route(c, a, gw_api_to_notify);
}

/* conversations.info: message-svc's channel, then notify-svc's last_read,
 * unread_count and unread_count_display merged into it (one extra call;
 * when notify-svc does not answer the channel goes out without them) */
struct gw_api_info {
	struct gw_api_call *call;
	char *json;		/* message-svc's reply */
	char *warning;
};

/* gw_api_info_merged - splice notify-svc's members into "channel":{ */
static void
gw_api_info_merged(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_api_info *in = arg;
	Parley__Reply r = PARLEY__REPLY__INIT;
	const char *at = strstr(in->json, "\"channel\":{"), *extra;
	struct pl_buf b;
	size_t n;

	pl_buf_init(&b);
	extra = rv == 0 && reply != NULL && reply->ok && reply->json != NULL &&
	    reply->json[0] == '{' ? reply->json + 1 : NULL;
	n = extra ? strlen(extra) : 0;
	if (at != NULL && n > 1 && extra[n - 1] == '}') {
		at += strlen("\"channel\":{");
		pl_buf_append(&b, in->json, (size_t)(at - in->json));
		pl_buf_append(&b, extra, n - 1);
		if (*at != '}')
			pl_buf_puts(&b, ",");
		pl_buf_puts(&b, at);
	} else {
		if (rv != 0)
			pl_log_warn("GW-API-NOTIFY", "method=conversations.info err=%s",
			    pl_err_str(rv));
		pl_buf_puts(&b, in->json);
	}
	r.ok = 1;
	r.json = b.data;
	r.warning = in->warning;
	gw_api_forwarded(0, &r, in->call);
	pl_buf_fini(&b);
	free(in->json);
	free(in->warning);
	free(in);
}

/* gw_api_info_forwarded - message-svc answered conversations.info */
static void
gw_api_info_forwarded(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_api_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	struct gw_api_info *in;
	Parley__Request req;
	Parley__Caller caller;
	const char *ch;

	if (rv != 0 || reply == NULL || !reply->ok || reply->json == NULL || c == NULL ||
	    c->http == NULL || (ch = gw_params_get(&c->http->params, "channel")) == NULL) {
		gw_api_forwarded(rv, reply, call);
		return;
	}
	in = pl_calloc(1, sizeof(*in));
	in->call = call;
	in->json = pl_strdup(reply->json);
	in->warning = reply->warning ? pl_strdup(reply->warning) : NULL;
	pl_request_init(&req, "notify.channel");
	gw_request_caller(&req, &caller, call->user, call->team, 0, "");
	req.source = "web";
	pl_request_param(&req, "channel", ch);
	rv = pl_notify_clnt_call(gw.notify, &req, gw_api_info_merged, in);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_api_info_merged(rv, NULL, in);
}

/* gw_api_info - conversations.info with the caller's unread fields */
static void
gw_api_info(struct gw_conn *c, struct gw_auth *a)
{
	struct gw_api_call *call = gw_api_call_new(c, a);
	Parley__Request req;
	Parley__Caller caller;
	char key[33];
	int rv;

	gw_api_request(c, a, &req, &caller, key);
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_api_info_forwarded, call);
	req.caller = NULL;
	req.source = NULL;
	req.idempotency_key = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_api_forwarded(rv, NULL, call);
}

/* rtm.connect: session.boot for the names, then a ticket stored in Redis */
struct gw_rtm_connect {
	struct gw_api_call *call;
	struct pl_buf body;
	char *jti;
};

/* gw_api_rtm_stored - the ticket is in Redis: answer */
static void
gw_api_rtm_stored(int rv, void *arg)
{
	struct gw_rtm_connect *rc = arg;
	struct gw_conn *c = gw_conn_find(rc->call->h);

	if (c != NULL && c->http != NULL) {
		if (rv != 0)
			gw_reply_api_error(c, "internal_error");
		else
			gw_api_reply_json(c, &rc->body);
	}
	pl_buf_fini(&rc->body);
	free(rc->jti);
	free(rc->call);
	free(rc);
}

/* gw_api_rtm_url - the ws URL of a ticket */
static void
gw_api_rtm_url(struct pl_buf *b, const struct gw_conn *c, const char *ticket)
{
	const char *resume = gw_params_get(&c->http->params, "resume");
	struct pl_buf u;

	pl_buf_init(&u);
	if (gw_conf.public_url[0])
		pl_buf_printf(&u, "%s/ws?ticket=%s", gw_conf.public_url, ticket);
	else
		pl_buf_printf(&u, "ws://%s/ws?ticket=%s",
		    c->http->host ? c->http->host : "127.0.0.1", ticket);
	/* Parley: rtm.connect(resume=1) asks for a holding connection */
	if (resume != NULL && strcmp(resume, "1") == 0)
		pl_buf_puts(&u, "&resume=1");
	pl_buf_json_str(b, u.data);
	pl_buf_fini(&u);
}

/* gw_api_rtm_booted - session.boot answered: sign and store a ticket */
static void
gw_api_rtm_booted(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_api_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	struct gw_rtm_connect *rc;
	const Parley__Boot *bt;
	char *ticket = NULL;

	if (c == NULL || c->http == NULL)
		goto drop;
	if (rv != 0 || reply == NULL || !reply->ok || reply->boot == NULL) {
		gw_reply_api_error(c, rv != 0 || reply == NULL ? pl_slack_rpc_error(rv) :
		    (reply->error && *reply->error ? reply->error : "invalid_auth"));
		goto drop;
	}
	bt = reply->boot;
	rc = pl_calloc(1, sizeof(*rc));
	rc->call = call;
	if (gw_auth_ticket_sign(call->user, call->team, call->exp_s, &ticket,
	    &rc->jti) != 0) {
		free(rc);
		gw_reply_api_error(c, "internal_error");
		goto drop;
	}
	pl_buf_init(&rc->body);
	pl_buf_puts(&rc->body, "{\"ok\":true,\"url\":");
	gw_api_rtm_url(&rc->body, c, ticket);
	pl_buf_puts(&rc->body, ",\"team\":{\"id\":");
	pl_buf_json_str(&rc->body, call->team);
	pl_buf_puts(&rc->body, ",\"name\":");
	pl_buf_json_str(&rc->body, bt->team && bt->team->name ? bt->team->name : "");
	pl_buf_puts(&rc->body, ",\"domain\":");
	pl_buf_json_str(&rc->body, bt->team && bt->team->domain ? bt->team->domain : "");
	pl_buf_puts(&rc->body, "},\"self\":{\"id\":");
	pl_buf_json_str(&rc->body, call->user);
	pl_buf_puts(&rc->body, ",\"name\":");
	pl_buf_json_str(&rc->body, bt->self && bt->self->name ? bt->self->name : "");
	pl_buf_puts(&rc->body, "}}");
	free(ticket);
	if (gw_ticket_store(rc->jti, call->user, gw_api_rtm_stored, rc) != 0)
		gw_api_rtm_stored(PL_EUNAVAIL, rc);
	return;
drop:
	free(call);
}

/* gw_api_rtm_connect - Slack's rtm.connect with a single-use ws URL */
static void
gw_api_rtm_connect(struct gw_conn *c, struct gw_auth *a)
{
	struct gw_api_call *call = gw_api_call_new(c, a);
	Parley__Request req;
	Parley__Caller caller;
	int rv;

	pl_request_init(&req, "session.boot");
	gw_request_caller(&req, &caller, a->user, a->team, 0, "");
	req.source = "web";
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_api_rtm_booted, call);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_api_rtm_booted(rv, NULL, call);
}

/* gw_api_find - the table row of method, NULL when not allowed */
static const struct gw_api_method *
gw_api_find(const char *method)
{
	size_t i;

	for (i = 0; i < sizeof(gw_api_methods) / sizeof(gw_api_methods[0]); i++)
		if (strcmp(method, gw_api_methods[i].name) == 0)
			return &gw_api_methods[i];
	return NULL;
}

/* gw_api_method_ok - a method name is letters, digits, '.' and '_' */
static int
gw_api_method_ok(const char *m)
{
	if (*m == 0)
		return 0;
	for (; *m; m++)
		if (!((*m >= 'a' && *m <= 'z') || (*m >= 'A' && *m <= 'Z') ||
		    (*m >= '0' && *m <= '9') || *m == '.' || *m == '_'))
			return 0;
	return 1;
}

/* gw_api_auth - authenticate the call for row m: 0 or an error code */
static const char *
gw_api_auth(struct gw_conn *c, const struct gw_api_method *m, struct gw_auth *a)
{
	const char *bearer = gw_auth_bearer(c->http->auth), *tok = bearer;
	int rv;

	memset(a, 0, sizeof(*a));
	if (tok == NULL)
		tok = gw_params_get(&c->http->params, "token");
	if (m->flags & GW_API_NOAUTH)
		return NULL;
	if (tok == NULL || *tok == 0)
		return "not_authed";
	if (m->flags & GW_API_ADMIN) {
		/* the admin token in the Authorization header only: a token=
		 * parameter ends up in access logs, proxies and browser history */
		if (bearer == NULL || !gw_auth_admin(bearer))
			return "not_allowed_token_type";
		a->admin = 1;
		return NULL;
	}
	rv = gw_auth_token(tok, a);
	return rv == 0 ? NULL : gw_auth_err_code(rv);
}

/* gw_api_limited - the tier of m for this caller: 1 answered 429 */
static int
gw_api_limited(struct gw_conn *c, const struct gw_api_method *m,
    const struct gw_auth *a)
{
	static const char body[] = "{\"ok\":false,\"error\":\"ratelimited\"}";
	const char *ch = gw_params_get(&c->http->params, "channel");
	char key[GW_ID_MAX + 128];
	int retry = 0;

	if (m->tier == GW_TIER_NONE || !gw_conf.rate_limits)
		return 0;
	/* chat.postMessage: per user and channel, so that one member hitting
	 * the limit does not silence the channel for everyone else */
	if (m->tier == GW_TIER_POST && ch != NULL && *ch)
		snprintf(key, sizeof(key), "%s#%.40s|%s", a->user, ch, c->http->method);
	else
		snprintf(key, sizeof(key), "%s|%s", a->user, c->http->method);
	if (gw_limits_api(key, gw_api_tiers[m->tier].per_min,
	    gw_api_tiers[m->tier].burst, &retry) == 0)
		return 0;
	pl_metrics_inc(gw_m.api_limited);
	pl_log_debug("GW-API-LIMITED", "method=%s user=%s retry_after=%d",
	    c->http->method, a->user, retry);
	c->http->retry_after = retry;
	gw_http_reply(c, 429, GW_JSON, body, sizeof(body) - 1);
	return 1;
}

/* a call waiting for its user's active check (active.c) */
struct gw_api_pending {
	gw_handle h;
	const struct gw_api_method *m;
	struct gw_auth a;
};

/* gw_api_checked - the user is active (rv 0) or refused: run or answer */
static void
gw_api_checked(int rv, void *arg)
{
	struct gw_api_pending *pc = arg;
	struct gw_conn *c = gw_conn_find(pc->h);

	if (c != NULL && c->http != NULL) {
		if (rv != 0)
			gw_reply_api_error(c, gw_active_err_code(rv));
		else
			pc->m->fn(c, &pc->a);
	}
	free(pc);
}

/* gw_api_dispatch - route a complete request through the table */
void
gw_api_dispatch(struct gw_conn *c)
{
	const struct gw_api_method *m;
	struct gw_api_pending *pc;
	struct gw_auth a;
	const char *err;

	pl_metrics_inc(gw_m.api_calls);
	if (!gw_api_method_ok(c->http->method) ||
	    (m = gw_api_find(c->http->method)) == NULL) {
		gw_reply_api_error(c, "unknown_method");
		return;
	}
	if ((err = gw_api_auth(c, m, &a)) != NULL) {
		gw_reply_api_error(c, err);
		return;
	}
	if (gw_api_limited(c, m, &a))
		return;
	if ((m->flags & GW_API_NOAUTH) || a.admin) {
		m->fn(c, &a);
		return;
	}
	/* a signed token of a deactivated user is refused (account_inactive) */
	pc = pl_calloc(1, sizeof(*pc));
	pc->h = gw_conn_handle(c);
	pc->m = m;
	pc->a = a;
	gw_active_check(a.user, a.team, gw_api_checked, pc);
}

/* gw_api_init - the tier buckets (limits.c) */
int
gw_api_init(void)
{
	static const struct gw_server_api_ops ops = { gw_api_dispatch, gw_poll_free };

	gw_server_set_api(&ops);
	return gw_limits_api_init();
}

/* gw_api_fini - free the buckets */
void
gw_api_fini(void)
{
	gw_limits_api_fini();
}
