/* resume.c - {"type":"resume","last_seq":{"C1":41,…},"epoch"?:{"C1":3}}:
 * replay what the client missed, per channel in seq order, from message-svc
 * (channel.replay), then {"type":"resumed","epochs":{…}}; a channel that
 * cannot be replayed (or whose epoch changed) gets
 * {"type":"resync_required","channel"}. A gap is never silent.
 *
 * While a resume runs, live events for the connection are held in a bounded
 * buffer (frames and bytes; overflow closes 4008: resume again). A
 * connection opened with ?resume=1 holds from hello on (gw_resume_wait), so
 * nothing live reaches it before its replay; without a resume frame within
 * GW_RESUME_WAIT_S the held events are written and the hold ends.
 *
 * Never twice: every channel event goes through gw_conn_send_seq, which
 * keeps per connection and channel the seq range written (lo..hi) and drops
 * a seq at or below hi. The replay writes a seq above hi, or below the lo
 * the range had when the resume began (events the client missed before
 * the first live one it got: written late, but not lost). Held events are
 * written after the replay, in arrival order (a channel's events arrive in
 * seq order), above what the replay wrote. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "event_json.h"
#include "gw.h"
#include "gw_blob.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_metrics.h"
#include "gw_reply.h"
#include "gw_resume.h"
#include "json.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"

#define GW_RESUME_MAX_CHANNELS 1000
/* events asked per channel.replay call: a full page asks again from where it
 * ended, so a long gap is replayed whole (message-svc caps a reply at 1000) */
#define GW_REPLAY_PAGE 500
#define GW_REPLAY_PAGE_S "500"

struct gw_held {
	struct gw_blob *b;
	char channel[GW_ID_MAX + 1];
	int64_t seq;
};

/* resume=1: how long live events are held waiting for the resume frame */
#define GW_RESUME_WAIT_S 10

struct gw_resume_chan {
	char id[GW_ID_MAX + 1];
	int64_t upto;		/* last seq the replay returned */
	int64_t lo0;		/* the lo of the written range at the start */
	uint32_t epoch;		/* the client's epoch (0: not given) */
	int done;
};

struct gw_resume {
	int64_t reply_to;
	uint32_t id;		/* tells replies of an older resume apart */
	int pending;
	uint8_t waiting;	/* resume=1: holding, no resume frame yet */
	uint32_t wait_until_s;	/* monotonic seconds */
	struct gw_resume_chan *chans;
	int nchans;
	struct gw_held *held;
	size_t nheld, capheld;
	size_t heldbytes;
};

struct gw_replay_call {
	gw_handle h;
	uint32_t id;
	int idx;
};

static uint32_t gw_resume_ids;

static void gw_resume_call(struct gw_conn *c, int idx);

/* gw_resume_free - drop the state and every held frame */
void
gw_resume_free(struct gw_conn *c)
{
	struct gw_resume *r = c->resume;
	uint32_t i;

	if (r == NULL)
		return;
	for (i = 0; i < r->nheld; i++)
		gw_blob_unref(&r->held[i].b);
	free(r->held);
	free(r->chans);
	free(r);
	c->resume = NULL;
}

/* gw_resume_hold - keep a live event until the replay is written */
int
gw_resume_hold(struct gw_conn *c, struct gw_blob *b, const char *channel,
    int64_t seq)
{
	struct gw_resume *r = c->resume;
	struct gw_held *h;

	if (r->nheld >= (size_t)gw_conf.max_hold ||
	    r->heldbytes + b->len > (size_t)gw_conf.max_sendq_bytes) {
		pl_log_info("GW-RESUME-HOLD-FULL", "conn=%s user=%s frames=%zu bytes=%zu",
		    c->session, c->user, r->nheld, r->heldbytes);
		pl_metrics_inc(gw_m.sendq_closes);
		gw_resume_free(c);
		gw_conn_close(c, 4008, "send queue full: resume");
		return 1;
	}
	r->held = pl_grow(r->held, &r->capheld, r->nheld + 1, 16, sizeof(*r->held));
	h = &r->held[r->nheld++];
	h->b = gw_blob_ref(b);
	r->heldbytes += b->len;
	snprintf(h->channel, sizeof(h->channel), "%s", channel ? channel : "");
	h->seq = seq;
	return 1;
}

/* gw_resume_flush - write the held events: a channel event only above
 * the seq already written (gw_conn_send_seq), in arrival order */
static void
gw_resume_flush(struct gw_conn *c)
{
	struct gw_resume *r = c->resume;
	struct gw_held *h;
	uint32_t i;

	for (i = 0; i < r->nheld && c->resume == r; i++) {
		h = &r->held[i];
		if (h->seq > 0 && h->channel[0] != 0)
			gw_conn_send_seq(c, h->b, gw_cache_chan(h->channel), h->seq);
		else
			gw_conn_send_blob(c, h->b);
	}
}

