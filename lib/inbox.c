/* inbox.c - a mutex-protected FIFO drained on the loop thread, woken through
 * an eventfd.
 *
 * Producers (any thread) append and bump the eventfd; the loop thread takes
 * the whole list at once and runs it in order without holding the lock, so a
 * callback may post again (that item runs on the next wake-up, which keeps
 * one busy producer from starving the loop). A callback may free the inbox:
 * the drain notices and drops the rest of its batch. */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "err.h"
#include "inbox.h"
#include "log.h"
#include "mem.h"

struct inbox_item {
	struct inbox_item *next;
	pl_loop_fn fn;
	void *arg;
};

struct pl_inbox {
	pthread_mutex_t mu;
	struct inbox_item *head, *tail;
	int fd;
	struct pl_watch *w;
	int draining;	/* the loop thread is running a batch */
	int dead;	/* freed during a drain: the drain frees */
};

/* inbox_items_free - drop a list of items */
static void
inbox_items_free(struct inbox_item *it)
{
	struct inbox_item *next;

	for (; it != NULL; it = next) {
		next = it->next;
		free(it);
	}
}

/* inbox_destroy - free everything (no drain may be running) */
static void
inbox_destroy(struct pl_inbox *in)
{
	inbox_items_free(in->head);
	pthread_mutex_destroy(&in->mu);
	free(in);
}

/* inbox_take - detach the pending list */
static struct inbox_item *
inbox_take(struct pl_inbox *in)
{
	struct inbox_item *list;

	pthread_mutex_lock(&in->mu);
	list = in->head;
	in->head = in->tail = NULL;
	pthread_mutex_unlock(&in->mu);
	return list;
}

/* inbox_drain - eventfd readable: run one batch in post order */
static void
inbox_drain(void *arg)
{
	struct pl_inbox *in = arg;
	struct inbox_item *list, *it;
	uint64_t v;

	if (read(in->fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		pl_log_warn("PL-INBOX-READ", "err=%d", errno);
	list = inbox_take(in);
	in->draining = 1;
	while (list != NULL && !in->dead) {
		it = list;
		list = it->next;
		it->fn(it->arg);
		free(it);
	}
	in->draining = 0;
	inbox_items_free(list);
	if (in->dead)
		inbox_destroy(in);
}

/* pl_inbox_create - an inbox woken on loop l */
int
pl_inbox_create(struct pl_loop *l, struct pl_inbox **r)
{
	struct pl_inbox *in = pl_calloc(1, sizeof(*in));
	int rv;

	pthread_mutex_init(&in->mu, NULL);
	in->fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (in->fd < 0) {
		rv = -errno;
		pl_log_error("PL-INBOX-EVENTFD", "err=%d", errno);
		goto fail;
	}
	if ((rv = pl_loop_watch(l, in->fd, inbox_drain, in, &in->w)) != 0)
		goto fail_fd;
	*r = in;
	return 0;
fail_fd:
	close(in->fd);
fail:
	pthread_mutex_destroy(&in->mu);
	free(in);
	return rv;
}

/* pl_inbox_post - append fn(arg); wakes the loop when the list was empty */
void
pl_inbox_post(struct pl_inbox *in, pl_loop_fn fn, void *arg)
{
	struct inbox_item *it = pl_malloc(sizeof(*it));
	uint64_t one = 1;
	int wake;

	it->next = NULL;
	it->fn = fn;
	it->arg = arg;
	pthread_mutex_lock(&in->mu);
	wake = in->head == NULL;
	if (in->tail != NULL)
		in->tail->next = it;
	else
		in->head = it;
	in->tail = it;
	/* write under the lock: free() cannot close the fd under us */
	if (wake && write(in->fd, &one, sizeof(one)) < 0 && errno != EAGAIN)
		pl_log_warn("PL-INBOX-WRITE", "err=%d", errno);
	pthread_mutex_unlock(&in->mu);
}

/* pl_inbox_free - stop; pending items are dropped, never run */
void
pl_inbox_free(struct pl_inbox **inp)
{
	struct pl_inbox *in;

	if (inp == NULL || (in = *inp) == NULL)
		return;
	*inp = NULL;
	pl_loop_unwatch(&in->w);
	pthread_mutex_lock(&in->mu);
	close(in->fd);
	in->fd = -1;
	pthread_mutex_unlock(&in->mu);
	if (in->draining) {
		in->dead = 1;	/* inbox_drain frees on its way out */
		return;
	}
	inbox_destroy(in);
}
