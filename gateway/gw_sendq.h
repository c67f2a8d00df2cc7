/* gw_sendq.h - sendq.c: the bounded per-connection send queue (frames and
 * bytes). */
#ifndef GW_SENDQ_H
#define GW_SENDQ_H
#include <stddef.h>
#include <stdint.h>

struct gw_blob;

struct gw_sendq {
	struct gw_blob **v;
	uint32_t head, n, cap;
	size_t bytes;
	uint32_t max_frames;
	size_t max_bytes;
};
struct gw_sendq *gw_sendq_create(uint32_t max_frames, size_t max_bytes);
void gw_sendq_free(struct gw_sendq **q);
/* push takes a new reference; PL_ETOOBIG when a bound would be passed */
int gw_sendq_push(struct gw_sendq *q, struct gw_blob *b);
struct gw_blob *gw_sendq_peek(const struct gw_sendq *q);
/* pop: the caller gets the queue's reference */
struct gw_blob *gw_sendq_pop(struct gw_sendq *q);

#endif
