/* tail.c - the events of each channel that are not yet in PostgreSQL.
 *
 * An event enters the tail when this shard appends it (pending until the
 * broker's acknowledgement; dropped if the produce fails) or when the
 * consumer reads it from the log (after a restart: everything since the
 * committed offset). It leaves when the persistence transaction holding it
 * commits (ms_tail_persisted). So PostgreSQL + the tail is the whole channel,
 * which is what history and the look-up of a message (edit, delete,
 * reaction) read.
 *
 * Why this is consistent: persistence batches and look-ups share the shard's
 * one PostgreSQL connection, whose queries complete in order. When a look-up
 * answers, every batch committed before it has already been removed from the
 * tail and every later one is still there: no event is counted twice or
 * missed. Pending events are visible to look-ups (so two concurrent edits of
 * one message are ordered) but not to history (an unacknowledged message is
 * never shown). Bounded per channel (MS_TAIL_MAX, oldest dropped and logged):
 * only a very long PostgreSQL outage reaches it. */
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"

#define MS_TAIL_MAX 50000

struct tail_chan {
	int64_t persisted;		/* highest seq known committed */
	struct ms_tail_ev *v;		/* ascending seq */
	size_t n, cap;
};

static struct pl_strmap *ms_tails;

/* tail_ev_free - one entry's message */
static void
tail_ev_free(struct ms_tail_ev *e)
{
	if (e->m != NULL)
		parley__message__free_unpacked(e->m, NULL);
	e->m = NULL;
}

/* tail_chan_free - map value destructor */
static void
tail_chan_free(void *p)
{
	struct tail_chan *tc = p;
	size_t i;

	for (i = 0; i < tc->n; i++)
		tail_ev_free(&tc->v[i]);
	free(tc->v);
	free(tc);
}

void
ms_tail_init(void)
{
	ms_tails = pl_strmap_create();
}

void
ms_tail_fini(void)
{
	pl_strmap_free(&ms_tails, tail_chan_free);
}

/* tail_chan - the channel's tail, created if needed */
static struct tail_chan *
tail_chan(const char *channel)
{
	struct tail_chan *tc = pl_strmap_get(ms_tails, channel);

	if (tc == NULL) {
		tc = pl_calloc(1, sizeof(*tc));
		pl_strmap_put(ms_tails, channel, tc);
	}
	return tc;
}

/* tail_find - index of seq, or the insertion point (*found 0) */
static size_t
tail_find(const struct tail_chan *tc, int64_t seq, int *found)
{
	size_t lo = 0, hi = tc->n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (tc->v[mid].m->seq < seq)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < tc->n && tc->v[lo].m->seq == seq;
	return lo;
}

/* tail_copy - a deep copy of m (pack + unpack) */
static Parley__Message *
tail_copy(const Parley__Message *m)
{
	size_t len = parley__message__get_packed_size(m);
	uint8_t *buf = pl_malloc(len ? len : 1);
	Parley__Message *c;

	parley__message__pack(m, buf);
	c = parley__message__unpack(NULL, len, buf);
	free(buf);
	return c;
}

/* tail_drop_oldest - keep the bound */
static void
tail_drop_oldest(struct tail_chan *tc, const char *channel)
{
	pl_log_warn("MS-TAIL-DROP", "channel=%s seq=%lld", channel,
	    (long long)tc->v[0].m->seq);
	tail_ev_free(&tc->v[0]);
	memmove(tc->v, tc->v + 1, (tc->n - 1) * sizeof(*tc->v));
	tc->n--;
}

/* ms_tail_add - remember event m of type t (no-op if known or persisted) */
void
ms_tail_add(int type, const Parley__Message *m, int pending)
{
	struct tail_chan *tc;
	size_t at;
	int found;

	if (ms_tails == NULL || m->channel == NULL || m->seq <= 0)
		return;
	tc = tail_chan(m->channel);
	if (m->seq <= tc->persisted)
		return;
	at = tail_find(tc, m->seq, &found);
	if (found) {
		if (!pending)
			tc->v[at].pending = 0;
		return;
	}
	tc->v = pl_grow(tc->v, &tc->cap, tc->n + 1, 16, sizeof(*tc->v));
	memmove(tc->v + at + 1, tc->v + at, (tc->n - at) * sizeof(*tc->v));
	tc->v[at].type = type;
	tc->v[at].pending = pending;
	tc->v[at].m = tail_copy(m);
	tc->n++;
	if (tc->n > MS_TAIL_MAX)
		tail_drop_oldest(tc, m->channel);
}

/* ms_tail_settle - the append of seq was acknowledged (ok) or failed */
void
ms_tail_settle(const char *channel, int64_t seq, int ok)
{
	struct tail_chan *tc = ms_tails ? pl_strmap_get(ms_tails, channel) : NULL;
	size_t at;
	int found;

	if (tc == NULL)
		return;
	at = tail_find(tc, seq, &found);
	if (!found)
		return;
	if (ok) {
		tc->v[at].pending = 0;
		return;
	}
	tail_ev_free(&tc->v[at]);
	memmove(tc->v + at, tc->v + at + 1, (tc->n - at - 1) * sizeof(*tc->v));
	tc->n--;
}

/* ms_tail_committed - the highest seq of channel known committed (0: none
 * since start) */
int64_t
ms_tail_committed(const char *channel)
{
	struct tail_chan *tc = ms_tails ? pl_strmap_get(ms_tails, channel) : NULL;

	return tc != NULL ? tc->persisted : 0;
}

/* ms_tail_persisted - events of channel up to seq are committed */
void
ms_tail_persisted(const char *channel, int64_t seq)
{
	struct tail_chan *tc;
	size_t i, k;

	if (ms_tails == NULL)
		return;
	tc = tail_chan(channel);
	if (seq > tc->persisted)
		tc->persisted = seq;
	for (k = 0; k < tc->n && tc->v[k].m->seq <= seq; k++)
		tail_ev_free(&tc->v[k]);
	if (k == 0)
		return;
	for (i = k; i < tc->n; i++)
		tc->v[i - k] = tc->v[i];
	tc->n -= k;
}

/* ms_tail_events - the channel's entries, ascending seq (borrowed until the
 * next call that changes the tail) */
const struct ms_tail_ev *
ms_tail_events(const char *channel, size_t *n_r)
{
	struct tail_chan *tc = ms_tails ? pl_strmap_get(ms_tails, channel) : NULL;

	*n_r = tc ? tc->n : 0;
	return tc ? tc->v : NULL;
}

/* ms_tail_count - entries over all channels (metrics, tests) */
static void
tail_count_one(const char *key, void *val, void *arg)
{
	*(size_t *)arg += ((struct tail_chan *)val)->n;
}

size_t
ms_tail_count(void)
{
	size_t n = 0;

	if (ms_tails != NULL)
		pl_strmap_each(ms_tails, tail_count_one, &n);
	return n;
}
