/* methods.c - the dispatch table: method name -> handler and its needs.
 * A handler returns 0 when it has taken the call (it will reply), or a
 * negative PL_E* before replying (the table replies with the error). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_methods.h"
#include "rpc.h"

#define MS_NEEDS_ADMIN 1	/* caller.admin */
#define MS_NEEDS_USER 2		/* caller.user and caller.team */
#define MS_NEEDS_READY 4	/* refused with not_ready until caught up */
/* changes state: a resend (nng REQ, same idempotency key) is answered with
 * the original's reply (call.c, resend.c). chat.postMessage has its own,
 * durable one (dedupe.c) */
#define MS_ONCE 8

struct ms_method {
	const char *name;
	int (*fn)(struct ms_call *c);
	int needs;
};

static const struct ms_method ms_methods[] = {
	{ "admin.teams.create", ms_dir_team_create, MS_NEEDS_ADMIN | MS_ONCE },
	{ "admin.users.create", ms_dir_user_create, MS_NEEDS_ADMIN | MS_ONCE },
	{ "admin.users.remove", ms_dir_user_remove, MS_NEEDS_ADMIN | MS_ONCE },
	{ "auth.test", ms_dir_auth_test, MS_NEEDS_USER },
	{ "session.boot", ms_dir_boot, MS_NEEDS_USER },
	{ "session.check", ms_dir_check, MS_NEEDS_USER },
	{ "conversations.create", ms_members_create, MS_NEEDS_USER | MS_ONCE },
	{ "conversations.info", ms_members_info, MS_NEEDS_USER },
	{ "conversations.members", ms_members_members, MS_NEEDS_USER },
	{ "conversations.join", ms_members_join, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "conversations.invite", ms_members_invite, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "conversations.leave", ms_members_leave, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "conversations.kick", ms_members_kick, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "conversations.history", ms_history, MS_NEEDS_USER },
	{ "conversations.replies", ms_history_replies, MS_NEEDS_USER },
	{ "chat.postMessage", ms_post_message, MS_NEEDS_USER | MS_NEEDS_READY },
	{ "chat.update", ms_edit_update, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "chat.delete", ms_edit_delete, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "reactions.add", ms_react_add, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "reactions.remove", ms_react_remove, MS_NEEDS_USER | MS_NEEDS_READY | MS_ONCE },
	{ "reactions.get", ms_react_get, MS_NEEDS_USER },
	{ "conversations.list", ms_list_conversations, MS_NEEDS_USER },
	{ "conversations.archive", ms_open_archive, MS_NEEDS_USER | MS_ONCE },
	{ "conversations.open", ms_open_conversation, MS_NEEDS_USER | MS_ONCE },
	{ "users.list", ms_list_users, MS_NEEDS_USER },
	{ "users.info", ms_list_user_info, MS_NEEDS_USER },
	{ "users.conversations", ms_list_user_conversations, MS_NEEDS_USER },
	{ "team.info", ms_list_team_info, MS_NEEDS_USER },
	{ "search.scope", ms_list_search_scope, MS_NEEDS_USER },
	{ "channel.replay", ms_replay, 0 },
};

/* ms_methods_find - the table entry of name, or NULL */
static const struct ms_method *
ms_methods_find(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(ms_methods) / sizeof(ms_methods[0]); i++)
		if (strcmp(ms_methods[i].name, name) == 0)
			return &ms_methods[i];
	return NULL;
}

/* ms_methods_refuse - the error code when the caller may not run m, or NULL */
static const char *
ms_methods_refuse(const struct ms_method *m, const struct ms_call *c)
{
	if ((m->needs & MS_NEEDS_ADMIN) && !c->admin)
		return "not_allowed_token_type";
	if ((m->needs & MS_NEEDS_USER) && (c->user[0] == '\0' || c->team[0] == '\0'))
		return "not_authed";
	if ((m->needs & MS_NEEDS_READY) && !ms_state_ready())
		return "not_ready";
	return NULL;
}

/* ms_methods_check - the table entry of c's method when c may run it; else
 * NULL and *why_r is the error code (a seam: tests/fuzz/fuzz_request.c) */
const struct ms_method *
ms_methods_check(const struct ms_call *c, const char **why_r)
{
	const struct ms_method *m = ms_methods_find(c->req->method);

	*why_r = m == NULL ? "unknown_method" : ms_methods_refuse(m, c);
	return *why_r == NULL ? m : NULL;
}

/* ms_methods_handle - the rpc handler: decode, look up, check, dispatch.
 * Undecodable input is dropped with an error reply and counted. */
void
ms_methods_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg)
{
	const struct ms_method *m;
	Parley__Request *req;
	struct ms_call *c;
	const char *why;
	int rv;

	pl_metrics_inc(ms_m.requests);
	req = parley__request__unpack(NULL, len, data);
	if (req == NULL) {
		Parley__Reply r = PARLEY__REPLY__INIT;
		uint8_t buf[64];

		pl_metrics_inc(ms_m.bad_input);
		pl_log_warn("MS-REQ-BAD", "len=%zu", len);
		r.error = "invalid_request";
		pl_rpc_reply(rpc, buf, parley__reply__pack(&r, buf));
		return;
	}
	c = ms_call_create(rpc, req);
	pl_log_debug("MS-REQ", "method=%s user=%s", req->method, c->user);
	/* a resend first: its original passed the checks (same caller, same
	 * bytes), and it must get that one's answer even if the shard is not
	 * ready any more (draining) */
	if ((m = ms_methods_find(req->method)) != NULL && (m->needs & MS_ONCE) &&
	    ms_call_resent(&c, data, len))
		return;
	if ((m = ms_methods_check(c, &why)) == NULL) {
		ms_call_error(&c, why);
		return;
	}
	if (m->needs & MS_ONCE)
		ms_call_once(c, data, len);
	if ((rv = m->fn(c)) != 0)
		ms_call_rv_error(&c, rv);
}
