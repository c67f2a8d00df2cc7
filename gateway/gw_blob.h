/* gw_blob.h - blob.c: one rendered frame, refcounted and pre-padded, shared
 * by every recipient of an event. */
#ifndef GW_BLOB_H
#define GW_BLOB_H
#include <stddef.h>
#include <stdint.h>

#define GW_BLOB_HDR_MAX 10		/* a WebSocket frame header, at most */
struct gw_blob {
	uint32_t refs;
	uint32_t len;			/* payload bytes */
	unsigned char *data;		/* payload (NUL-terminated text) */
	unsigned char *frame;		/* the whole text frame: header, payload */
	uint32_t frame_len;
};
struct gw_blob *gw_blob_create(const void *p, size_t len);
struct gw_blob *gw_blob_ref(struct gw_blob *b);
void gw_blob_unref(struct gw_blob **b);

#endif
