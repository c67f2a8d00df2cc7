/* dedupe.c - idempotency of sends.
 *
 * Key = channel + user + client_msg_id (or, without one, the gateway's
 * request id, so an nng resend of the same request is answered once). An
 * entry is pending while its produce is in flight (resends wait on it) and
 * done afterwards (resends get the original message). Entries live 24 h.
 * The consumer also records every client_msg_id it reads from the log, so
 * after a restart the window since the last committed offset is covered;
 * older sends are found in PostgreSQL (post.c).
 *
 * Bounded: at most dedupe-max entries (PARLEY_MS_DEDUPE_MAX). Keys are
 * remembered in insertion order in a ring; past the bound the oldest done
 * entries are dropped (pending ones are kept: a resend must find them).
 * PostgreSQL is the durable guard for the dropped ones. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "loop.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"

#define MS_DEDUPE_TTL_S (24 * 3600)

struct ms_dedupe_wait {
	struct ms_dedupe_wait *next;
	void (*fn)(int rv, const Parley__Message *m, void *arg);
	void *arg;
};

static struct pl_strmap *ms_dedupe;
static struct pl_timer *ms_dedupe_timer;
static struct dedupe_ring {
	char **v;			/* keys, oldest at head */
	size_t head, n, cap;
} ms_dedupe_ring;
static uint64_t ms_dedupe_evicted;

/* dedupe_free - an entry (never one with waiters: those finish first) */
static void
dedupe_free(void *p)
{
	struct ms_dedupe_entry *e = p;

	if (e->msg != NULL)
		parley__message__free_unpacked(e->msg, NULL);
	free(e);
}

struct dedupe_prune {
	uint64_t now_s;
	char **keys;
	size_t n;
};

/* dedupe_collect - note done entries older than the window */
static void
dedupe_collect(const char *key, void *val, void *arg)
{
	struct ms_dedupe_entry *e = val;
	struct dedupe_prune *p = arg;

	if (!e->pending && e->at_s + MS_DEDUPE_TTL_S < p->now_s) {
		p->keys = pl_realloc(p->keys, (p->n + 1) * sizeof(*p->keys));
		p->keys[p->n++] = pl_strdup(key);
	}
}

/* dedupe_tick - drop expired entries */
static void
dedupe_tick(void *arg)
{
	struct dedupe_prune p = { pl_clock_wall_us() / 1000000, NULL, 0 };
	size_t i;

	pl_strmap_each(ms_dedupe, dedupe_collect, &p);
	for (i = 0; i < p.n; i++) {
		dedupe_free(pl_strmap_del(ms_dedupe, p.keys[i]));
		free(p.keys[i]);
	}
	free(p.keys);
}

/* dedupe_ring_push_tail - put an owned key back at the tail (no eviction) */
static void
dedupe_ring_push_tail(char *key)
{
	ms_dedupe_ring.v[(ms_dedupe_ring.head + ms_dedupe_ring.n) % ms_dedupe_ring.cap] = key;
	ms_dedupe_ring.n++;
}

/* dedupe_ring_push - remember key's insertion; evict past the bound */
static void dedupe_evict(void);

static void
dedupe_ring_push(const char *key)
{
	struct dedupe_ring *r = &ms_dedupe_ring;
	size_t i;

	if (r->n == r->cap) {
		size_t ncap = r->cap ? r->cap * 2 : 1024;
		char **nv = pl_calloc(ncap, sizeof(*nv));

		for (i = 0; i < r->n; i++)
			nv[i] = r->v[(r->head + i) % r->cap];
		free(r->v);
		r->v = nv;
		r->head = 0;
		r->cap = ncap;
	}
	r->v[(r->head + r->n) % r->cap] = pl_strdup(key);
	r->n++;
	dedupe_evict();
}

/* dedupe_evict - drop the oldest done entries while over dedupe-max */
static void
dedupe_evict(void)
{
	size_t max = ms_conf.dedupe_max > 0 ? (size_t)ms_conf.dedupe_max : 200000;
	size_t tries = ms_dedupe_ring.n;

	while (pl_strmap_count(ms_dedupe) > max && ms_dedupe_ring.n > 0 && tries-- > 0) {
		char *key = ms_dedupe_ring.v[ms_dedupe_ring.head];
		struct ms_dedupe_entry *e = pl_strmap_get(ms_dedupe, key);

		ms_dedupe_ring.head = (ms_dedupe_ring.head + 1) % ms_dedupe_ring.cap;
		ms_dedupe_ring.n--;
		if (e != NULL && e->pending) {
			dedupe_ring_push_tail(key);
			continue;
		}
		if (e != NULL) {
			dedupe_free(pl_strmap_del(ms_dedupe, key));
			ms_dedupe_evicted++;
		}
		free(key);
	}
	/* keys of entries already gone (expired, failed) just age out here */
	while (ms_dedupe_ring.n > 2 * max + 1024) {
		free(ms_dedupe_ring.v[ms_dedupe_ring.head]);
		ms_dedupe_ring.head = (ms_dedupe_ring.head + 1) % ms_dedupe_ring.cap;
		ms_dedupe_ring.n--;
	}
}

