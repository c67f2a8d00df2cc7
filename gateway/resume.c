/* resume.c - {"type":"resume","last_seq":{"C1":41,…}}: replay what the
 * client missed, per channel in seq order, from message-svc (channel.replay),
 * then {"type":"resumed"}; a channel that cannot be replayed gets
 * {"type":"resync_required","channel"}. A gap is never silent.
 *
 * While a resume runs, live events for the connection are held in a bounded
 * buffer (overflow closes 4008: resume again). When every channel has been
 * replayed, held events of a replayed channel with seq <= the last replayed
 * seq are dropped (they were in the replay) and the rest are written in
 * arrival order, so nothing is lost or duplicated by the switch-over. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "clock.h"
#include "err.h"
#include "event_json.h"
#include "gateway.h"
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

struct gw_resume_chan {
	char id[GW_ID_MAX + 1];
	int64_t upto;		/* last seq written by the replay */
	int done;
};

struct gw_resume {
	int64_t reply_to;
	uint32_t id;		/* tells replies of an older resume apart */
	int pending;
	struct gw_resume_chan *chans;
	int nchans;
	struct gw_held *held;
	uint32_t nheld, capheld;
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

	if (r->nheld >= (uint32_t)gw_conf.max_hold) {
		pl_metrics_inc(gw_m.sendq_closes);
		gw_resume_free(c);
		gw_conn_close(c, 4008, "send queue full: resume");
		return 1;
	}
	if (r->nheld == r->capheld) {
		r->capheld = r->capheld ? r->capheld * 2 : 16;
		r->held = pl_realloc(r->held, r->capheld * sizeof(*r->held));
	}
	h = &r->held[r->nheld++];
	h->b = gw_blob_ref(b);
	snprintf(h->channel, sizeof(h->channel), "%s", channel ? channel : "");
	h->seq = seq;
	return 1;
}

/* gw_resume_dup - was a held event already written by the replay */
static int
gw_resume_dup(const struct gw_resume *r, const struct gw_held *h)
{
	int i;

	if (h->seq <= 0 || h->channel[0] == 0)
		return 0;
	for (i = 0; i < r->nchans; i++)
		if (strcmp(r->chans[i].id, h->channel) == 0)
			return h->seq <= r->chans[i].upto;
	return 0;
}

/* gw_resume_finish - every channel replayed: flush held, say resumed */
static void
gw_resume_finish(struct gw_conn *c)
{
	struct gw_resume *r = c->resume;
	char done[96];
	uint32_t i;
	int n;

	for (i = 0; i < r->nheld; i++)
		if (!gw_resume_dup(r, &r->held[i]))
			gw_conn_send_blob(c, r->held[i].b);
	n = snprintf(done, sizeof(done), "{\"type\":\"resumed\",\"reply_to\":%lld}",
	    (long long)r->reply_to);
	gw_resume_free(c);
	gw_conn_send(c, done, (size_t)n);
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
	size_t i;
	const Parley__Envelope *env;

	pl_buf_init(&out);
	for (i = 0; i < reply->n_events; i++) {
		env = reply->events[i];
		if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE ||
		    strcmp(env->message->channel, rc->id) != 0 ||
		    env->message->seq <= rc->upto)
			continue;
		pl_buf_reset(&out);
		if (pl_event_json(env, &out) != 0 || out.len == 0)
			continue;
		if (gw_conn_send(c, out.data, out.len) != 0)
			break;
		rc->upto = env->message->seq;
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
	char after[24];
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
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_resume_replayed, call);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_resume_replayed(rv, NULL, call);
}

/* gw_resume_start - begin a resume for the member channels of last_seq */
int
gw_resume_start(struct gw_conn *c, int64_t reply_to, const cJSON *last_seq)
{
	struct gw_resume *r;
	const cJSON *it;
	int i, n;

	if (c->resume != NULL) {
		gw_rtm_error(c, reply_to, "resume_in_progress", "a resume is running");
		return 0;
	}
	pl_metrics_inc(gw_m.resumes);
	r = pl_calloc(1, sizeof(*r));
	r->reply_to = reply_to;
	r->id = ++gw_resume_ids;
	n = cJSON_GetArraySize(last_seq);
	r->chans = pl_calloc((size_t)(n > 0 ? n : 1), sizeof(*r->chans));
	cJSON_ArrayForEach(it, last_seq) {
		/* only channels the user is a member of; others are ignored */
		if (r->nchans >= GW_RESUME_MAX_CHANNELS || !cJSON_IsNumber(it) ||
		    !gw_cache_member(c, it->string) || strlen(it->string) > GW_ID_MAX)
			continue;
		snprintf(r->chans[r->nchans].id, sizeof(r->chans[0].id), "%s", it->string);
		r->chans[r->nchans++].upto = (int64_t)it->valuedouble;
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
