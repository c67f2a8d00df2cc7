/* rpc_batch.h - the batch frame of lib/rpc.c: several requests (or their
 * replies, in the same order) in one nng message.
 *
 *   0x00 0xB7 | u32 count | count × (u32 length | bytes)     (big-endian)
 *
 * A protobuf message never starts with 0x00 (field numbers start at 1), so a
 * server tells a batch from a single request by its first byte, and a client
 * that sends one request at a time needs no change. */
#ifndef PL_RPC_BATCH_H
#define PL_RPC_BATCH_H
#include <stddef.h>
#include <stdint.h>

struct pl_buf;

struct pl_rpc_item {
	const void *data;
	size_t len;
};

/* The "too big" marker (rpc.h): 0x00 0xE1, two bytes, alone or as an item
 * of a batch frame, in place of a reply the peer could not take. */
#define PL_RPC_TOOBIG "\x00\xE1"
#define PL_RPC_TOOBIG_LEN 2
/* pl_rpc_toobig_is - 1 when data is the marker */
int pl_rpc_toobig_is(const void *data, size_t len);

/* pl_rpc_batch_is - 1 when data is a batch frame */
int pl_rpc_batch_is(const void *data, size_t len);
/* pl_rpc_batch_begin - start a frame of count items in b (reset first) */
void pl_rpc_batch_begin(struct pl_buf *b, uint32_t count);
void pl_rpc_batch_add(struct pl_buf *b, const void *data, size_t len);
/* pl_rpc_batch_parse - the items of a frame (pointing into data): their
 * number, or PL_EPROTO when the frame is malformed or has more than max */
int pl_rpc_batch_parse(const void *data, size_t len, struct pl_rpc_item *items,
    int max);

#endif
