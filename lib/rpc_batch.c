/* rpc_batch.c - the batch frame of lib/rpc.c (see rpc_batch.h). */
#include <string.h>

#include "be.h"
#include "buf.h"
#include "err.h"
#include "rpc_batch.h"

static const uint8_t rpc_batch_magic[2] = { 0x00, 0xB7 };

int
pl_rpc_toobig_is(const void *data, size_t len)
{
	return len == PL_RPC_TOOBIG_LEN && memcmp(data, PL_RPC_TOOBIG, len) == 0;
}

int
pl_rpc_batch_is(const void *data, size_t len)
{
	return len >= 6 && memcmp(data, rpc_batch_magic, 2) == 0;
}

void
pl_rpc_batch_begin(struct pl_buf *b, uint32_t count)
{
	pl_buf_reset(b);
	pl_buf_append(b, rpc_batch_magic, 2);
	pl_buf_be32(b, count);
}

void
pl_rpc_batch_add(struct pl_buf *b, const void *data, size_t len)
{
	pl_buf_be32(b, (uint32_t)len);
	pl_buf_append(b, data, len);
}

int
pl_rpc_batch_parse(const void *data, size_t len, struct pl_rpc_item *items,
    int max)
{
	const uint8_t *p = data, *end = p + len;
	uint32_t n, i, ilen;

	if (!pl_rpc_batch_is(data, len))
		return PL_EPROTO;
	n = pl_be32_get(p + 2);
	p += 6;
	if (n == 0 || n > (uint32_t)max)
		return PL_EPROTO;
	for (i = 0; i < n; i++) {
		if (end - p < 4)
			return PL_EPROTO;
		ilen = pl_be32_get(p);
		p += 4;
		if ((size_t)(end - p) < ilen)
			return PL_EPROTO;
		items[i].data = p;
		items[i].len = ilen;
		p += ilen;
	}
	return p == end ? (int)n : PL_EPROTO;
}
