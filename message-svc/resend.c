/* resend.c - the replies of recent state-changing requests, so that a
 * resent request is answered with its original's outcome.
 *
 * Why: nng's REQ resends the request in flight, byte for byte, when its pipe
 * is lost (or after its resend time). REP sends a reply back on the pipe the
 * request came in on and silently drops it when that pipe is gone
 * (rep0_ctx_send: "pipe is gone, make this look like a good send"); REQ takes
 * the first reply carrying its current request id from any pipe and drops
 * every later one (req0_recv_cb). So after a pipe loss only the resend's
 * reply can reach the caller, and a resend may not be dropped: it must get
 * the original's answer. Running it again is not that: a second
 * conversations.invite sees the members the first one added and answers
 * already_in_channel.
 *
 * An entry is keyed by (method, caller, idempotency key, hash of the request
 * bytes) and holds the bytes: a resend is byte-identical, so a key reused by
 * another request (not the gateway: its keys are 128 random bits) never
 * gets an answer that is not its own - it has an entry of its own, or, if
 * the hashes collide too, it simply runs (MS_RESEND_OTHER).
 *   - pending: the original runs; resends wait (their fn runs at finish).
 *   - done: the reply's bytes; a resend gets them at once.
 * Done entries are dropped oldest first past resend-max entries, past
 * resend-max-bytes (keys, requests and replies) and after resend-ttl-s
 * (PARLEY_MS_RESEND_*). Pending ones stay until finished: there is at most
 * one per call in flight (rpc-workers bound those).
 *
 * Knows nothing of calls: call.c keys the request, parks or answers a
 * resend (find), marks an original that will run (begin) and finishes its
 * entry with the packed Reply. */
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "hash.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "strmap.h"

struct resend_wait {
	struct resend_wait *next;
	ms_resend_fn fn;
	void *arg;
};

struct resend_entry {
	char *key;			/* the map's key (a copy) */
	void *req;			/* the request's bytes */
	size_t req_len;
	void *reply;			/* done: the packed Reply */
	size_t reply_len;
	int pending;
	uint64_t done_ms;		/* monotonic, when finished */
	struct resend_wait *waiters;	/* pending: oldest last */
	struct resend_entry *prev, *next;	/* done ones, oldest first */
};

static struct {
	struct pl_strmap *map;
	struct resend_entry *head, *tail;	/* done entries in finish order */
	size_t done, bytes;
	struct pl_timer *timer;
	struct pl_metric *waited, *replayed, *reused, *dropped;
} rs;

/* resend_bytes - what a done entry counts against resend-max-bytes */
static size_t
resend_bytes(const struct resend_entry *e)
{
	return strlen(e->key) + e->req_len + e->reply_len + sizeof(*e);
}

/* resend_free - an entry no longer in the map nor the list */
static void
resend_free(void *p)
{
	struct resend_entry *e = p;
	struct resend_wait *w;

	while ((w = e->waiters) != NULL) {
		e->waiters = w->next;
		free(w);
	}
	free(e->key);
	free(e->req);
	free(e->reply);
	free(e);
}

/* resend_drop_head - unlink the oldest done entry and free it */
static void
resend_drop_head(void)
{
	struct resend_entry *e = rs.head;

	rs.head = e->next;
	if (rs.head != NULL)
		rs.head->prev = NULL;
	else
		rs.tail = NULL;
	rs.done--;
	rs.bytes -= resend_bytes(e);
	pl_strmap_del(rs.map, e->key);
	resend_free(e);
}

/* resend_limits - the bounds in force (defaults when unset: unit tests) */
static void
resend_limits(size_t *max_r, size_t *bytes_r, uint64_t *ttl_ms_r)
{
	*max_r = ms_conf.resend_max > 0 ? (size_t)ms_conf.resend_max : 100000;
	*bytes_r = ms_conf.resend_max_bytes > 0 ? (size_t)ms_conf.resend_max_bytes :
	    64u << 20;
	*ttl_ms_r = (uint64_t)(ms_conf.resend_ttl_s > 0 ? ms_conf.resend_ttl_s : 120) * 1000;
}

