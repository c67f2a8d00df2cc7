/* redis.c - one self-healing hiredis async connection on a pl_loop.
 *
 * The hiredis adapter (ev.addRead/delRead/addWrite/delWrite/cleanup) is
 * written over pl_loop_io, so the same code runs on libevent and libuv:
 * hiredis says which directions it wants, we keep one watch with that
 * interest. hiredis frees its context after the disconnect callback, so the
 * pl_redis object (which outlives every context) holds the state.
 *
 * Down: every command submitted while disconnected completes with rv
 * PL_EUNAVAIL and reply NULL from a zero-delay timer - "at once", but never
 * inside pl_redis_cmd itself, so callers see exactly one callback and no
 * re-entrancy. Commands in flight when the link drops complete the same way.
 * A reconnect is scheduled with full-jitter backoff.
 *
 * hiredis 0.14 has no async timeouts: a watchdog drops the connection when
 * replies stop coming for REDIS_STALL_MS while commands are in flight.
 *
 * Reply errors (-ERR ...) complete with rv PL_EIO and the reply. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "ops.h"
#include "redis.h"

#define REDIS_BACKOFF_BASE_MS 50
#define REDIS_BACKOFF_CAP_MS 2000
#define REDIS_WATCHDOG_MS 500
#define REDIS_STALL_MS 3000

/* a command's completion target */
struct rcmd {
	struct rcmd *next;	/* failed-list link */
	struct pl_redis *r;
	pl_redis_fn cb;
	void *arg;
};

struct pl_redis {
	struct pl_loop *loop;
	char *addr;
	char *host;		/* NULL for unix */
	char *path;		/* unix socket path, or NULL */
	int port;
	redisAsyncContext *ac;	/* NULL while down */
	int connected;
	struct pl_watch *w;	/* the adapter's watch on ac's fd */
	int interest;
	struct pl_backoff bo;
	struct pl_timer *retry;
	struct pl_timer *fail_timer;	/* flushes failed */
	struct rcmd *failed, *failed_tail;
	struct pl_timer *watchdog;
	int inflight;
	uint64_t progress_ms;	/* last reply (or first send) */
	int in_cb;		/* depth of callbacks into user code */
	int dead;		/* stopped from inside a callback: reaped later */
	struct pl_timer *reaper;
};

static void redis_connect(struct pl_redis *r);

static struct {
	struct pl_metric *ok, *error, *unavail, *closed;
	struct pl_metric *connects;
} redis_m;

/* redis_metrics_init - register the series (again is harmless) */
static void
redis_metrics_init(void)
{
	static const char *name = "parley_redis_commands_total";
	static const char *help = "Redis commands, by outcome.";

	redis_m.ok = pl_metrics_counter(name, help, "result=\"ok\"");
	redis_m.error = pl_metrics_counter(name, help, "result=\"error\"");
	redis_m.unavail = pl_metrics_counter(name, help, "result=\"unavail\"");
	redis_m.closed = pl_metrics_counter(name, help, "result=\"closed\"");
	redis_m.connects = pl_metrics_counter("parley_redis_connects_total",
	    "Redis connections established.", NULL);
}

/* redis_count - one completed command */
static void
redis_count(int rv)
{
	pl_metrics_inc(rv == 0 ? redis_m.ok : rv == PL_EUNAVAIL ?
	    redis_m.unavail : rv == PL_ECLOSED ? redis_m.closed : redis_m.error);
}

/* ---- the adapter ---- */

/* ad_io_cb - readiness: let hiredis write (connect) then read */
static void
ad_io_cb(int events, void *arg)
{
	struct pl_redis *r = arg;
	redisAsyncContext *ac = r->ac;

	if (ac != NULL && (events & PL_LOOP_WRITE))
		redisAsyncHandleWrite(ac);
	/* the write may have failed and freed the context */
	if (r->ac == ac && ac != NULL && (events & PL_LOOP_READ))
		redisAsyncHandleRead(ac);
}

/* ad_set - apply a changed interest */
static void
ad_set(struct pl_redis *r, int interest)
{
	if (r->w == NULL || interest == r->interest)
		return;
	r->interest = interest;
	pl_loop_io_set(r->w, interest);
}

