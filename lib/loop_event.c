/* loop_event.c - pl_loop over a libevent event_base.
 *
 * A watch is one persistent event (EV_PERSIST, level-triggered); changing
 * the interest deletes and re-assigns it. A timer is an evtimer, persistent
 * when it repeats. libevent allows event_free from inside the event's own
 * callback, so a watch or timer may be stopped from its callback. */
#include <stdlib.h>
#include <event2/event.h>

#include "err.h"
#include "loop.h"
#include "loop_impl.h"
#include "mem.h"

struct pl_watch {
	struct pl_loop *loop;	/* common head, see loop_impl.h */
	struct event *ev;
	int fd;
	int plain;		/* fn is a pl_loop_fn */
	pl_loop_io_fn fn;
	void *arg;
};

struct pl_timer {
	struct pl_loop *loop;	/* common head */
	struct event *ev;
	pl_loop_fn fn;
	void *arg;
};

/* ev_io_cb - libevent readiness → pl_loop events */
static void
ev_io_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pl_watch *w = arg;
	int events = 0;

	if (w->plain) {
		((pl_loop_fn)(void (*)(void))w->fn)(w->arg);
		return;
	}
	if (what & EV_READ)
		events |= PL_LOOP_READ;
	if (what & EV_WRITE)
		events |= PL_LOOP_WRITE;
	w->fn(events, w->arg);
}

/* ev_flags - pl_loop interest → libevent flags */
static short
ev_flags(int events)
{
	short f = EV_PERSIST;

	if (events & PL_LOOP_READ)
		f |= EV_READ;
	if (events & PL_LOOP_WRITE)
		f |= EV_WRITE;
	return f;
}

/* ev_arm - (re)assign w->ev for events and add it when there is interest */
static int
ev_arm(struct pl_watch *w, int events)
{
	struct event_base *base = w->loop->impl;

	event_del(w->ev);
	if (event_assign(w->ev, base, w->fd, ev_flags(events), ev_io_cb, w) != 0)
		return PL_EIO;
	if (events != 0 && event_add(w->ev, NULL) != 0)
		return PL_EIO;
	return 0;
}

/* ev_io - create a watch */
static int
ev_io(struct pl_loop *l, int fd, int events, pl_loop_io_fn fn, void *arg,
    struct pl_watch **w_r)
{
	struct pl_watch *w = pl_calloc(1, sizeof(*w));
	int rv;

	w->loop = l;
	w->fd = fd;
	w->plain = (events & PL_LOOP_PLAIN) != 0;
	w->fn = fn;
	w->arg = arg;
	events &= PL_LOOP_READ | PL_LOOP_WRITE;
	w->ev = event_new(l->impl, fd, ev_flags(events), ev_io_cb, w);
	if (w->ev == NULL) {
		rv = PL_EIO;
		goto fail;
	}
	if (events != 0 && event_add(w->ev, NULL) != 0) {
		rv = PL_EIO;
		goto fail;
	}
	*w_r = w;
	return 0;
fail:
	if (w->ev != NULL)
		event_free(w->ev);
	free(w);
	return rv;
}

/* ev_io_set - change the interest */
static int
ev_io_set(struct pl_watch *w, int events)
{
	return ev_arm(w, events);
}

/* ev_unwatch - delete and free */
static void
ev_unwatch(struct pl_watch *w)
{
	event_free(w->ev);
	free(w);
}

/* ev_timer_cb - fire the timer */
static void
ev_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct pl_timer *t = arg;

	t->fn(t->arg);
}

/* ev_timer - one-shot or repeating evtimer */
static int
ev_timer(struct pl_loop *l, uint64_t ms, int repeat, pl_loop_fn fn,
    void *arg, struct pl_timer **t_r)
{
	struct pl_timer *t = pl_calloc(1, sizeof(*t));
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) * 1000 };

	t->loop = l;
	t->fn = fn;
	t->arg = arg;
	t->ev = event_new(l->impl, -1, repeat ? EV_PERSIST : 0, ev_timer_cb, t);
	if (t->ev == NULL || event_add(t->ev, &tv) != 0) {
		if (t->ev != NULL)
			event_free(t->ev);
		free(t);
		return PL_EIO;
	}
	*t_r = t;
	return 0;
}

/* ev_timer_stop - delete and free */
static void
ev_timer_stop(struct pl_timer *t)
{
	event_free(t->ev);
	free(t);
}

/* ev_free - the wrapper only; the event_base belongs to the caller */
static void
ev_free(struct pl_loop *l)
{
	free(l);
}

static const struct pl_loop_ops ev_ops = {
	.io = ev_io,
	.io_set = ev_io_set,
	.unwatch = ev_unwatch,
	.timer = ev_timer,
	.timer_stop = ev_timer_stop,
	.free = ev_free,
};

/* pl_loop_event_create - wrap base (borrowed, must outlive the loop) */
struct pl_loop *
pl_loop_event_create(struct event_base *base)
{
	struct pl_loop *l = pl_calloc(1, sizeof(*l));

	l->ops = &ev_ops;
	l->impl = base;
	return l;
}
