/* replay.c - channel.replay (internal, for resume and events.poll; never
 * reachable through /api): the Envelopes of a channel with seq > after_seq,
 * in order, for a caller who may read the channel, from the Redis recent cache and
 * then the log in PostgreSQL (messages and channel_events);
 * resync_required when the epoch is not the channel's or the range cannot be
 * covered without a gap, and when the events would be more than
 * page-max-bytes (up to 1,000 events of 160 KB each could not be carried;
 * the client then reloads history, whose pages are byte-bounded). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "ms_methods.h"
#include "pg.h"
#include "slack_err.h"

#define MS_REPLAY_MAX 1000

struct replay {
	struct ms_call *c;
	struct ms_chan *ch;
	int64_t after;
	int limit;
	Parley__Envelope **envs;	/* owned, ascending seq */
	int n;				/* <= limit */
	size_t cap;
	size_t bytes;			/* packed size of envs */
	int too_big;			/* over page-max-bytes: resync_required */
};

static void
replay_free(void *p)
{
	struct replay *st = p;
	int i;

	for (i = 0; i < st->n; i++)
		parley__envelope__free_unpacked(st->envs[i], NULL);
	free(st->envs);
	free(st);
}

/* replay_add - keep env if its seq extends the run (takes ownership) */
static void
replay_add(struct replay *st, Parley__Envelope *env)
{
	int64_t last = st->n ? st->envs[st->n - 1]->message->seq : st->after;

	if (env->message->seq <= last || st->n >= st->limit || st->too_big) {
		parley__envelope__free_unpacked(env, NULL);
		return;
	}
	st->bytes += parley__envelope__get_packed_size(env);
	if (st->bytes > (size_t)ms_conf.page_max_bytes && st->n > 0) {
		st->too_big = 1;
		parley__envelope__free_unpacked(env, NULL);
		return;
	}
	st->envs = pl_grow(st->envs, &st->cap, (size_t)st->n + 1, 16, sizeof(*st->envs));
	st->envs[st->n++] = env;
}

/* replay_contiguous - the run starts at after+1 and has no hole */
static int
replay_contiguous(const struct replay *st)
{
	int i;

	for (i = 0; i < st->n; i++)
		if (st->envs[i]->message->seq != st->after + 1 + i)
			return 0;
	return 1;
}

/* replay_answer - events, or resync_required */
static void
replay_answer(struct replay *st)
{
	Parley__Reply r;

	parley__reply__init(&r);
	r.ok = 1;
	if (st->too_big || !replay_contiguous(st) ||
	    (st->n == 0 && st->after < st->ch->log_seq)) {
		r.resync_required = 1;
	} else {
		r.events = st->envs;
		r.n_events = (size_t)st->n;
	}
	ms_call_reply(&st->c, &r);
}

/* replay_copy - a deep copy of a cached envelope */
static Parley__Envelope *
replay_copy(const Parley__Envelope *e)
{
	size_t len = parley__envelope__get_packed_size(e);
	uint8_t *buf = pl_malloc(len ? len : 1);
	Parley__Envelope *c;

	parley__envelope__pack(e, buf);
	c = parley__envelope__unpack(NULL, len, buf);
	free(buf);
	return c;
}

struct replay_tail {
	struct replay *st;
};

/* replay_tail - cached events after what PostgreSQL had */
static void
replay_tail(int rv, Parley__Envelope **envs, int n, void *arg)
{
	struct replay *st = arg;
	int i;

	for (i = 0; rv == 0 && i < n; i++)
		replay_add(st, replay_copy(envs[i]));
	replay_answer(st);
}

/* replay_pg - seq, payload rows of the log (channel_events and messages) */
static void
replay_pg(int rv, struct pg_result *res, void *arg)
{
	struct replay *st = arg;
	int i;

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	for (i = 0; i < PQntuples(res); i++) {
		size_t len = 0;
		unsigned char *raw = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 1),
		    &len);
		Parley__Envelope *e = raw ? parley__envelope__unpack(NULL, len, raw) : NULL;

		PQfreemem(raw);
		if (e == NULL || e->body_case != PARLEY__ENVELOPE__BODY_MESSAGE) {
			if (e)
				parley__envelope__free_unpacked(e, NULL);
			pl_metrics_inc(ms_m.bad_input);
			continue;
		}
		replay_add(st, e);
	}
	if (st->n >= st->limit || st->too_big) {
		replay_answer(st);
		return;
	}
	ms_cache_range(st->ch->id, st->n ? st->envs[st->n - 1]->message->seq : st->after,
	    st->limit - st->n, replay_tail, st);
}