static void ad_add_read(void *p) { struct pl_redis *r = p; ad_set(r, r->interest | PL_LOOP_READ); }
static void ad_del_read(void *p) { struct pl_redis *r = p; ad_set(r, r->interest & ~PL_LOOP_READ); }
static void ad_add_write(void *p) { struct pl_redis *r = p; ad_set(r, r->interest | PL_LOOP_WRITE); }
static void ad_del_write(void *p) { struct pl_redis *r = p; ad_set(r, r->interest & ~PL_LOOP_WRITE); }

/* ad_cleanup - hiredis is freeing the context */
static void
ad_cleanup(void *p)
{
	struct pl_redis *r = p;

	pl_loop_unwatch(&r->w);
	r->interest = 0;
}

/* ad_attach - hook ac to the loop (both directions, like hiredis' own
 * adapters: write readiness completes the non-blocking connect) */
static int
ad_attach(struct pl_redis *r, redisAsyncContext *ac)
{
	int rv;

	r->interest = PL_LOOP_READ | PL_LOOP_WRITE;
	if ((rv = pl_loop_io(r->loop, ac->c.fd, r->interest, ad_io_cb, r,
	    &r->w)) != 0)
		return rv;
	ac->ev.addRead = ad_add_read;
	ac->ev.delRead = ad_del_read;
	ac->ev.addWrite = ad_add_write;
	ac->ev.delWrite = ad_del_write;
	ac->ev.cleanup = ad_cleanup;
	ac->ev.data = r;
	return 0;
}

/* ---- completions ---- */

/* rcmd_finish - call the user back once, counting the callback depth */
static void
rcmd_finish(struct rcmd *c, int rv, redisReply *reply)
{
	struct pl_redis *r = c->r;

	redis_count(rv);
	if (c->cb != NULL) {
		r->in_cb++;
		c->cb(rv, reply, c->arg);
		r->in_cb--;
	}
	free(c);
}

/* rcmd_reply_cb - hiredis: a reply, or NULL when the link went away */
static void
rcmd_reply_cb(redisAsyncContext *ac, void *reply, void *priv)
{
	struct rcmd *c = priv;
	struct pl_redis *r = c->r;
	redisReply *rep = reply;
	int rv;

	r->inflight--;
	r->progress_ms = pl_clock_mono_ms();
	if (rep == NULL)
		rv = r->dead ? PL_ECLOSED : PL_EUNAVAIL;
	else
		rv = rep->type == REDIS_REPLY_ERROR ? PL_EIO : 0;
	rcmd_finish(c, rv, rep);
}

/* fail_flush - timer: complete the commands refused while down */
static void
fail_flush(void *arg)
{
	struct pl_redis *r = arg;
	struct rcmd *c;

	pl_loop_timer_stop(&r->fail_timer);
	while ((c = r->failed) != NULL && !r->dead) {
		r->failed = c->next;
		if (r->failed == NULL)
			r->failed_tail = NULL;
		rcmd_finish(c, PL_EUNAVAIL, NULL);
	}
}

/* fail_later - queue c for a PL_EUNAVAIL completion on the next turn */
static void
fail_later(struct pl_redis *r, struct rcmd *c)
{
	c->next = NULL;
	if (r->failed_tail != NULL)
		r->failed_tail->next = c;
	else
		r->failed = c;
	r->failed_tail = c;
	if (r->fail_timer == NULL &&
	    pl_loop_timer(r->loop, 0, 0, fail_flush, r, &r->fail_timer) != 0)
		pl_panic("PL-REDIS-TIMER", "what=fail_timer");
}

/* ---- connection life ---- */

/* redis_retry_cb - backoff passed: connect again */
static void
redis_retry_cb(void *arg)
{
	struct pl_redis *r = arg;

	pl_loop_timer_stop(&r->retry);
	redis_connect(r);
}

/* redis_schedule - connect again after the next backoff delay */
static void
redis_schedule(struct pl_redis *r)
{
	uint64_t ms = pl_backoff_next(&r->bo);

	if (r->dead || r->retry != NULL)
		return;
	if (pl_loop_timer(r->loop, ms, 0, redis_retry_cb, r, &r->retry) != 0)
		pl_panic("PL-REDIS-TIMER", "what=retry");
}