/* ms_dedupe_count - entries held (tests, metrics) */
size_t
ms_dedupe_count(void)
{
	return ms_dedupe ? pl_strmap_count(ms_dedupe) : 0;
}

void
ms_dedupe_init(void)
{
	ms_dedupe = pl_strmap_create();
	if (ms.loop != NULL)
		pl_loop_timer(ms.loop, 60000, 1, dedupe_tick, NULL, &ms_dedupe_timer);
}

void
ms_dedupe_fini(void)
{
	size_t i;

	if (ms_dedupe_timer != NULL)
		pl_loop_timer_stop(&ms_dedupe_timer);
	pl_strmap_free(&ms_dedupe, dedupe_free);
	for (i = 0; i < ms_dedupe_ring.n; i++)
		free(ms_dedupe_ring.v[(ms_dedupe_ring.head + i) % ms_dedupe_ring.cap]);
	pl_free(&ms_dedupe_ring.v);
	ms_dedupe_ring.head = ms_dedupe_ring.n = ms_dedupe_ring.cap = 0;
}

/* ms_dedupe_key - "c|<channel>|<user>|<cmid>" or "r|<channel>|<user>|<request
 * id>" ("" if neither): a key never matches another user's or channel's send,
 * even if a request id repeats */
void
ms_dedupe_key(const char *channel, const char *user, const char *cmid,
    const char *idem, struct pl_buf *key_r)
{
	pl_buf_reset(key_r);
	if (cmid != NULL && cmid[0] != '\0')
		pl_buf_printf(key_r, "c|%s|%s|%s", channel, user, cmid);
	else if (idem != NULL && idem[0] != '\0')
		pl_buf_printf(key_r, "r|%s|%s|%s", channel, user, idem);
	else
		pl_buf_puts(key_r, "");
}

struct ms_dedupe_entry *
ms_dedupe_get(const char *key)
{
	return key[0] ? pl_strmap_get(ms_dedupe, key) : NULL;
}

/* ms_dedupe_begin - a pending entry for key (the caller checked get first) */
struct ms_dedupe_entry *
ms_dedupe_begin(const char *key)
{
	struct ms_dedupe_entry *e = pl_calloc(1, sizeof(*e));

	e->pending = 1;
	e->at_s = pl_clock_wall_us() / 1000000;
	if (key[0]) {
		pl_strmap_put(ms_dedupe, key, e);
		dedupe_ring_push(key);
	} else
		free(e), e = NULL;
	return e;
}

/* ms_dedupe_wait - fn runs when the pending entry finishes */
void
ms_dedupe_wait(struct ms_dedupe_entry *e,
    void (*fn)(int rv, const Parley__Message *m, void *arg), void *arg)
{
	struct ms_dedupe_wait *w = pl_calloc(1, sizeof(*w));

	w->fn = fn;
	w->arg = arg;
	w->next = e->waiters;
	e->waiters = w;
	pl_metrics_inc(ms_m.dedupe_hits);
}

/* dedupe_copy - a deep copy of m (pack + unpack) */
static Parley__Message *
dedupe_copy(const Parley__Message *m)
{
	size_t len = parley__message__get_packed_size(m);
	uint8_t *buf = pl_malloc(len ? len : 1);
	Parley__Message *c;

	parley__message__pack(m, buf);
	c = parley__message__unpack(NULL, len, buf);
	free(buf);
	return c;
}

/* ms_dedupe_finish - settle key: remember m on success, forget on failure */
void
ms_dedupe_finish(const char *key, int rv, const Parley__Message *m)
{
	struct ms_dedupe_entry *e = key[0] ? pl_strmap_get(ms_dedupe, key) : NULL;
	struct ms_dedupe_wait *w;

	if (e == NULL)
		return;
	w = e->waiters;
	e->waiters = NULL;
	if (rv == 0) {
		e->pending = 0;
		e->msg = dedupe_copy(m);
	} else {
		pl_strmap_del(ms_dedupe, key);
	}
	while (w != NULL) {
		struct ms_dedupe_wait *next = w->next;

		w->fn(rv, m, w->arg);
		free(w);
		w = next;
	}
	if (rv != 0)
		dedupe_free(e);
}

/* ms_dedupe_seen - a MESSAGE_CREATED read from the log */
void
ms_dedupe_seen(const Parley__Message *m)
{
	struct ms_dedupe_entry *e;
	struct pl_buf key;

	if (m->client_msg_id == NULL || m->client_msg_id[0] == '\0')
		return;
	pl_buf_init(&key);
	ms_dedupe_key(m->channel, m->user, m->client_msg_id, NULL, &key);
	if (pl_strmap_get(ms_dedupe, key.data) == NULL) {
		e = pl_calloc(1, sizeof(*e));
		e->at_s = pl_clock_wall_us() / 1000000;
		e->msg = dedupe_copy(m);
		pl_strmap_put(ms_dedupe, key.data, e);
		dedupe_ring_push(key.data);
	}
	pl_buf_fini(&key);
}