/* ms_resend_expire - drop done entries older than resend-ttl-s at now_ms,
 * then the oldest while over resend-max or resend-max-bytes */
void
ms_resend_expire(uint64_t now_ms)
{
	size_t max, max_bytes;
	uint64_t ttl_ms;

	resend_limits(&max, &max_bytes, &ttl_ms);
	while (rs.head != NULL && rs.head->done_ms + ttl_ms <= now_ms)
		resend_drop_head();
	while (rs.head != NULL && (rs.done > max || rs.bytes > max_bytes)) {
		pl_metrics_inc(rs.dropped);
		resend_drop_head();
	}
}

/* resend_tick - the timer: expire by age */
static void
resend_tick(void *arg)
{
	ms_resend_expire(pl_clock_mono_ms());
}

/* ms_resend_count - done entries held (metrics, tests) */
size_t
ms_resend_count(void)
{
	return rs.done;
}

/* ms_resend_bytes - what they hold */
size_t
ms_resend_bytes(void)
{
	return rs.bytes;
}

/* resend_gauge_count, resend_gauge_bytes - for /metrics */
static double
resend_gauge_count(void *arg)
{
	return (double)rs.done;
}

static double
resend_gauge_bytes(void *arg)
{
	return (double)rs.bytes;
}

/* ms_resend_init - the map, metrics and (with a loop) the expiry timer */
void
ms_resend_init(void)
{
	rs.map = pl_strmap_create();
	rs.waited = pl_metrics_counter("parley_ms_resends_total", "resent requests"
	    " (same method, caller and idempotency key) answered with the original's"
	    " reply: waited = it was still running", "result=\"waited\"");
	rs.replayed = pl_metrics_counter("parley_ms_resends_total", "resent requests"
	    " (same method, caller and idempotency key) answered with the original's"
	    " reply: waited = it was still running", "result=\"replayed\"");
	rs.reused = pl_metrics_counter("parley_ms_resend_key_reused_total",
	    "requests whose idempotency key an earlier, different request of the"
	    " same method and caller had: run as new", NULL);
	rs.dropped = pl_metrics_counter("parley_ms_resend_dropped_total",
	    "stored replies dropped before resend-ttl-s for resend-max or"
	    " resend-max-bytes", NULL);
	pl_metrics_gauge_fn("parley_ms_resend_entries", "stored replies of"
	    " state-changing requests (for resends)", NULL, resend_gauge_count, NULL);
	pl_metrics_gauge_fn("parley_ms_resend_bytes", "bytes of the stored replies,"
	    " their requests and keys", NULL, resend_gauge_bytes, NULL);
	if (ms.loop != NULL)
		pl_loop_timer(ms.loop, 1000, 1, resend_tick, NULL, &rs.timer);
}

/* ms_resend_fini - everything (waiters are not called: the calls die too) */
void
ms_resend_fini(void)
{
	if (rs.timer != NULL)
		pl_loop_timer_stop(&rs.timer);
	rs.head = rs.tail = NULL;
	rs.done = rs.bytes = 0;
	pl_strmap_free(&rs.map, resend_free);
}

/* ms_resend_key - the key of a request: method, caller (team, user, admin),
 * idempotency key, each length-prefixed so no two tuples share one, and the
 * hash of its bytes data (so that another request reusing the key has an
 * entry of its own; begin compares the bytes); "" when the request has no
 * idempotency key (it cannot be told from another) */
void
ms_resend_key(const Parley__Request *req, const void *data, size_t len,
    struct pl_buf *key_r)
{
	const Parley__Caller *c = req->caller;
	const char *f[4];
	int i;

	pl_buf_reset(key_r);
	pl_buf_puts(key_r, "");
	if (req->idempotency_key == NULL || req->idempotency_key[0] == '\0')
		return;
	f[0] = req->method ? req->method : "";
	f[1] = c != NULL && c->team ? c->team : "";
	f[2] = c != NULL && c->user ? c->user : "";
	f[3] = req->idempotency_key;
	for (i = 0; i < 4; i++)
		pl_buf_printf(key_r, "%zu:%s|", strlen(f[i]), f[i]);
	pl_buf_printf(key_r, "%d|%08x", c != NULL && c->admin ? 1 : 0,
	    (unsigned)pl_hash_fnv1a(data, len));
}

