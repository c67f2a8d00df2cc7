/* loop_uv.c - pl_loop over a libuv loop (the gateway's loop).
 *
 * A watch is a uv_poll_t, a timer a uv_timer_t. libuv handles must be closed
 * with uv_close and may only be freed in the close callback, so stopping a
 * watch or timer closes it and the memory goes back in uv_free_cb; the
 * user's callback is never called after the stop. Stopping from inside the
 * handle's own callback is therefore safe. */
#include <stdlib.h>
#include <uv.h>

#include "err.h"
#include "log.h"
#include "loop.h"
#include "loop_impl.h"
#include "mem.h"

struct pl_watch {
	struct pl_loop *loop;	/* common head, see loop_impl.h */
	uv_poll_t h;
	int plain;		/* fn is a pl_loop_fn */
	pl_loop_io_fn fn;
	void *arg;
};

struct pl_timer {
	struct pl_loop *loop;	/* common head */
	uv_timer_t h;
	pl_loop_fn fn;
	void *arg;
};

/* uv_free_cb - the handle is closed: free its owner */
static void
uv_free_cb(uv_handle_t *h)
{
	free(h->data);
}

/* uvl_poll_cb - libuv readiness → pl_loop events; an error wakes readers */
static void
uvl_poll_cb(uv_poll_t *h, int status, int what)
{
	struct pl_watch *w = h->data;
	int events = 0;

	if (w->plain) {
		((pl_loop_fn)(void (*)(void))w->fn)(w->arg);
		return;
	}
	if (status < 0 || (what & (UV_READABLE | UV_DISCONNECT)))
		events |= PL_LOOP_READ;
	if (status < 0 || (what & UV_WRITABLE))
		events |= PL_LOOP_WRITE;
	w->fn(events, w->arg);
}

/* uvl_arm - start or stop polling for events */
static int
uvl_arm(struct pl_watch *w, int events)
{
	int flags = 0, rv;

	if (events & PL_LOOP_READ)
		flags |= UV_READABLE;
	if (events & PL_LOOP_WRITE)
		flags |= UV_WRITABLE;
	rv = flags ? uv_poll_start(&w->h, flags, uvl_poll_cb) : uv_poll_stop(&w->h);
	if (rv != 0) {
		pl_log_error("PL-LOOP-UV-POLL", "err=%s", uv_strerror(rv));
		return PL_EIO;
	}
	return 0;
}

/* uvl_io - create a watch */
static int
uvl_io(struct pl_loop *l, int fd, int events, pl_loop_io_fn fn, void *arg,
    struct pl_watch **w_r)
{
	struct pl_watch *w = pl_calloc(1, sizeof(*w));
	int rv;

	w->loop = l;
	w->plain = (events & PL_LOOP_PLAIN) != 0;
	w->fn = fn;
	w->arg = arg;
	rv = uv_poll_init(l->impl, &w->h, fd);
	if (rv != 0) {
		pl_log_error("PL-LOOP-UV-POLL", "fd=%d err=%s", fd, uv_strerror(rv));
		free(w);
		return PL_EIO;
	}
	w->h.data = w;
	if ((rv = uvl_arm(w, events & (PL_LOOP_READ | PL_LOOP_WRITE))) != 0) {
		uv_close((uv_handle_t *)&w->h, uv_free_cb);
		return rv;
	}
	*w_r = w;
	return 0;
}

/* uvl_io_set - change the interest */
static int
uvl_io_set(struct pl_watch *w, int events)
{
	return uvl_arm(w, events);
}

/* uvl_unwatch - close; freed in the close callback */
static void
uvl_unwatch(struct pl_watch *w)
{
	uv_poll_stop(&w->h);
	uv_close((uv_handle_t *)&w->h, uv_free_cb);
}

/* uvl_timer_cb - fire the timer */
static void
uvl_timer_cb(uv_timer_t *h)
{
	struct pl_timer *t = h->data;

	t->fn(t->arg);
}

/* uvl_timer - one-shot or repeating uv_timer_t */
static int
uvl_timer(struct pl_loop *l, uint64_t ms, int repeat, pl_loop_fn fn,
    void *arg, struct pl_timer **t_r)
{
	struct pl_timer *t = pl_calloc(1, sizeof(*t));
	int rv;

	t->loop = l;
	t->fn = fn;
	t->arg = arg;
	if ((rv = uv_timer_init(l->impl, &t->h)) != 0) {
		free(t);
		return PL_EIO;
	}
	t->h.data = t;
	/* a zero repeat would mean "no repeat" to libuv: use 1 ms */
	if ((rv = uv_timer_start(&t->h, uvl_timer_cb, ms,
	    repeat ? (ms ? ms : 1) : 0)) != 0) {
		uv_close((uv_handle_t *)&t->h, uv_free_cb);
		return PL_EIO;
	}
	*t_r = t;
	return 0;
}

/* uvl_timer_stop - close; freed in the close callback */
static void
uvl_timer_stop(struct pl_timer *t)
{
	uv_timer_stop(&t->h);
	uv_close((uv_handle_t *)&t->h, uv_free_cb);
}

/* uvl_free - the wrapper only; the uv loop belongs to the caller */
static void
uvl_free(struct pl_loop *l)
{
	free(l);
}

static const struct pl_loop_ops uvl_ops = {
	.io = uvl_io,
	.io_set = uvl_io_set,
	.unwatch = uvl_unwatch,
	.timer = uvl_timer,
	.timer_stop = uvl_timer_stop,
	.free = uvl_free,
};

/* pl_loop_uv_create - wrap uv (borrowed, must outlive the loop) */
struct pl_loop *
pl_loop_uv_create(struct uv_loop_s *uv)
{
	struct pl_loop *l = pl_calloc(1, sizeof(*l));

	l->ops = &uvl_ops;
	l->impl = uv;
	return l;
}
