/* loop.h - a loop-agnostic face over libevent and libuv.
 *
 * Mechanism modules (rpc, kafka, pg, redis wakeups) take a struct pl_loop and
 * watch descriptors and timers through it, so the same module runs in the
 * libevent daemons and in the gateway's libuv loop. The loop object is owned
 * by whoever created it and must outlive every watch and timer on it. All
 * callbacks run on the loop thread. */
#ifndef PL_LOOP_H
#define PL_LOOP_H
#include <stdint.h>

struct event_base;
struct uv_loop_s;
struct pl_loop;
struct pl_watch;
struct pl_timer;

typedef void (*pl_loop_fn)(void *arg);

struct pl_loop *pl_loop_event_create(struct event_base *base);	/* loop_event.c */
struct pl_loop *pl_loop_uv_create(struct uv_loop_s *uv);		/* loop_uv.c */
void pl_loop_free(struct pl_loop **l);

/* pl_loop_watch - call fn whenever fd is readable (level-triggered). */
int pl_loop_watch(struct pl_loop *l, int fd, pl_loop_fn fn, void *arg,
    struct pl_watch **w_r);
void pl_loop_unwatch(struct pl_watch **w);

/* pl_loop_io - call fn(events, arg) when fd becomes ready for any of events
 * (PL_LOOP_READ | PL_LOOP_WRITE); pl_loop_io_set changes the interest
 * (0 = none, the watch stays allocated). Free with pl_loop_unwatch. */
#define PL_LOOP_READ 1
#define PL_LOOP_WRITE 2
typedef void (*pl_loop_io_fn)(int events, void *arg);
int pl_loop_io(struct pl_loop *l, int fd, int events, pl_loop_io_fn fn,
    void *arg, struct pl_watch **w_r);
int pl_loop_io_set(struct pl_watch *w, int events);

/* pl_loop_timer - call fn after ms, then every ms if repeat. A one-shot timer
 * stays allocated after it fired until pl_loop_timer_stop. A watch or timer
 * may be stopped from inside its own callback. */
int pl_loop_timer(struct pl_loop *l, uint64_t ms, int repeat, pl_loop_fn fn,
    void *arg, struct pl_timer **t_r);
void pl_loop_timer_stop(struct pl_timer **t);

/* implementation table, filled by loop_event.c / loop_uv.c */
struct pl_loop_ops {
	int (*io)(struct pl_loop *l, int fd, int events, pl_loop_io_fn fn,
	    void *arg, struct pl_watch **w_r);
	int (*io_set)(struct pl_watch *w, int events);
	void (*unwatch)(struct pl_watch *w);
	int (*timer)(struct pl_loop *l, uint64_t ms, int repeat, pl_loop_fn fn,
	    void *arg, struct pl_timer **t_r);
	void (*timer_stop)(struct pl_timer *t);
	void (*free)(struct pl_loop *l);
};
struct pl_loop {
	const struct pl_loop_ops *ops;
	void *impl;	/* struct event_base * or uv_loop_t * */
};

#endif