/* redis_on_connect - hiredis: the connect finished (ok or not) */
static void
redis_on_connect(const redisAsyncContext *ac, int status)
{
	struct pl_redis *r = ac->data;

	if (status != REDIS_OK) {
		pl_log_warn("PL-REDIS-CONNECT-FAIL", "addr=%s err=\"%s\"", r->addr,
		    ac->errstr);
		r->ac = NULL;	/* hiredis frees it after this callback */
		redis_schedule(r);
		return;
	}
	r->connected = 1;
	pl_metrics_inc(redis_m.connects);
	pl_backoff_reset(&r->bo);
	pl_log_info("PL-REDIS-UP", "addr=%s", r->addr);
}

/* redis_on_disconnect - hiredis: the link is gone (frees ac afterwards) */
static void
redis_on_disconnect(const redisAsyncContext *ac, int status)
{
	struct pl_redis *r = ac->data;

	r->ac = NULL;
	r->connected = 0;
	r->inflight = 0;
	if (r->dead)
		return;
	pl_log_warn("PL-REDIS-DOWN", "addr=%s err=\"%s\"", r->addr,
	    status == REDIS_OK ? "closed" : ac->errstr);
	redis_schedule(r);
}

/* redis_connect - start a non-blocking connect */
static void
redis_connect(struct pl_redis *r)
{
	redisAsyncContext *ac;

	ac = r->path != NULL ? redisAsyncConnectUnix(r->path) :
	    redisAsyncConnect(r->host, r->port);
	if (ac == NULL)
		pl_panic("PL-REDIS-NOMEM", "addr=%s", r->addr);
	if (ac->err != 0) {
		pl_log_warn("PL-REDIS-CONNECT-FAIL", "addr=%s err=\"%s\"", r->addr,
		    ac->errstr);
		redisAsyncFree(ac);
		redis_schedule(r);
		return;
	}
	ac->data = r;
	if (ad_attach(r, ac) != 0) {
		redisAsyncFree(ac);
		redis_schedule(r);
		return;
	}
	redisAsyncSetConnectCallback(ac, redis_on_connect);
	redisAsyncSetDisconnectCallback(ac, redis_on_disconnect);
	r->ac = ac;
}

/* redis_watchdog - drop a link whose replies stopped coming */
static void
redis_watchdog(void *arg)
{
	struct pl_redis *r = arg;

	if (r->ac == NULL || !r->connected || r->inflight == 0)
		return;
	if (pl_clock_mono_ms() - r->progress_ms < REDIS_STALL_MS)
		return;
	pl_log_warn("PL-REDIS-STALL", "addr=%s inflight=%d", r->addr, r->inflight);
	/* not redisAsyncDisconnect: that waits for the replies. Free calls
	 * every pending callback with NULL (→ PL_EUNAVAIL) and then
	 * redis_on_disconnect, which schedules the reconnect. */
	redisAsyncFree(r->ac);
	r->ac = NULL;
	r->connected = 0;
	r->inflight = 0;
	redis_schedule(r);
}

/* redis_parse_addr - "host:port" or "unix:/path" */
static int
redis_parse_addr(struct pl_redis *r, const char *addr)
{
	if (strncmp(addr, "unix:", 5) == 0) {
		if (addr[5] == '\0')
			return PL_EINVAL;
		r->path = pl_strdup(addr + 5);
		return 0;
	}
	return pl_parse_hostport(addr, &r->host, &r->port);
}

/* pl_redis_start - connect (in the background) to addr */
int
pl_redis_start(struct pl_loop *l, const char *addr, struct pl_redis **rp)
{
	struct pl_redis *r;
	int rv;

	if (l == NULL || addr == NULL || rp == NULL)
		return PL_EINVAL;
	redis_metrics_init();
	r = pl_calloc(1, sizeof(*r));
	r->loop = l;
	r->addr = pl_strdup(addr);
	if ((rv = redis_parse_addr(r, addr)) != 0) {
		pl_log_error("PL-REDIS-ADDR", "addr=%s", addr);
		goto fail;
	}
	pl_backoff_init(&r->bo, REDIS_BACKOFF_BASE_MS, REDIS_BACKOFF_CAP_MS,
	    (uint64_t)getpid() ^ pl_clock_mono_us());
	if ((rv = pl_loop_timer(l, REDIS_WATCHDOG_MS, 1, redis_watchdog, r,
	    &r->watchdog)) != 0)
		goto fail;
	redis_connect(r);
	*rp = r;
	return 0;
fail:
	free(r->host);
	free(r->path);
	free(r->addr);
	free(r);
	return rv;
}

