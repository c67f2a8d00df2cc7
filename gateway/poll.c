/* poll.c - events.poll: the long-polling fallback (PROTOCOL.md, issue #6).
 *
 * POST {"last_seq":{"C1":41,…}} (or the "cursor" of the previous answer,
 * opaque: base64url of the compact JSON of last_seq), "timeout" seconds
 * (default 25, at most PARLEY_POLL_MAX_S). Answers {ok, events, cursor,
 * last_seq} with the events the WebSocket would carry for the user,
 * rendered by pl_event_json, in seq order per channel.
 *
 * A poll is the HTTP connection's gw_conn playing a live connection for a
 * while: session.boot gives the member channels, gw_cache_attach puts it in
 * the same indexes fan-out uses (so members-only, joins and removals are
 * decided exactly as for a WebSocket), THEN each channel named by the client
 * is replayed from message-svc (channel.replay after its seq). Attaching
 * before replaying means nothing falls between the two.
 *
 * No loss, no repeat: per channel the cursor advances only over events put
 * in the answer, and an event is put in only if its seq is exactly cursor+1
 * (a seq at or below is a repeat, dropped; a seq beyond is a gap, left for
 * the replay of the next poll, which starts at the cursor). Events without
 * a seq (typing, presence, channel_created, member_joined) are delivered
 * only while a poll is held, as on a WebSocket that is connected.
 *
 * Membership is checked again on every replay page, as resume does: a
 * channel the user has left (or been removed from) since the boot - the
 * connection is no longer subscribed to it in the edge cache, or
 * channel.replay says not_in_channel - gives nothing more and leaves the
 * cursor.
 *
 * Bounded: PARLEY_MAX_POLLS held polls per process, PARLEY_MAX_POLLS_USER
 * per user (then 429 ratelimited), PARLEY_MAX_HOLD events per answer. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "event_json.h"
#include "gw.h"
#include "gw_auth.h"
#include "gw_blob.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_metrics.h"
#include "gw_poll.h"
#include "gw_presence.h"
#include "gw_reply.h"
#include "json.h"
#include "jwt.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "slack_err.h"
#include "strmap.h"

#define GW_POLL_JSON "application/json; charset=utf-8"
#define GW_POLL_MAX_CHANNELS 1000
#define GW_POLL_PAGE 500
#define GW_POLL_PAGE_S "500"
#define GW_POLL_DEFAULT_S 25

struct gw_poll_chan {
	char id[GW_ID_MAX + 1];
	int64_t upto;		/* last seq answered (the cursor) */
	int64_t last;		/* the channel's last seq at boot */
	uint8_t named;		/* the client named it: replay it */
	uint8_t gap;		/* a live event came beyond the cursor */
	uint8_t gone;		/* no longer a member: nothing more, not in the cursor */
};

struct gw_poll {
	struct gw_conn *c;
	struct gw_poll *prev, *next;
	gw_handle h;
	struct gw_poll_chan *chans;
	int nchans;
	int pending;		/* replays outstanding */
	int gap;		/* a live event was beyond a cursor */
	int nevents;
	struct pl_buf events;	/* rendered events, comma-separated */
	struct cJSON *asked;	/* the client's last_seq */
	int64_t timeout_ms;
	struct pl_timer *timer, *flush;
};

struct gw_poll_replay {
	gw_handle h;
	int idx;
	struct pl_timer *delay;	/* PARLEY_TEST_POLL_REPLAY_DELAY_MS only */
};

static struct {
	struct gw_poll *list;
	uint32_t n;
	struct pl_strmap *per_user;	/* user -> held polls (as a pointer-sized int) */
} gw_polls;

static void gw_poll_replay(struct gw_poll *p, int idx);

/* gw_poll_user_add - count a held poll of user (d = +1 / -1) */
static void
gw_poll_user_add(const char *user, int d)
{
	intptr_t n;

	if (gw_polls.per_user == NULL)
		gw_polls.per_user = pl_strmap_create();
	n = (intptr_t)pl_strmap_get(gw_polls.per_user, user) + d;
	if (n <= 0)
		pl_strmap_del(gw_polls.per_user, user);
	else
		pl_strmap_put(gw_polls.per_user, user, (void *)n);
}

/* gw_poll_detach - leave the indexes and the list; free the state */
static void
gw_poll_detach(struct gw_conn *c)
{
	struct gw_poll *p = c->poll;

	if (p == NULL)
		return;
	gw_cache_detach(c);
	pl_loop_timer_stop(&p->timer);
	pl_loop_timer_stop(&p->flush);
	if (p->prev)
		p->prev->next = p->next;
	else
		gw_polls.list = p->next;
	if (p->next)
		p->next->prev = p->prev;
	gw_polls.n--;
	gw_poll_user_add(c->user, -1);
	cJSON_Delete(p->asked);
	pl_buf_fini(&p->events);
	free(p->chans);
	free(p);
	c->poll = NULL;
	c->state = GW_CONN_HTTP;
}

