/* presence.c - the gateway's side of presence beyond the connection
 * reports (services.c): activity reports (a sent message, RTM user_active),
 * events.poll clients reported like sessions, and the current state of
 * users asked by presence_sub / presence_query, from presence-svc's batch
 * presence.query, rendered as Slack's batched presence_change
 * ({"type":"presence_change","presence":p,"users":[…]}, one frame per
 * presence value present, "active" first).
 *
 * A presence_sub registers its watches before it asks, so no change is
 * missed; but a change delivered while the query is out may be newer than
 * the batch's answer. Each user entry counts the presence_change events
 * delivered for it (presence_seq, fanout.c): a user whose count moved since
 * the query was sent is left out of the batch, the live event already told
 * the connection (and any later change comes live too). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_presence.h"
#include "gw_reply.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "presence_clnt.h"
#include "slack_err.h"

#define GW_ACTIVITY_MS 1000
#define GW_QUERY_BURST 1000	/* users a connection may ask about at once */

/* gw_presence_report - one report about (user, team, session) */
static void
gw_presence_report(const char *what, const char *user, const char *team,
    const char *session)
{
	struct pl_presence_report r;

	if (gw.presence == NULL)
		return;
	memset(&r, 0, sizeof(r));
	r.what = what;
	r.user = user;
	r.team = team;
	r.session = session;
	r.gateway = gw.name;
	(void)pl_presence_report(gw.presence, &r);
}

/* gw_presence_activity - the user did something (not a heartbeat) */
void
gw_presence_activity(const char *user, const char *team)
{
	gw_presence_report("activity", user, team, "");
}

/* gw_presence_conn_activity - a frame of c shows activity (a message,
 * user_active): reported at most once per GW_ACTIVITY_MS per connection, so
 * a client spamming user_active cannot crowd the heartbeats out of the
 * report socket (presence-svc coalesces per user on its side too) */
void
gw_presence_conn_activity(struct gw_conn *c)
{
	uint32_t now = (uint32_t)pl_clock_mono_ms();

	if (c->active_ms != 0 && now - c->active_ms < GW_ACTIVITY_MS)
		return;
	c->active_ms = now;
	gw_presence_activity(c->user, c->team);
}

/* gw_presence_query_ok - a presence_sub or presence_query of n users costs
 * n look-ups at presence-svc: a bucket per connection of GW_QUERY_BURST
 * users (or the rate, if more), refilled at PARLEY_RATE_PRESENCE_QUERY
 * (100) a second: a client reconnecting asks for its 500 at once, a loop
 * of queries is held to the rate. The fill time advances only by the time
 * the whole tokens gained took, so frequent small asks still refill. */
int
gw_presence_query_ok(struct gw_conn *c, int n, double *wait_s)
{
	uint64_t rate = (uint64_t)gw_conf.rate_presence_query;
	uint64_t burst = rate > GW_QUERY_BURST ? rate : GW_QUERY_BURST;
	uint32_t now = (uint32_t)pl_clock_mono_ms();
	uint64_t tokens = c->query_tokens, gained;

	if (c->query_ms == 0) {
		tokens = burst;
		c->query_ms = now;
	} else if ((gained = (uint64_t)(uint32_t)(now - c->query_ms) * rate / 1000) > 0) {
		tokens += gained;
		c->query_ms += (uint32_t)(gained * 1000 / rate);
	}
	if (tokens >= burst) {
		tokens = burst;
		c->query_ms = now;
	}
	if ((uint64_t)n > tokens) {
		c->query_tokens = (uint32_t)tokens;
		*wait_s = (double)((uint64_t)n - tokens) / (double)rate;
		return 0;
	}
	c->query_tokens = (uint32_t)(tokens - (uint64_t)n);
	return 1;
}

/* gw_presence_poll - an events.poll client is present: one session per
 * user and gateway, kept alive by each poll and expired by presence-svc's
 * ttl when the polls stop */
void
gw_presence_poll(const struct gw_conn *c)
{
	char session[64];

	snprintf(session, sizeof(session), "poll-%s", gw.name);
	gw_presence_report("poll", c->user, c->team, session);
}

/* one query in flight: the connection, and for a presence_sub each asked
 * user's presence_seq when it was sent */
struct gw_presence_call {
	gw_handle h;
	int watched;
	int n;
	int at;		/* answers come in the asked order: search from here */
	struct {
		char id[GW_ID_MAX + 1];
		uint32_t seq;
	} *asked;
};

/* gw_presence_fresh - 1 if no live change of id reached c's watches since
 * the query was sent (and c still watches id), for a presence_sub */