/* pl_redis_connected - 1 while the link is up */
int
pl_redis_connected(const struct pl_redis *r)
{
	return r != NULL && r->connected;
}

/* rcmd_new - completion target, NULL when there is nothing to call */
static struct rcmd *
rcmd_new(struct pl_redis *r, pl_redis_fn cb, void *arg)
{
	struct rcmd *c = pl_calloc(1, sizeof(*c));

	c->r = r;
	c->cb = cb;
	c->arg = arg;
	return c;
}

/* redis_sent - bookkeeping after hiredis accepted a command */
static void
redis_sent(struct pl_redis *r)
{
	if (r->inflight++ == 0)
		r->progress_ms = pl_clock_mono_ms();
}

/* pl_redis_cmd - argv command; cb (may be NULL) fires exactly once */
int
pl_redis_cmd(struct pl_redis *r, pl_redis_fn cb, void *arg, int argc,
    const char **argv, const size_t *argvlen)
{
	struct rcmd *c;

	if (r == NULL || r->dead || argc <= 0 || argv == NULL)
		return PL_EINVAL;
	c = rcmd_new(r, cb, arg);
	if (!r->connected || redisAsyncCommandArgv(r->ac, rcmd_reply_cb, c,
	    argc, argv, argvlen) != REDIS_OK) {
		fail_later(r, c);
		return 0;
	}
	redis_sent(r);
	return 0;
}

/* pl_redis_cmdf - printf-style command (hiredis format) */
int
pl_redis_cmdf(struct pl_redis *r, pl_redis_fn cb, void *arg, const char *fmt,
    ...)
{
	struct rcmd *c;
	va_list ap;
	int rv = REDIS_ERR;

	if (r == NULL || r->dead || fmt == NULL)
		return PL_EINVAL;
	c = rcmd_new(r, cb, arg);
	if (r->connected) {
		va_start(ap, fmt);
		rv = redisvAsyncCommand(r->ac, rcmd_reply_cb, c, fmt, ap);
		va_end(ap);
	}
	if (rv != REDIS_OK) {
		fail_later(r, c);
		return 0;
	}
	redis_sent(r);
	return 0;
}

/* redis_free - the object itself; no context is left */
static void
redis_free(struct pl_redis *r)
{
	struct rcmd *c;

	pl_loop_timer_stop(&r->retry);
	pl_loop_timer_stop(&r->fail_timer);
	pl_loop_timer_stop(&r->watchdog);
	pl_loop_timer_stop(&r->reaper);
	while ((c = r->failed) != NULL) {
		r->failed = c->next;
		rcmd_finish(c, PL_ECLOSED, NULL);
	}
	free(r->host);
	free(r->path);
	free(r->addr);
	free(r);
}

/* redis_reap - timer: free an object stopped from inside a callback */
static void
redis_reap(void *arg)
{
	redis_free(arg);
}

/* pl_redis_stop - close; commands still pending complete with PL_ECLOSED */
void
pl_redis_stop(struct pl_redis **rp)
{
	struct pl_redis *r;

	if (rp == NULL || (r = *rp) == NULL)
		return;
	*rp = NULL;
	r->dead = 1;
	if (r->ac != NULL) {
		/* inside a hiredis callback the free is deferred by hiredis
		 * itself until the callback returns */
		redisAsyncFree(r->ac);
		r->ac = NULL;
	}
	pl_log_info("PL-REDIS-STOP", "addr=%s", r->addr);
	if (r->in_cb > 0) {
		if (pl_loop_timer(r->loop, 0, 0, redis_reap, r, &r->reaper) != 0)
			pl_panic("PL-REDIS-TIMER", "what=reaper");
		return;
	}
	redis_free(r);
}
