/* rtm.c - client frames of the RTM WebSocket API (PROTOCOL.md), dispatched
 * through a table by "type". Every answer carries the frame's id as
 * reply_to; bad input gets a documented error and touches nobody else. */
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "fields.h"
#include "gw.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_presence.h"
#include "gw_reply.h"
#include "gw_resume.h"
#include "gw_rtm.h"
#include "gw_services.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "slack_err.h"
#include "utf8.h"

#define GW_PSUB_MAX 500

struct gw_rtm_call {
	gw_handle h;
	int64_t reply_to;
	uint64_t start_us;
};

typedef int (*gw_rtm_fn)(struct gw_conn *c, const cJSON *f, int64_t id);

/* gw_rtm_sent - message-svc answered a send */
static void
gw_rtm_sent(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_rtm_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	const Parley__Message *m;
	struct pl_buf b;

	pl_metrics_observe(gw_m.rpc_s, (double)(pl_clock_mono_us() - call->start_us) / 1e6);
	if (c == NULL)
		goto out;
	if (rv != 0 || reply == NULL) {
		gw_reply_rtm_fail(c, call->reply_to, pl_slack_rpc_error(rv), pl_err_str(rv));
		goto out;
	}
	if (!reply->ok) {
		gw_reply_rtm_fail(c, call->reply_to, reply->error, reply->error);
		goto out;
	}
	m = reply->message;
	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"ok\":true,\"reply_to\":%lld", (long long)call->reply_to);
	if (m != NULL) {
		pl_buf_puts(&b, ",\"ts\":");
		pl_buf_json_str(&b, m->ts);
		pl_buf_printf(&b, ",\"seq\":%lld,\"channel\":", (long long)m->seq);
		pl_buf_json_str(&b, m->channel);
		pl_buf_puts(&b, ",\"text\":");
		pl_buf_json_str(&b, m->text);
	}
	pl_buf_puts(&b, "}");
	gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
out:
	free(call);
}

/* gw_rtm_strings_ok - each of keys is missing, null, or a string: a
 * thread_ts or client_msg_id of another type would be dropped silently
 * (the reply posted to the channel, the dedupe key lost) */
static int
gw_rtm_strings_ok(const cJSON *f, const char *const *keys)
{
	const cJSON *v;

	for (; *keys != NULL; keys++)
		if ((v = cJSON_GetObjectItemCaseSensitive(f, *keys)) != NULL &&
		    !cJSON_IsString(v) && !cJSON_IsNull(v))
			return 0;
	return 1;
}

/* gw_rtm_message - {"type":"message","channel","text",...} */
static int
gw_rtm_message(struct gw_conn *c, const cJSON *f, int64_t id)
{
	const char *ch = pl_json_str(f, "channel"), *text = pl_json_str(f, "text");
	const char *thread = pl_json_str(f, "thread_ts"), *cmid = pl_json_str(f, "client_msg_id");
	struct gw_rtm_call *call;
	Parley__Request req;
	Parley__Caller caller;
	const char *bad;
	char key[33];
	double wait;
	int rv;

	if (id < 0) {
		gw_reply_rtm_error(c, -1, "invalid_arguments", "message needs an integer id");
		return 0;
	}
	if (!gw_rtm_strings_ok(f, (const char *const[]){ "thread_ts", "client_msg_id", NULL })) {
		gw_reply_rtm_fail(c, id, "invalid_arguments", "thread_ts and client_msg_id are strings");
		return 0;
	}
	if (!gw_limits_send(c, &wait)) {
		pl_metrics_inc(gw_m.rtm_limited);
		gw_reply_rtm_limited(c, id, wait);
		return 0;
	}
	if (ch == NULL || !gw_cache_member(c, ch)) {
		gw_reply_rtm_fail(c, id, "channel_not_found", "no such channel, or not a member");
		return 0;
	}
	if (text == NULL || *text == 0) {
		gw_reply_rtm_fail(c, id, "no_text", "text is missing");
		return 0;
	}
	if (pl_utf8_len(text) > (size_t)gw_conf.max_rtm_text) {
		gw_reply_rtm_fail(c, id, "msg_too_long", "text is over the RTM limit");
		return 0;
	}
	if ((bad = pl_fields_message_error(text, thread, cmid)) != NULL) {
		gw_reply_rtm_fail(c, id, bad, "text, thread_ts or client_msg_id refused");
		return 0;
	}
	pl_request_init(&req, "chat.postMessage");
	gw_request_caller(&req, &caller, c->user, c->team, 0, c->session);
	/* without it an nng resend of a send with no client_msg_id would be
	 * appended twice (message-svc de-duplicates on the key) */
	gw_request_key(&req, key);
	req.source = "rtm";
	pl_request_param(&req, "channel", ch);
	pl_request_param(&req, "text", text);
	if (thread != NULL)
		pl_request_param(&req, "thread_ts", thread);
	if (cmid != NULL)
		pl_request_param(&req, "client_msg_id", cmid);
	call = pl_calloc(1, sizeof(*call));
	call->h = gw_conn_handle(c);
	call->reply_to = id;
	call->start_us = pl_clock_mono_us();
	gw_presence_conn_activity(c);
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_rtm_sent, call);
	req.caller = NULL;
	req.source = NULL;
	req.idempotency_key = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_rtm_sent(rv, NULL, call);
	return 0;
}