static int
gw_presence_fresh(struct gw_presence_call *call, const char *id)
{
	const struct gw_user *u;
	int k, i;

	if (!call->watched)
		return 1;
	for (k = 0; k < call->n; k++) {
		i = (call->at + k) % call->n;
		if (strcmp(call->asked[i].id, id) == 0) {
			call->at = i;
			return (u = gw_cache_user(id)) != NULL &&
			    u->presence_seq == call->asked[i].seq;
		}
	}
	return 0;
}

/* gw_presence_frame - one batched presence_change of the users whose
 * presence is p, if any */
static void
gw_presence_frame(struct gw_conn *c, struct gw_presence_call *call,
    const cJSON *users, const char *p)
{
	const cJSON *it;
	struct pl_buf b;
	int n = 0;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"presence_change\",\"presence\":");
	pl_buf_json_str(&b, p);
	pl_buf_puts(&b, ",\"users\":[");
	cJSON_ArrayForEach(it, users) {
		const char *id = pl_json_str(it, "id"), *pr = pl_json_str(it, "presence");

		if (id == NULL || pr == NULL || strcmp(pr, p) != 0 ||
		    !gw_presence_fresh(call, id))
			continue;
		if (n++ > 0)
			pl_buf_puts(&b, ",");
		pl_buf_json_str(&b, id);
	}
	pl_buf_puts(&b, "]}");
	if (n > 0)
		(void)gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
}

/* gw_presence_answered - presence.query answered: the batch frames */
static void
gw_presence_answered(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_presence_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	cJSON *j = NULL, *users;

	if (c == NULL || c->state != GW_CONN_LIVE)
		goto out;
	if (rv != 0 || reply == NULL || !reply->ok) {
		pl_log_warn("GW-PRESENCE-QUERY", "conn=%s err=%s", c->session,
		    rv ? pl_err_str(rv) : reply && reply->error ? reply->error : "");
		gw_reply_rtm_error(c, -1, rv ? pl_slack_rpc_error(rv) : "internal_error",
		    "the current presence could not be read");
		goto out;
	}
	if ((j = cJSON_Parse(reply->json ? reply->json : "")) == NULL)
		goto out;
	users = cJSON_GetObjectItemCaseSensitive(j, "users");
	if (cJSON_IsArray(users)) {
		gw_presence_frame(c, call, users, "active");
		gw_presence_frame(c, call, users, "away");
	}
out:
	cJSON_Delete(j);
	free(call->asked);
	free(call);
}

/* gw_presence_query - ask presence-svc for the current presence of the
 * string ids of a JSON array (at most PL_PRESENCE_QUERY_MAX, each at most
 * GW_ID_MAX: others skipped) and answer c with the batch frames */
void
gw_presence_query(struct gw_conn *c, const cJSON *ids, int watched)
{
	struct gw_presence_call *call;
	const struct gw_user *u;
	const cJSON *it;
	Parley__Request req;
	Parley__Caller caller;
	struct pl_buf users;
	int n = 0, rv;

	call = pl_calloc(1, sizeof(*call));
	call->h = gw_conn_handle(c);
	call->watched = watched;
	if (watched)
		call->asked = pl_calloc((size_t)PL_PRESENCE_QUERY_MAX, sizeof(*call->asked));
	pl_buf_init(&users);
	cJSON_ArrayForEach(it, ids) {
		if (!cJSON_IsString(it) || it->valuestring[0] == '\0' ||
		    strlen(it->valuestring) > GW_ID_MAX ||
		    strpbrk(it->valuestring, ",|") != NULL)
			continue;
		if (n++ >= PL_PRESENCE_QUERY_MAX)
			break;
		if (users.len > 0)
			pl_buf_puts(&users, ",");
		pl_buf_puts(&users, it->valuestring);
		if (watched) {
			snprintf(call->asked[call->n].id, GW_ID_MAX + 1, "%s", it->valuestring);
			u = gw_cache_user(it->valuestring);
			call->asked[call->n++].seq = u ? u->presence_seq : 0;
		}
	}
	if (n == 0) {
		pl_buf_fini(&users);
		free(call->asked);
		free(call);
		return;
	}
	pl_request_init(&req, "presence.query");
	gw_request_caller(&req, &caller, c->user, c->team, 0, c->session);
	req.source = "rtm";
	pl_request_param(&req, "users", users.data);
	rv = pl_presence_call(gw.presence, &req, gw_presence_answered, call);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	pl_buf_fini(&users);
	if (rv != 0)
		gw_presence_answered(rv, NULL, call);
}