/* ms_resend_find - look key up for the request bytes req:
 *   MS_RESEND_NEW    no entry: run the request; ms_resend_begin first if
 *                    its reply is to be kept
 *   MS_RESEND_WAIT   the original runs: fn(reply, arg) runs at its finish
 *   MS_RESEND_DONE   fn has run, with the original's reply
 *   MS_RESEND_OTHER  no key, or the key is another request's: run it, do
 *                    not begin or finish it */
int
ms_resend_find(const char *key, const void *req, size_t req_len, ms_resend_fn fn,
    void *arg)
{
	struct resend_entry *e;
	struct resend_wait *w;

	if (key[0] == '\0')
		return MS_RESEND_OTHER;
	if ((e = pl_strmap_get(rs.map, key)) == NULL)
		return MS_RESEND_NEW;
	if (e->req_len != req_len || memcmp(e->req, req, req_len) != 0) {
		pl_metrics_inc(rs.reused);
		pl_log_warn("MS-RESEND-KEY-REUSED", "bytes=%zu stored=%zu", req_len,
		    e->req_len);
		return MS_RESEND_OTHER;
	}
	if (!e->pending) {
		pl_metrics_inc(rs.replayed);
		fn(e->reply, e->reply_len, arg);
		return MS_RESEND_DONE;
	}
	w = pl_calloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->next = e->waiters;
	e->waiters = w;
	pl_metrics_inc(rs.waited);
	return MS_RESEND_WAIT;
}

/* ms_resend_begin - a pending entry for key, 1; 0 when there is no key or
 * an entry already (find said OTHER: the key is another request's). After
 * 1 the caller must ms_resend_finish it once */
int
ms_resend_begin(const char *key, const void *req, size_t req_len)
{
	struct resend_entry *e;

	if (key[0] == '\0' || pl_strmap_get(rs.map, key) != NULL)
		return 0;
	e = pl_calloc(1, sizeof(*e));
	e->key = pl_strdup(key);
	e->req = pl_memdup(req_len ? req : "", req_len ? req_len : 1);
	e->req_len = req_len;
	e->pending = 1;
	pl_strmap_put(rs.map, key, e);
	return 1;
}

/* resend_wake - hand reply to the waiters of e, oldest first */
static void
resend_wake(struct resend_wait *w, const void *reply, size_t len)
{
	struct resend_wait *rev = NULL, *next;

	for (; w != NULL; w = next) {
		next = w->next;
		w->next = rev;
		rev = w;
	}
	for (w = rev; w != NULL; w = next) {
		next = w->next;
		w->fn(reply, len, w->arg);
		free(w);
	}
}

/* ms_resend_finish - the original of key replied reply: wake its waiters
 * and keep the bytes (unless a single entry would exceed the byte bound) */
void
ms_resend_finish(const char *key, const void *reply, size_t len)
{
	struct resend_entry *e = key[0] ? pl_strmap_get(rs.map, key) : NULL;
	struct resend_wait *w;
	size_t max, max_bytes;
	uint64_t ttl_ms;

	if (e == NULL || !e->pending)
		return;
	w = e->waiters;
	e->waiters = NULL;
	e->pending = 0;
	e->reply = pl_memdup(len ? reply : "", len ? len : 1);
	e->reply_len = len;
	e->done_ms = pl_clock_mono_ms();
	resend_limits(&max, &max_bytes, &ttl_ms);
	if (resend_bytes(e) > max_bytes) {
		pl_metrics_inc(rs.dropped);
		pl_strmap_del(rs.map, key);
		resend_wake(w, reply, len);
		resend_free(e);
		return;
	}
	e->prev = rs.tail;
	if (rs.tail != NULL)
		rs.tail->next = e;
	else
		rs.head = e;
	rs.tail = e;
	rs.done++;
	rs.bytes += resend_bytes(e);
	resend_wake(w, reply, len);
	ms_resend_expire(e->done_ms);
}
