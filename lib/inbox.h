/* inbox.h - hand work from other threads (nng aio callbacks, librdkafka) to
 * the loop thread.
 *
 * pl_inbox_post may be called from any thread; fn(arg) then runs on the loop
 * thread, in post order. An eventfd wakes the loop. The inbox is bounded only
 * by its producers (each rpc context posts at most one item at a time). */
#ifndef PL_INBOX_H
#define PL_INBOX_H
#include "loop.h"

struct pl_inbox;

int pl_inbox_create(struct pl_loop *l, struct pl_inbox **r);
void pl_inbox_post(struct pl_inbox *in, pl_loop_fn fn, void *arg);
/* pl_inbox_free - runs nothing more; pending items are dropped. */
void pl_inbox_free(struct pl_inbox **in);

#endif