/* gw_poll_free - the HTTP connection went away while a poll was held */
void
gw_poll_free(struct gw_conn *c)
{
	gw_poll_detach(c);
}

/* gw_poll_cursor - {"C1":41,…} of the poll's channels, and its base64url */
static void
gw_poll_cursor(const struct gw_poll *p, struct pl_buf *json, char **b64_r)
{
	int i;

	pl_buf_puts(json, "{");
	for (i = 0; i < p->nchans; i++) {
		if (p->chans[i].gone)
			continue;
		if (json->len > 1)
			pl_buf_puts(json, ",");
		pl_buf_json_str(json, p->chans[i].id);
		pl_buf_printf(json, ":%lld", (long long)p->chans[i].upto);
	}
	pl_buf_puts(json, "}");
	*b64_r = pl_b64url_encode(json->data, json->len);
}

/* gw_poll_answer - {ok, events, cursor, last_seq}; the poll ends */
static void
gw_poll_answer(struct gw_conn *c)
{
	struct gw_poll *p = c->poll;
	struct pl_buf b, cur;
	char *b64;

	pl_buf_init(&b);
	pl_buf_init(&cur);
	gw_poll_cursor(p, &cur, &b64);
	pl_buf_puts(&b, "{\"ok\":true,\"events\":[");
	if (p->events.len > 0)
		pl_buf_append(&b, p->events.data, p->events.len);
	pl_buf_puts(&b, "],\"cursor\":");
	pl_buf_json_str(&b, b64);
	pl_buf_puts(&b, ",\"last_seq\":");
	pl_buf_append(&b, cur.data, cur.len);
	pl_buf_puts(&b, "}");
	pl_log_debug("GW-POLL-ANSWER", "user=%s events=%d", c->user, p->nevents);
	gw_poll_detach(c);
	gw_http_reply(c, 200, GW_POLL_JSON, b.data, b.len);
	free(b64);
	pl_buf_fini(&cur);
	pl_buf_fini(&b);
}

/* gw_poll_timeout - the hold is over (or flush: answer what we have) */
static void
gw_poll_timeout(void *arg)
{
	struct gw_conn *c = gw_conn_find((gw_handle)(uintptr_t)arg);

	if (c != NULL && c->poll != NULL)
		gw_poll_answer(c);
}

/* gw_poll_chan - the poll's entry of channel id, or NULL */
static struct gw_poll_chan *
gw_poll_chan(struct gw_poll *p, const char *id)
{
	int i;

	for (i = 0; id != NULL && i < p->nchans; i++)
		if (strcmp(p->chans[i].id, id) == 0)
			return &p->chans[i];
	return NULL;
}

/* gw_poll_add - append one rendered event */
static void
gw_poll_add(struct gw_poll *p, const void *json, size_t len)
{
	if (p->nevents > 0)
		pl_buf_puts(&p->events, ",");
	pl_buf_append(&p->events, json, len);
	p->nevents++;
}

/* gw_poll_ready - replays done: answer now if there is something, else
 * replay a channel where a gap was seen, else keep holding */
static void
gw_poll_ready(struct gw_conn *c)
{
	struct gw_poll *p = c->poll;
	int i, n = p->nchans;

	if (p->pending > 0 || c->poll != p)
		return;
	if (p->nevents > 0 || p->timeout_ms == 0) {
		if (p->flush == NULL)
			(void)pl_loop_timer(gw.loop, 0, 0, gw_poll_timeout,
			    (void *)(uintptr_t)p->h, &p->flush);
		return;
	}
	if (!p->gap)
		return;
	p->gap = 0;
	for (i = 0; i < n && c->poll == p; i++) {
		if (p->chans[i].gap) {
			p->chans[i].gap = 0;
			if (!p->chans[i].gone)
				gw_poll_replay(p, i);
		}
	}
}

/* gw_poll_refuse - answer a held poll with an error and end it (its user
 * was deactivated: active.c) */
void
gw_poll_refuse(struct gw_conn *c, const char *code)
{
	if (c->poll == NULL)
		return;
	gw_poll_detach(c);
	gw_reply_api_error(c, code);
}

/* gw_poll_gone - pc's channel is no longer the user's: membership is asked
 * again on every page (the connection left the channel's subscribers when
 * the user was removed, or message-svc says not_in_channel) */
