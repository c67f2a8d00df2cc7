/* loop_test.c - pl_loop on libevent and on libuv: every case runs on both. */
#include <string.h>
#include <unistd.h>
#include <event2/event.h>
#include <uv.h>

#include "loop.h"
#include "pl_test.h"

struct tloop {
	struct event_base *base;
	uv_loop_t uv;
	struct pl_loop *l;
	int is_uv;
};

static void
tloop_init(struct tloop *t, int is_uv)
{
	memset(t, 0, sizeof(*t));
	t->is_uv = is_uv;
	if (is_uv) {
		uv_loop_init(&t->uv);
		t->l = pl_loop_uv_create(&t->uv);
	} else {
		t->base = event_base_new();
		t->l = pl_loop_event_create(t->base);
	}
}

/* tloop_once - one blocking iteration */
static void
tloop_once(struct tloop *t)
{
	if (t->is_uv)
		uv_run(&t->uv, UV_RUN_ONCE);
	else
		event_base_loop(t->base, EVLOOP_ONCE);
}

/* tloop_fini - free; for libuv run the close callbacks, then close the loop */
static int
tloop_fini(struct tloop *t)
{
	int rv = 0;

	pl_loop_free(&t->l);
	if (t->is_uv) {
		uv_run(&t->uv, UV_RUN_DEFAULT);
		rv = uv_loop_close(&t->uv);
	} else {
		event_base_free(t->base);
	}
	return rv;
}

struct ctx {
	int fd;
	int n;
	int events;
	struct pl_watch *w;
	struct pl_timer *t;
};

static void
on_plain_read(void *arg)
{
	struct ctx *c = arg;
	char b;

	c->n++;
	if (read(c->fd, &b, 1) != 1)
		c->n += 1000;
}

/* watch: level-triggered read, fn(arg) */
static void
case_watch(int is_uv)
{
	struct tloop t;
	struct ctx c = { 0 };
	int p[2];

	tloop_init(&t, is_uv);
	PL_CHECK_EQ_INT(pipe(p), 0);
	c.fd = p[0];
	PL_CHECK_EQ_INT(pl_loop_watch(t.l, p[0], on_plain_read, &c, &c.w), 0);
	PL_CHECK_EQ_INT(write(p[1], "ab", 2), 2);
	tloop_once(&t);
	tloop_once(&t);	/* level-triggered: the second byte wakes again */
	PL_CHECK_EQ_INT(c.n, 2);
	pl_loop_unwatch(&c.w);
	PL_CHECK(c.w == NULL);
	PL_CHECK_EQ_INT(tloop_fini(&t), 0);
	close(p[0]);
	close(p[1]);
}

static void
on_io(int events, void *arg)
{
	struct ctx *c = arg;

	c->n++;
	c->events |= events;
	pl_loop_io_set(c->w, 0);	/* once is enough */
}

/* io: write interest, then switch to read interest with io_set */
static void
case_io_set(int is_uv)
{
	struct tloop t;
	struct ctx c = { 0 };
	int p[2];

	tloop_init(&t, is_uv);
	PL_CHECK_EQ_INT(pipe(p), 0);
	PL_CHECK_EQ_INT(pl_loop_io(t.l, p[1], PL_LOOP_WRITE, on_io, &c, &c.w), 0);
	tloop_once(&t);
	PL_CHECK_EQ_INT(c.n, 1);
	PL_CHECK_EQ_INT(c.events, PL_LOOP_WRITE);
	pl_loop_unwatch(&c.w);

	c.n = 0;
	c.events = 0;
	PL_CHECK_EQ_INT(pl_loop_io(t.l, p[0], 0, on_io, &c, &c.w), 0);
	PL_CHECK_EQ_INT(pl_loop_io_set(c.w, PL_LOOP_READ), 0);
	PL_CHECK_EQ_INT(write(p[1], "x", 1), 1);
	tloop_once(&t);
	PL_CHECK_EQ_INT(c.n, 1);
	PL_CHECK_EQ_INT(c.events, PL_LOOP_READ);
	pl_loop_unwatch(&c.w);
	PL_CHECK_EQ_INT(tloop_fini(&t), 0);
	close(p[0]);
	close(p[1]);
}

static void
on_tick(void *arg)
{
	struct ctx *c = arg;

	if (++c->n == 3)
		pl_loop_timer_stop(&c->t);	/* stop from its own callback */
}

/* timers: one-shot fires once, repeating stops itself after 3 */
static void
case_timer(int is_uv)
{
	struct tloop t;
	struct ctx once = { 0 }, rep = { 0 };
	int i;

	tloop_init(&t, is_uv);
	PL_CHECK_EQ_INT(pl_loop_timer(t.l, 5, 0, on_tick, &once, &once.t), 0);
	PL_CHECK_EQ_INT(pl_loop_timer(t.l, 2, 1, on_tick, &rep, &rep.t), 0);
	for (i = 0; i < 200 && (rep.t != NULL || once.n == 0); i++)
		tloop_once(&t);
	PL_CHECK_EQ_INT(once.n, 1);
	PL_CHECK_EQ_INT(rep.n, 3);
	PL_CHECK(rep.t == NULL);
	pl_loop_timer_stop(&once.t);
	PL_CHECK_EQ_INT(tloop_fini(&t), 0);
}

static void
on_unwatch_self(void *arg)
{
	struct ctx *c = arg;

	c->n++;
	pl_loop_unwatch(&c->w);
}

/* a watch may be removed from inside its own callback */
static void
case_unwatch_in_cb(int is_uv)
{
	struct tloop t;
	struct ctx c = { 0 };
	int p[2];

	tloop_init(&t, is_uv);
	PL_CHECK_EQ_INT(pipe(p), 0);
	PL_CHECK_EQ_INT(pl_loop_watch(t.l, p[0], on_unwatch_self, &c, &c.w), 0);
	PL_CHECK_EQ_INT(write(p[1], "ab", 2), 2);
	tloop_once(&t);
	PL_CHECK(c.w == NULL);
	PL_CHECK_EQ_INT(c.n, 1);
	PL_CHECK_EQ_INT(tloop_fini(&t), 0);
	close(p[0]);
	close(p[1]);
}

PL_TEST(watch_event) { case_watch(0); }
PL_TEST(watch_uv) { case_watch(1); }
PL_TEST(io_set_event) { case_io_set(0); }
PL_TEST(io_set_uv) { case_io_set(1); }
PL_TEST(timer_event) { case_timer(0); }
PL_TEST(timer_uv) { case_timer(1); }
PL_TEST(unwatch_in_cb_event) { case_unwatch_in_cb(0); }
PL_TEST(unwatch_in_cb_uv) { case_unwatch_in_cb(1); }

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(watch_event),
	PL_TEST_CASE(watch_uv),
	PL_TEST_CASE(io_set_event),
	PL_TEST_CASE(io_set_uv),
	PL_TEST_CASE(timer_event),
	PL_TEST_CASE(timer_uv),
	PL_TEST_CASE(unwatch_in_cb_event),
	PL_TEST_CASE(unwatch_in_cb_uv),
};
PL_TEST_MAIN(tests)