/* gw_rtm_ping - pong */
static int
gw_rtm_ping(struct gw_conn *c, const cJSON *f, int64_t id)
{
	struct pl_buf b;

	(void)f;
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"pong\"");
	if (id >= 0)
		pl_buf_printf(&b, ",\"reply_to\":%lld", (long long)id);
	pl_buf_puts(&b, "}");
	gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
	return 0;
}

/* gw_rtm_typing - report to presence-svc (throttled); no answer */
static int
gw_rtm_typing(struct gw_conn *c, const cJSON *f, int64_t id)
{
	const char *ch = pl_json_str(f, "channel");
	uint64_t now = pl_clock_mono_ms();

	(void)id;
	if (ch == NULL || !gw_cache_member(c, ch))
		return 0;
	if (c->typing_ms != 0 && now - c->typing_ms < (uint64_t)gw_conf.rate_typing_ms)
		return 0;
	c->typing_ms = now;
	gw_services_presence(c, "typing", ch);
	return 0;
}

/* gw_rtm_presence_sub - replace the users this connection watches */
static int
gw_rtm_presence_sub(struct gw_conn *c, const cJSON *f, int64_t id)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(f, "ids"), *it;
	double wait;

	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) > GW_PSUB_MAX) {
		gw_reply_rtm_error(c, id, "invalid_arguments", "ids must be an array of user ids");
		return 0;
	}
	if (!gw_presence_query_ok(c, cJSON_GetArraySize(ids), &wait)) {
		gw_reply_rtm_limited(c, id, wait);
		return 0;
	}
	gw_cache_watch(c, NULL);
	cJSON_ArrayForEach(it, ids) {
		if (cJSON_IsString(it) && strlen(it->valuestring) <= GW_ID_MAX)
			gw_cache_watch(c, it->valuestring);
	}
	/* watching first, then the current state: a change after the query
	 * is delivered as it happens */
	gw_presence_query(c, ids, 1);
	return 0;
}

/* gw_rtm_presence_query - the current presence of ids, once */
static int
gw_rtm_presence_query(struct gw_conn *c, const cJSON *f, int64_t id)
{
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(f, "ids");
	double wait;

	if (!cJSON_IsArray(ids) || cJSON_GetArraySize(ids) > GW_PSUB_MAX) {
		gw_reply_rtm_error(c, id, "invalid_arguments", "ids must be an array of user ids");
		return 0;
	}
	if (!gw_presence_query_ok(c, cJSON_GetArraySize(ids), &wait)) {
		gw_reply_rtm_limited(c, id, wait);
		return 0;
	}
	gw_presence_query(c, ids, 0);
	return 0;
}

/* gw_rtm_user_active - the user is active (Parley: counts against
 * auto-away like a sent message); no answer */
static int
gw_rtm_user_active(struct gw_conn *c, const cJSON *f, int64_t id)
{
	(void)f;
	(void)id;
	gw_presence_conn_activity(c);
	return 0;
}

/* gw_rtm_resume - replay what the client missed */
static int
gw_rtm_resume(struct gw_conn *c, const cJSON *f, int64_t id)
{
	const cJSON *ls = cJSON_GetObjectItemCaseSensitive(f, "last_seq");
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(f, "epoch");

	if (!cJSON_IsObject(ls) || (ep != NULL && !cJSON_IsObject(ep))) {
		gw_reply_rtm_error(c, id, "invalid_arguments",
		    "last_seq (and epoch, if given) must be objects");
		return 0;
	}
	return gw_resume_start(c, id, ls, ep);
}

static const struct {
	const char *type;
	gw_rtm_fn fn;
} gw_rtm_types[] = {
	{ "message", gw_rtm_message },
	{ "ping", gw_rtm_ping },
	{ "typing", gw_rtm_typing },
	{ "presence_sub", gw_rtm_presence_sub },
	{ "presence_query", gw_rtm_presence_query },
	{ "user_active", gw_rtm_user_active },
	{ "resume", gw_rtm_resume },
};

/* gw_rtm_frame - parse one client frame and dispatch it by type */
int
gw_rtm_frame(struct gw_conn *c, const char *text, size_t len)
{
	cJSON *f = NULL;
	const char *type;
	int64_t id = -1;
	size_t i;
	int rv = 0;

	if (pl_json_parse(text, len, &f) != 0 || !cJSON_IsObject(f)) {
		gw_reply_rtm_error(c, -1, "invalid_json", "a frame is one JSON object");
		goto out;
	}
	if (pl_json_int(f, "id", &id) != 0 || id < 0)
		id = -1;
	if (pl_json_has_nul(text, len)) {
		/* C strings end at a NUL: the rest of the text would be lost */
		gw_reply_rtm_error(c, id, "invalid_arguments", "strings may not hold NUL characters");
		goto out;
	}
	type = pl_json_str(f, "type");
	for (i = 0; type != NULL && i < sizeof(gw_rtm_types) / sizeof(gw_rtm_types[0]); i++) {
		if (strcmp(type, gw_rtm_types[i].type) == 0) {
			rv = gw_rtm_types[i].fn(c, f, id);
			goto out;
		}
	}
	gw_reply_rtm_error(c, id, "unknown_type", "unknown frame type");
out:
	cJSON_Delete(f);
	return rv;
}

/* gw_rtm_init - take the WebSocket connections' frames, and hold, sweep and
 * free their resume state (resume.c) */
int
gw_rtm_init(void)
{
	static const struct gw_conn_ops ops = {
		gw_rtm_frame, gw_resume_wait, gw_resume_expire, gw_resume_free,
	};

	gw_conn_set_ops(&ops);
	return 0;
}