static int
gw_poll_gone(struct gw_conn *c, struct gw_poll_chan *pc, int rv,
    const Parley__Reply *reply)
{
	if (rv == 0 && reply != NULL && !reply->ok && reply->error != NULL &&
	    strcmp(reply->error, "not_in_channel") == 0)
		pc->gone = 1;
	else if (rv == 0 && reply != NULL && reply->ok &&
	    gw_cache_seen(c, gw_cache_chan(pc->id)) == NULL)
		pc->gone = 1;
	if (pc->gone)
		pl_log_debug("GW-POLL-GONE", "user=%s channel=%s", c->user, pc->id);
	return pc->gone;
}

/* gw_poll_event - a live event for a held poll (fanout.c) */
void
gw_poll_event(struct gw_conn *c, const struct gw_blob *b, const char *channel,
    int64_t seq)
{
	struct gw_poll *p = c->poll;
	struct gw_poll_chan *pc;

	if (p->nevents >= gw_conf.max_hold)
		return;			/* seq events come again by replay */
	if (seq > 0 && channel != NULL) {
		if ((pc = gw_poll_chan(p, channel)) == NULL)
			return;		/* not one of ours (joined: below) */
		if (seq <= pc->upto)
			return;		/* a repeat */
		if (seq != pc->upto + 1) {
			p->gap = pc->gap = 1;	/* a replay brings it */
			gw_poll_ready(c);
			return;
		}
		pc->upto = seq;
	}
	gw_poll_add(p, b->data, b->len);
	gw_poll_ready(c);
}

/* gw_poll_replayed - one channel's replay answered */
static void
gw_poll_replayed(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_poll_replay *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	struct gw_poll_chan *pc;
	struct pl_buf out;
	size_t i;

	if (c == NULL || c->poll == NULL)
		goto out;
	pc = &c->poll->chans[call->idx];
	c->poll->pending--;
	if (gw_poll_gone(c, pc, rv, reply)) {
		gw_poll_ready(c);
		goto out;
	}
	if (rv != 0 || reply == NULL || !reply->ok) {
		pl_log_warn("GW-POLL-REPLAY", "user=%s channel=%s err=%s", c->user,
		    pc->id, rv ? pl_err_str(rv) : (reply && reply->error ? reply->error : ""));
		gw_reply_api_error(c, rv ? pl_slack_rpc_error(rv) : "internal_error");
		gw_poll_detach(c);
		goto out;
	}
	if (reply->resync_required && pc->upto < pc->last) {
		pl_buf_init(&out);
		pl_buf_puts(&out, "{\"type\":\"resync_required\",\"channel\":");
		pl_buf_json_str(&out, pc->id);
		pl_buf_puts(&out, "}");
		gw_poll_add(c->poll, out.data, out.len);
		pl_buf_fini(&out);
		if (pc->last > pc->upto)
			pc->upto = pc->last;	/* the client reloads history */
	}
	pl_buf_init(&out);
	for (i = 0; i < reply->n_events; i++) {
		const Parley__Envelope *env = reply->events[i];

		if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE ||
		    env->message->seq != pc->upto + 1)
			continue;
		pl_buf_reset(&out);
		if (pl_event_json(env, &out) == 0 && out.len > 0)
			gw_poll_add(c->poll, out.data, out.len);
		pc->upto = env->message->seq;
	}
	pl_buf_fini(&out);
	if (reply->n_events >= GW_POLL_PAGE && c->poll->nevents < gw_conf.max_hold) {
		gw_poll_replay(c->poll, call->idx);
		goto out;
	}
	gw_poll_ready(c);
out:
	pl_loop_timer_stop(&call->delay);
	free(call);
}

/* gw_poll_replay_send - channel.replay of the call's channel after its
 * cursor */
static void
gw_poll_replay_send(struct gw_poll_replay *call)
{
	struct gw_conn *c = gw_conn_find(call->h);
	struct gw_poll *p = c != NULL ? c->poll : NULL;
	int idx = call->idx;
	Parley__Request req;
	Parley__Caller caller;
	char after[24];
	int rv;

	if (p == NULL || idx >= p->nchans) {
		pl_loop_timer_stop(&call->delay);
		free(call);
		return;
	}
	snprintf(after, sizeof(after), "%lld", (long long)p->chans[idx].upto);
	pl_request_init(&req, "channel.replay");
	gw_request_caller(&req, &caller, c->user, c->team, 0, "");
	req.source = "poll";
	pl_request_param(&req, "channel", p->chans[idx].id);
	pl_request_param(&req, "after_seq", after);
	pl_request_param(&req, "limit", GW_POLL_PAGE_S);
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_poll_replayed, call);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_poll_replayed(rv, NULL, call);
}

