/* sendq.c - the bounded per-connection send queue.
 *
 * A ring of blob references, bounded by frame count and by payload bytes:
 * a client that stops reading fills it and is closed with 4008 (invariant 5)
 * instead of being buffered without limit. Allocated only when a write could
 * not go straight to the socket, and grown in steps up to max_frames. */
#include <stdlib.h>

#include "err.h"
#include "gw_blob.h"
#include "gw_sendq.h"
#include "mem.h"

#define GW_SENDQ_FIRST 8

/* gw_sendq_create - an empty queue with its bounds */
struct gw_sendq *
gw_sendq_create(uint32_t max_frames, size_t max_bytes)
{
	struct gw_sendq *q = pl_calloc(1, sizeof(*q));

	q->max_frames = max_frames ? max_frames : 1;
	q->max_bytes = max_bytes;
	return q;
}

/* gw_sendq_free - drop every queued reference */
void
gw_sendq_free(struct gw_sendq **qp)
{
	struct gw_sendq *q = *qp;
	struct gw_blob *b;

	if (q == NULL)
		return;
	while ((b = gw_sendq_pop(q)) != NULL)
		gw_blob_unref(&b);
	free(q->v);
	pl_free(qp);
}

/* gw_sendq_grow - double the ring, keeping order */
static void
gw_sendq_grow(struct gw_sendq *q)
{
	uint32_t cap = q->cap ? q->cap * 2 : GW_SENDQ_FIRST, i;
	struct gw_blob **v;

	if (cap > q->max_frames)
		cap = q->max_frames;
	v = pl_malloc(cap * sizeof(*v));
	for (i = 0; i < q->n; i++)
		v[i] = q->v[(q->head + i) % q->cap];
	free(q->v);
	q->v = v;
	q->cap = cap;
	q->head = 0;
}

/* gw_sendq_push - append a reference to b, or PL_ETOOBIG past a bound */
int
gw_sendq_push(struct gw_sendq *q, struct gw_blob *b)
{
	if (q->n >= q->max_frames || q->bytes + b->len > q->max_bytes)
		return PL_ETOOBIG;
	if (q->n == q->cap)
		gw_sendq_grow(q);
	q->v[(q->head + q->n) % q->cap] = gw_blob_ref(b);
	q->n++;
	q->bytes += b->len;
	return 0;
}

/* gw_sendq_peek - the oldest frame, or NULL */
struct gw_blob *
gw_sendq_peek(const struct gw_sendq *q)
{
	return q->n ? q->v[q->head] : NULL;
}

/* gw_sendq_pop - remove the oldest frame; the caller owns the reference */
struct gw_blob *
gw_sendq_pop(struct gw_sendq *q)
{
	struct gw_blob *b;

	if (q->n == 0)
		return NULL;
	b = q->v[q->head];
	q->head = (q->head + 1) % q->cap;
	q->n--;
	q->bytes -= b->len;
	return b;
}
