/* blob.c - refcounted frames: one rendered event, shared by every recipient.
 *
 * A blob holds the complete WebSocket text frame, header and payload, built
 * once: frames from a server are not masked and the gateway negotiates no
 * extension (its lws context has none, so permessage-deflate is never
 * accepted), so every recipient gets the same bytes and each write is one
 * send() of them (conn.c). */
#include <stdlib.h>
#include <string.h>

#include "gw_blob.h"
#include "mem.h"

/* gw_blob_header - the header of a final, unmasked text frame of len
 * payload bytes into hdr (GW_BLOB_HDR_MAX); its length (RFC 6455 5.2) */
static size_t
gw_blob_header(unsigned char *hdr, size_t len)
{
	int i;

	hdr[0] = 0x81;			/* FIN, text */
	if (len < 126) {
		hdr[1] = (unsigned char)len;
		return 2;
	}
	if (len < 65536) {
		hdr[1] = 126;
		hdr[2] = (unsigned char)(len >> 8);
		hdr[3] = (unsigned char)len;
		return 4;
	}
	hdr[1] = 127;
	for (i = 0; i < 8; i++)
		hdr[2 + i] = (unsigned char)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* gw_blob_create - copy p into a new frame with one reference */
struct gw_blob *
gw_blob_create(const void *p, size_t len)
{
	struct gw_blob *b = pl_malloc(sizeof(*b) + GW_BLOB_HDR_MAX + len + 1);
	unsigned char hdr[GW_BLOB_HDR_MAX];
	size_t hl = gw_blob_header(hdr, len);

	b->refs = 1;
	b->len = (uint32_t)len;
	b->data = (unsigned char *)(b + 1) + GW_BLOB_HDR_MAX;
	b->frame = b->data - hl;
	b->frame_len = (uint32_t)(hl + len);
	memcpy(b->frame, hdr, hl);
	memcpy(b->data, p, len);
	b->data[len] = 0;
	return b;
}

/* gw_blob_ref - one more reference */
struct gw_blob *
gw_blob_ref(struct gw_blob *b)
{
	b->refs++;
	return b;
}

/* gw_blob_unref - drop a reference, free with the last; NULLs *b */
void
gw_blob_unref(struct gw_blob **b)
{
	if (*b == NULL)
		return;
	if (--(*b)->refs == 0)
		free(*b);
	*b = NULL;
}