/* gw_resume_epochs - ,"epochs":{"C1":4,…} of the resumed channels (the
 * epoch this gateway last saw: boot or the channel's latest event) */
static void
gw_resume_epochs(const struct gw_resume *r, struct pl_buf *b)
{
	const struct gw_chan *ch;
	int i, n = 0;

	for (i = 0; i < r->nchans; i++) {
		if ((ch = gw_cache_chan(r->chans[i].id)) == NULL || ch->epoch == 0)
			continue;
		pl_buf_puts(b, n++ ? "," : ",\"epochs\":{");
		pl_buf_json_str(b, ch->id);
		pl_buf_printf(b, ":%u", ch->epoch);
	}
	if (n > 0)
		pl_buf_puts(b, "}");
}

/* gw_resume_finish - every channel replayed: flush held, say resumed */
static void
gw_resume_finish(struct gw_conn *c)
{
	struct gw_resume *r = c->resume;
	struct pl_buf done;

	gw_resume_flush(c);
	if (c->resume != r)
		return;		/* closed (4008) while flushing */
	pl_buf_init(&done);
	pl_buf_printf(&done, "{\"type\":\"resumed\",\"reply_to\":%lld",
	    (long long)r->reply_to);
	gw_resume_epochs(r, &done);
	pl_buf_puts(&done, "}");
	gw_resume_free(c);
	gw_conn_send(c, done.data, done.len);
	pl_buf_fini(&done);
}

/* gw_resume_wait - resume=1: hold live events until the resume frame */
void
gw_resume_wait(struct gw_conn *c)
{
	struct gw_resume *r;

	if (c->resume != NULL)
		return;
	r = pl_calloc(1, sizeof(*r));
	r->waiting = 1;
	r->wait_until_s = (uint32_t)(pl_clock_mono_ms() / 1000) + GW_RESUME_WAIT_S;
	c->resume = r;
}

/* gw_resume_expire - no resume frame in time: write what was held */
void
gw_resume_expire(struct gw_conn *c, uint32_t now_s)
{
	struct gw_resume *r = c->resume;

	if (r == NULL || !r->waiting || now_s < r->wait_until_s)
		return;
	pl_metrics_inc(gw_m.resume_hold_expired);
	pl_log_debug("GW-RESUME-HOLD-EXPIRED", "conn=%s held=%zu", c->session, r->nheld);
	gw_resume_flush(c);
	if (c->resume == r)
		gw_resume_free(c);
}

/* gw_resume_resync - tell the client to reload a channel */
static void
gw_resume_resync(struct gw_conn *c, const char *channel)
{
	struct pl_buf b;

	pl_metrics_inc(gw_m.resyncs);
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"resync_required\",\"channel\":");
	pl_buf_json_str(&b, channel);
	pl_buf_puts(&b, "}");
	gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
}

/* gw_resume_write - write a channel's replayed events in order; returns
 * the number of events the reply carried */
static size_t
gw_resume_write(struct gw_conn *c, struct gw_resume_chan *rc,
    const Parley__Reply *reply)
{
	struct pl_buf out;
	struct gw_seen *s;
	size_t i;
	int64_t seq;
	const Parley__Envelope *env;

	pl_buf_init(&out);
	for (i = 0; i < reply->n_events; i++) {
		env = reply->events[i];
		if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE ||
		    strcmp(env->message->channel, rc->id) != 0 ||
		    (seq = env->message->seq) <= rc->upto)
			continue;
		rc->upto = seq;
		/* removed from the channel meanwhile: nothing more of it */
		if ((s = gw_cache_seen(c, gw_cache_chan(rc->id))) == NULL)
			break;
		if (seq <= s->hi && !(rc->lo0 > 0 && seq < rc->lo0))
			continue;	/* written live already */
		pl_buf_reset(&out);
		if (pl_event_json(env, &out) != 0 || out.len == 0)
			continue;
		if (gw_conn_send(c, out.data, out.len) != 0)
			break;
		if (seq > s->hi)
			s->hi = seq;
		if (s->lo == 0 || seq < s->lo)
			s->lo = seq;
	}
	pl_buf_fini(&out);
	return reply->n_events;
}

/* gw_resume_replayed - message-svc answered one channel's replay */
static void
gw_resume_replayed(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_replay_call *call = arg;
	struct gw_conn *c = gw_conn_find(call->h);
	struct gw_resume_chan *rc;

	if (c == NULL || c->resume == NULL || c->resume->id != call->id)
		goto out;
	rc = &c->resume->chans[call->idx];
	if (rv != 0 || reply == NULL || !reply->ok || reply->resync_required) {
		gw_resume_resync(c, rc->id);
	} else if (gw_resume_write(c, rc, reply) >= GW_REPLAY_PAGE &&
	    c->resume != NULL && !c->close_pending) {
		gw_resume_call(c, call->idx);	/* the next page */
		goto out;
	}
	rc->done = 1;
	if (--c->resume->pending == 0)
		gw_resume_finish(c);
out:
	free(call);
}