/* gw_poll_replay_due - the test delay is over */
static void
gw_poll_replay_due(void *arg)
{
	gw_poll_replay_send(arg);
}

/* gw_poll_replay - ask for channel idx's events after its cursor (later
 * under PARLEY_TEST_POLL_REPLAY_DELAY_MS, a test-only knob) */
static void
gw_poll_replay(struct gw_poll *p, int idx)
{
	struct gw_poll_replay *call = pl_calloc(1, sizeof(*call));

	call->h = p->h;
	call->idx = idx;
	p->pending++;
	if (gw_conf.test_poll_replay_delay_ms > 0) {
		pl_log_info("GW-POLL-REPLAY-DELAYED", "user=%s channel=%s ms=%lld",
		    p->c->user, p->chans[idx].id, (long long)gw_conf.test_poll_replay_delay_ms);
		if (pl_loop_timer(gw.loop, (uint64_t)gw_conf.test_poll_replay_delay_ms, 0,
		    gw_poll_replay_due, call, &call->delay) == 0)
			return;
	}
	gw_poll_replay_send(call);
}

/* gw_poll_channels - the member channels with their cursors: the client's
 * seq where it named the channel, else the channel's last seq (from now) */
static void
gw_poll_channels(struct gw_poll *p, const Parley__Boot *boot)
{
	const cJSON *asked;
	const Parley__Channel *ch;
	size_t i;

	p->chans = pl_calloc(boot->n_channels + 1, sizeof(*p->chans));
	for (i = 0; i < boot->n_channels && p->nchans < GW_POLL_MAX_CHANNELS; i++) {
		ch = boot->channels[i];
		if (ch->id == NULL || *ch->id == 0 || ch->archived ||
		    strlen(ch->id) > GW_ID_MAX)
			continue;
		snprintf(p->chans[p->nchans].id, sizeof(p->chans[0].id), "%s", ch->id);
		asked = cJSON_GetObjectItemCaseSensitive(p->asked, ch->id);
		/* gw_poll_asked checked every number: an integer within ±2^53 */
		if (pl_json_int_in(asked, 0, PL_JSON_INT_SAFE, &p->chans[p->nchans].upto) == 0) {
			p->chans[p->nchans].named = 1;
		} else {
			p->chans[p->nchans].upto = ch->last_seq;
		}
		p->chans[p->nchans].last = ch->last_seq;
		p->nchans++;
	}
}

/* gw_poll_booted - session.boot answered: attach, then replay */
static void
gw_poll_booted(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_conn *c = gw_conn_find((gw_handle)(uintptr_t)arg);
	struct gw_poll *p;
	int i, n;

	if (c == NULL || (p = c->poll) == NULL)
		return;
	if (rv != 0 || reply == NULL || !reply->ok || reply->boot == NULL) {
		gw_reply_api_error(c, rv != 0 || reply == NULL ? pl_slack_rpc_error(rv) :
		    (reply->error && *reply->error ? reply->error : "invalid_auth"));
		gw_poll_detach(c);
		return;
	}
	gw_poll_channels(p, reply->boot);
	gw_cache_attach(c, reply->boot);
	c->state = GW_CONN_LIVE;
	gw_presence_poll(c);	/* a polling client is present too */
	if (p->timeout_ms > 0)
		(void)pl_loop_timer(gw.loop, (uint64_t)p->timeout_ms, 0, gw_poll_timeout,
		    (void *)(uintptr_t)p->h, &p->timer);
	n = p->nchans;
	for (i = 0; i < n && c->poll == p; i++)
		if (p->chans[i].named)
			gw_poll_replay(p, i);
	if (c->poll == p)
		gw_poll_ready(c);
}

/* gw_poll_seqs_ok - every number of the client's last_seq is an integer
 * within ±(2^53-1): a huge or infinite one would not convert to int64 */
static int
gw_poll_seqs_ok(const cJSON *asked)
{
	const cJSON *it;
	int64_t v;

	cJSON_ArrayForEach(it, asked)
		if (cJSON_IsNumber(it) &&
		    pl_json_int_in(it, -PL_JSON_INT_SAFE, PL_JSON_INT_SAFE, &v) != 0)
			return 0;
	return 1;
}