/* replay_cached - the recent cache's answer; PostgreSQL when it falls short */
static void
replay_cached(int rv, Parley__Envelope **envs, int n, void *arg)
{
	struct replay *st = arg;
	char after[32], limit[16], budget[24];
	const char *p[4];
	int i;

	if (rv == 0 && n > 0 && envs[0]->message->seq == st->after + 1) {
		pl_metrics_inc(ms_m.cache_hits);
		for (i = 0; i < n; i++)
			replay_add(st, replay_copy(envs[i]));
		replay_answer(st);
		return;
	}
	pl_metrics_inc(ms_m.cache_misses);
	snprintf(after, sizeof(after), "%lld", (long long)st->after);
	snprintf(limit, sizeof(limit), "%d", st->limit);
	snprintf(budget, sizeof(budget), "%lld", (long long)ms_conf.page_max_bytes);
	p[0] = st->ch->id;
	p[1] = after;
	p[2] = limit;
	p[3] = budget;
	/* the log is split (migration 3): messages carry their payload in
	 * messages, the other events are in channel_events; a message written
	 * before has a NULL payload there and its copy in channel_events. Rows
	 * whose predecessors already pass page-max-bytes are not fetched (the
	 * payload is the packed Envelope: replay_add sees the same sizes) */
	rv = pl_pg_query(ms.pg, "SELECT seq, payload FROM (SELECT seq, payload,"
	    " sum(coalesce(octet_length(payload), 0)) OVER (ORDER BY seq)"
	    " - coalesce(octet_length(payload), 0) AS before"
	    " FROM ((SELECT seq, payload FROM channel_events WHERE channel_id = $1"
	    " AND seq > $2 ORDER BY seq LIMIT $3) UNION ALL"
	    " (SELECT seq, payload FROM messages WHERE channel_id = $1"
	    " AND seq > $2 AND payload IS NOT NULL ORDER BY seq LIMIT $3)"
	    " ORDER BY seq LIMIT $3) AS log) AS w WHERE w.before <= $4 ORDER BY seq",
	    4, p, replay_pg, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv);
}

/* replay_ready - the channel is known: check the epoch, then read */
static void
replay_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct replay *st = arg;
	const char *ep = ms_param(st->c, "epoch");
	uint32_t epoch = (uint32_t)strtoul(ep, NULL, 10);

	if (rv != 0) {
		ms_call_error(&st->c, pl_slack_chan_error(rv));
		return;
	}
	/* a user's replay (resume, events.poll) covers only what the user may
	 * read now: a private channel, DM or group only while a member */
	if (st->c->user[0] != '\0' && !ms_chan_visible(ch, st->c->team, st->c->user)) {
		ms_call_error(&st->c, "not_in_channel");
		return;
	}
	st->ch = ch;
	if (epoch != 0 && ch->epoch_known && epoch != ch->epoch) {
		Parley__Reply r;

		parley__reply__init(&r);
		r.ok = 1;
		r.resync_required = 1;
		ms_call_reply(&st->c, &r);
		return;
	}
	if (st->after >= ch->next_seq - 1) {
		replay_answer(st);
		return;
	}
	ms_cache_range(ch->id, st->after, st->limit, replay_cached, st);
}

/* ms_replay - channel.replay(channel, after_seq, limit, epoch) */
int
ms_replay(struct ms_call *c)
{
	struct replay *st = pl_calloc(1, sizeof(*st));
	long lim = strtol(ms_param(c, "limit"), NULL, 10);

	st->c = c;
	st->after = strtoll(ms_param(c, "after_seq"), NULL, 10);
	st->limit = lim > 0 && lim <= MS_REPLAY_MAX ? (int)lim : MS_REPLAY_MAX;
	if (st->after < 0)
		st->after = 0;
	c->state = st;
	c->state_free = replay_free;
	ms_chan_get(ms_param(c, "channel"), replay_ready, st);
	return 0;
}
