/* loop.c - dispatch of the pl_loop face to its implementation.
 *
 * loop_event.c and loop_uv.c fill a struct pl_loop_ops; this file only
 * forwards through it. A watch or timer finds its loop (and so its ops)
 * through the common head of loop_impl.h. */
#include <stddef.h>
#include <stdlib.h>

#include "err.h"
#include "loop.h"
#include "loop_impl.h"

/* pl_loop_free - release the loop object (not the underlying base/loop) */
void
pl_loop_free(struct pl_loop **l)
{
	if (l == NULL || *l == NULL)
		return;
	(*l)->ops->free(*l);
	*l = NULL;
}

/* pl_loop_watch - level-triggered read watch calling fn(arg) */
int
pl_loop_watch(struct pl_loop *l, int fd, pl_loop_fn fn, void *arg,
    struct pl_watch **w_r)
{
	if (l == NULL || fn == NULL || fd < 0 || w_r == NULL)
		return PL_EINVAL;
	/* stored as an io fn, cast back before the call (PL_LOOP_PLAIN) */
	return l->ops->io(l, fd, PL_LOOP_READ | PL_LOOP_PLAIN,
	    (pl_loop_io_fn)(void (*)(void))fn, arg, w_r);
}

/* pl_loop_io - watch fd for events, calling fn(ready, arg) */
int
pl_loop_io(struct pl_loop *l, int fd, int events, pl_loop_io_fn fn,
    void *arg, struct pl_watch **w_r)
{
	if (l == NULL || fn == NULL || fd < 0 || w_r == NULL ||
	    (events & ~(PL_LOOP_READ | PL_LOOP_WRITE)) != 0)
		return PL_EINVAL;
	return l->ops->io(l, fd, events, fn, arg, w_r);
}

/* pl_loop_io_set - change the interest of a watch (0 = none) */
int
pl_loop_io_set(struct pl_watch *w, int events)
{
	if (w == NULL || (events & ~(PL_LOOP_READ | PL_LOOP_WRITE)) != 0)
		return PL_EINVAL;
	return PL_LOOP_HEAD_LOOP(w)->ops->io_set(w, events);
}

/* pl_loop_unwatch - stop and free a watch; NULLs *w */
void
pl_loop_unwatch(struct pl_watch **w)
{
	if (w == NULL || *w == NULL)
		return;
	PL_LOOP_HEAD_LOOP(*w)->ops->unwatch(*w);
	*w = NULL;
}

/* pl_loop_timer - one-shot or repeating timer */
int
pl_loop_timer(struct pl_loop *l, uint64_t ms, int repeat, pl_loop_fn fn,
    void *arg, struct pl_timer **t_r)
{
	if (l == NULL || fn == NULL || t_r == NULL)
		return PL_EINVAL;
	return l->ops->timer(l, ms, repeat, fn, arg, t_r);
}

/* pl_loop_timer_stop - stop and free a timer; NULLs *t */
void
pl_loop_timer_stop(struct pl_timer **t)
{
	if (t == NULL || *t == NULL)
		return;
	PL_LOOP_HEAD_LOOP(*t)->ops->timer_stop(*t);
	*t = NULL;
}