/* gw_resume_call - ask for one channel's events after its last seq */
static void
gw_resume_call(struct gw_conn *c, int idx)
{
	struct gw_resume *r = c->resume;
	struct gw_replay_call *call = pl_calloc(1, sizeof(*call));
	Parley__Request req;
	Parley__Caller caller;
	char after[24], epoch[16];
	int rv;

	call->h = gw_conn_handle(c);
	call->id = r->id;
	call->idx = idx;
	snprintf(after, sizeof(after), "%lld", (long long)r->chans[idx].upto);
	pl_request_init(&req, "channel.replay");
	gw_request_caller(&req, &caller, c->user, c->team, 0, c->session);
	req.source = "rtm";
	pl_request_param(&req, "channel", r->chans[idx].id);
	pl_request_param(&req, "after_seq", after);
	pl_request_param(&req, "limit", GW_REPLAY_PAGE_S);
	if (r->chans[idx].epoch != 0) {
		snprintf(epoch, sizeof(epoch), "%u", r->chans[idx].epoch);
		pl_request_param(&req, "epoch", epoch);
	}
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_resume_replayed, call);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_resume_replayed(rv, NULL, call);
}

/* gw_resume_chan_add - one channel of last_seq: the client's seq, its
 * epoch, and the written range's lo at the start; what the client says it
 * has counts as written */
static void
gw_resume_chan_add(struct gw_conn *c, struct gw_resume *r, const cJSON *it,
    const cJSON *epochs)
{
	struct gw_resume_chan *rc = &r->chans[r->nchans++];
	const cJSON *ep = cJSON_GetObjectItemCaseSensitive(epochs, it->string);
	struct gw_seen *s = gw_cache_seen(c, gw_cache_chan(it->string));

	snprintf(rc->id, sizeof(rc->id), "%s", it->string);
	/* gw_resume_start checked the value: an integer within ±2^53 */
	(void)pl_json_int_in(it, -PL_JSON_INT_SAFE, PL_JSON_INT_SAFE, &rc->upto);
	if (rc->upto < 0)
		rc->upto = 0;
	if (cJSON_IsNumber(ep) && ep->valuedouble > 0 && ep->valuedouble < 4294967296.0)
		rc->epoch = (uint32_t)ep->valuedouble;
	if (s == NULL)
		return;
	rc->lo0 = s->lo;
	if (rc->upto > s->hi)
		s->hi = rc->upto;
}

/* gw_resume_seqs_ok - every number of last_seq is an integer within
 * ±(2^53-1) (a huge or infinite one would not convert to int64); other
 * values are ignored, as before */
static int
gw_resume_seqs_ok(const cJSON *last_seq)
{
	const cJSON *it;
	int64_t v;

	cJSON_ArrayForEach(it, last_seq)
		if (cJSON_IsNumber(it) &&
		    pl_json_int_in(it, -PL_JSON_INT_SAFE, PL_JSON_INT_SAFE, &v) != 0)
			return 0;
	return 1;
}

/* gw_resume_start - begin a resume for the member channels of last_seq;
 * epochs (may be NULL) is the client's {"C1":epoch} */
int
gw_resume_start(struct gw_conn *c, int64_t reply_to, const cJSON *last_seq,
    const cJSON *epochs)
{
	struct gw_resume *r = c->resume;
	const cJSON *it;
	int i, n;

	if (r != NULL && !r->waiting) {
		gw_reply_rtm_error(c, reply_to, "resume_in_progress", "a resume is running");
		return 0;
	}
	if (!gw_resume_seqs_ok(last_seq)) {
		gw_reply_rtm_error(c, reply_to, "invalid_arguments",
		    "last_seq values must be integers within +-(2^53-1)");
		return 0;
	}
	pl_metrics_inc(gw_m.resumes);
	if (r == NULL)
		r = pl_calloc(1, sizeof(*r));
	r->waiting = 0;		/* resume=1: keep holding until resumed */
	r->reply_to = reply_to;
	r->id = ++gw_resume_ids;
	n = cJSON_GetArraySize(last_seq);
	r->chans = pl_calloc((size_t)(n > 0 ? n : 1), sizeof(*r->chans));
	cJSON_ArrayForEach(it, last_seq) {
		/* only channels the user is a member of; others are ignored */
		if (r->nchans >= GW_RESUME_MAX_CHANNELS || !cJSON_IsNumber(it) ||
		    strlen(it->string) > GW_ID_MAX || !gw_cache_member(c, it->string))
			continue;
		gw_resume_chan_add(c, r, it, epochs);
	}
	c->resume = r;
	if (r->nchans == 0) {
		gw_resume_finish(c);
		return 0;
	}
	r->pending = r->nchans;
	n = r->nchans;
	for (i = 0; i < n && c->resume == r; i++)
		gw_resume_call(c, i);
	return 0;
}