/* gw_poll_asked - the client's last_seq: cursor, else last_seq; NULL bad */
cJSON *
gw_poll_asked(const struct gw_params *params)
{
	const char *cur = gw_params_get(params, "cursor");
	const char *ls = gw_params_get(params, "last_seq");
	unsigned char *raw = NULL;
	size_t n = 0;
	cJSON *o;

	if (cur != NULL && *cur) {
		if (pl_b64url_decode(cur, strlen(cur), &raw, &n) != 0)
			return NULL;
		o = cJSON_ParseWithLength((const char *)raw, n);
		free(raw);
	} else if (ls != NULL && *ls) {
		o = cJSON_Parse(ls);
	} else {
		o = cJSON_CreateObject();
	}
	/* at most as many channels as a poll follows: each of the user's
	 * channels is looked up in it (linear), so its size bounds the work */
	if (o != NULL && (!cJSON_IsObject(o) ||
	    cJSON_GetArraySize(o) > GW_POLL_MAX_CHANNELS || !gw_poll_seqs_ok(o))) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* gw_poll_timeout_ms - the timeout parameter, bounded; -1 when malformed */
int64_t
gw_poll_timeout_ms(const struct gw_params *params)
{
	const char *t = gw_params_get(params, "timeout");
	char *end;
	double s;

	if (t == NULL || *t == 0)
		s = GW_POLL_DEFAULT_S;
	else if (s = strtod(t, &end), !(s >= 0) || *end != 0)
		return -1;	/* negative, NaN (its comparisons are false) or not a number */
	if (s > (double)gw_conf.poll_max_s)
		s = (double)gw_conf.poll_max_s;
	return (int64_t)(s * 1000);
}

/* gw_poll_limited - 429 ratelimited with Retry-After 1 */
static void
gw_poll_limited(struct gw_conn *c)
{
	static const char body[] = "{\"ok\":false,\"error\":\"ratelimited\"}";

	pl_metrics_inc(gw_m.api_limited);
	c->http->retry_after = 1;
	gw_http_reply(c, 429, GW_POLL_JSON, body, sizeof(body) - 1);
}

/* gw_poll_start - events.poll (a row of api.c's table) */
void
gw_poll_start(struct gw_conn *c, const struct gw_auth *a)
{
	struct gw_poll *p;
	Parley__Request req;
	Parley__Caller caller;
	cJSON *asked;
	int64_t tmo = gw_poll_timeout_ms(&c->http->params);
	int rv;

	if (tmo < 0 || (asked = gw_poll_asked(&c->http->params)) == NULL) {
		gw_reply_api_error(c, "invalid_arguments");
		return;
	}
	if (gw_polls.n >= (uint32_t)gw_conf.max_polls || (gw_polls.per_user &&
	    (intptr_t)pl_strmap_get(gw_polls.per_user, a->user) >= gw_conf.max_polls_user)) {
		cJSON_Delete(asked);
		gw_poll_limited(c);
		return;
	}
	p = pl_calloc(1, sizeof(*p));
	p->c = c;
	p->h = gw_conn_handle(c);
	p->asked = asked;
	p->timeout_ms = tmo;
	pl_buf_init(&p->events);
	memcpy(c->user, a->user, sizeof(c->user));
	memcpy(c->team, a->team, sizeof(c->team));
	c->poll = p;
	c->state = GW_CONN_BOOTING;
	p->next = gw_polls.list;
	if (p->next)
		p->next->prev = p;
	gw_polls.list = p;
	gw_polls.n++;
	gw_poll_user_add(c->user, 1);
	pl_request_init(&req, "session.boot");
	gw_request_caller(&req, &caller, c->user, c->team, 0, "");
	req.source = "poll";
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_poll_booted,
	    (void *)(uintptr_t)p->h);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_poll_booted(rv, NULL, (void *)(uintptr_t)p->h);
}

/* gw_poll_drain_all - answer every held poll now (SIGTERM) */
void
gw_poll_drain_all(void)
{
	struct gw_poll *p, *next;

	for (p = gw_polls.list; p != NULL; p = next) {
		next = p->next;
		if (p->pending == 0 && p->c->state == GW_CONN_LIVE)
			gw_poll_answer(p->c);
	}
}

/* gw_poll_count - held polls of this process */
size_t
gw_poll_count(void)
{
	return gw_polls.n;
}

/* gw_poll_gauge - held events.poll requests, at scrape time */
static double
gw_poll_gauge(void *arg)
{
	(void)arg;
	return (double)gw_poll_count();
}

/* gw_poll_init - register the gauge of held polls */
int
gw_poll_init(void)
{
	pl_metrics_gauge_fn("parley_gateway_polls_held", "events.poll requests being held.",
	    NULL, gw_poll_gauge, NULL);
	return 0;
}

/* gw_poll_fini - free the per-user counts (polls are gone with lws) */
void
gw_poll_fini(void)
{
	pl_strmap_free(&gw_polls.per_user, NULL);
}
