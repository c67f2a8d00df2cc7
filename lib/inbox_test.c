/* inbox_test.c - posts from threads run on the loop thread in order. */
#include <pthread.h>
#include <string.h>
#include <event2/event.h>

#include "inbox.h"
#include "pl_test.h"

#define NTHREADS 4
#define NPOSTS 5000

struct item {
	int thread;
	int seq;
};

struct state {
	struct pl_inbox *in;
	struct event_base *base;
	int last[NTHREADS];
	int n;
	int disorder;
	pthread_t loop_thread;
	int wrong_thread;
	struct item items[NTHREADS][NPOSTS];
};

static struct state S;

static void
on_item(void *arg)
{
	struct item *it = arg;

	if (!pthread_equal(pthread_self(), S.loop_thread))
		S.wrong_thread++;
	if (it->seq != S.last[it->thread] + 1)
		S.disorder++;
	S.last[it->thread] = it->seq;
	if (++S.n == NTHREADS * NPOSTS)
		event_base_loopbreak(S.base);
}

static void *
producer(void *arg)
{
	int t = (int)(intptr_t)arg;

	for (int i = 0; i < NPOSTS; i++) {
		S.items[t][i].thread = t;
		S.items[t][i].seq = i + 1;
		pl_inbox_post(S.in, on_item, &S.items[t][i]);
	}
	return NULL;
}

PL_TEST(threads_in_order)
{
	pthread_t th[NTHREADS];
	struct pl_loop *l;

	memset(&S, 0, sizeof(S));
	S.base = event_base_new();
	S.loop_thread = pthread_self();
	l = pl_loop_event_create(S.base);
	PL_CHECK_EQ_INT(pl_inbox_create(l, &S.in), 0);
	for (int t = 0; t < NTHREADS; t++)
		pthread_create(&th[t], NULL, producer, (void *)(intptr_t)t);
	event_base_dispatch(S.base);
	for (int t = 0; t < NTHREADS; t++)
		pthread_join(th[t], NULL);
	PL_CHECK_EQ_INT(S.n, NTHREADS * NPOSTS);
	PL_CHECK_EQ_INT(S.disorder, 0);
	PL_CHECK_EQ_INT(S.wrong_thread, 0);
	pl_inbox_free(&S.in);
	PL_CHECK(S.in == NULL);
	pl_loop_free(&l);
	event_base_free(S.base);
}

static int ran;

static void
on_free_self(void *arg)
{
	ran++;
	pl_inbox_free(&S.in);	/* frees from inside a drain */
	event_base_loopbreak(S.base);
}

static void
on_count(void *arg)
{
	ran += 100;
}

PL_TEST(free_inside_drain_drops_rest)
{
	struct pl_loop *l;

	memset(&S, 0, sizeof(S));
	ran = 0;
	S.base = event_base_new();
	l = pl_loop_event_create(S.base);
	PL_CHECK_EQ_INT(pl_inbox_create(l, &S.in), 0);
	pl_inbox_post(S.in, on_free_self, NULL);
	pl_inbox_post(S.in, on_count, NULL);
	event_base_dispatch(S.base);
	PL_CHECK_EQ_INT(ran, 1);
	pl_loop_free(&l);
	event_base_free(S.base);
}

PL_TEST(free_with_pending)
{
	struct pl_loop *l;

	memset(&S, 0, sizeof(S));
	ran = 0;
	S.base = event_base_new();
	l = pl_loop_event_create(S.base);
	PL_CHECK_EQ_INT(pl_inbox_create(l, &S.in), 0);
	pl_inbox_post(S.in, on_count, NULL);
	pl_inbox_free(&S.in);
	event_base_loop(S.base, EVLOOP_NONBLOCK);
	PL_CHECK_EQ_INT(ran, 0);
	pl_loop_free(&l);
	event_base_free(S.base);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(threads_in_order),
	PL_TEST_CASE(free_inside_drain_drops_rest),
	PL_TEST_CASE(free_with_pending),
};
PL_TEST_MAIN(tests)
