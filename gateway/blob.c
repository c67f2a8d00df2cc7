/* blob.c - refcounted frames: one rendered event, shared by every recipient.
 *
 * The payload is preceded by LWS_PRE bytes that lws_write may use for the
 * WebSocket header, so a blob is written to many sockets without copying. */
#include <stdlib.h>
#include <string.h>
#include <libwebsockets.h>

#include "gateway.h"
#include "mem.h"

/* gw_blob_create - copy p into a new blob with one reference */
struct gw_blob *
gw_blob_create(const void *p, size_t len, int64_t kafka_ts_ms)
{
	struct gw_blob *b = pl_malloc(sizeof(*b) + LWS_PRE + len + 1);

	b->refs = 1;
	b->len = (uint32_t)len;
	b->kafka_ts_ms = kafka_ts_ms;
	b->data = (unsigned char *)(b + 1) + LWS_PRE;
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
