/* rpc_batch_test.c - the batch frame: round trip, empty items, and every
 * malformed frame refused. */
#include <string.h>

#include "buf.h"
#include "err.h"
#include "pl_test.h"
#include "rpc_batch.h"

PL_TEST(batch_round_trip)
{
	struct pl_rpc_item it[4];
	struct pl_buf b;

	pl_buf_init(&b);
	pl_rpc_batch_begin(&b, 3);
	pl_rpc_batch_add(&b, "\x0a\x01x", 3);
	pl_rpc_batch_add(&b, "", 0);
	pl_rpc_batch_add(&b, "hello", 5);
	PL_CHECK(pl_rpc_batch_is(b.data, b.len));
	PL_CHECK(!pl_rpc_batch_is("\x0a\x01x", 3));
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), 3);
	PL_CHECK(it[0].len == 3 && memcmp(it[0].data, "\x0a\x01x", 3) == 0);
	PL_CHECK_EQ_INT(it[1].len, 0);
	PL_CHECK(it[2].len == 5 && memcmp(it[2].data, "hello", 5) == 0);
	/* more items than the caller takes */
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 2), PL_EPROTO);
	pl_buf_fini(&b);
}

PL_TEST(batch_malformed)
{
	struct pl_rpc_item it[4];
	struct pl_buf b;

	pl_buf_init(&b);
	pl_rpc_batch_begin(&b, 2);
	pl_rpc_batch_add(&b, "abc", 3);
	/* one item short */
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), PL_EPROTO);
	pl_rpc_batch_add(&b, "d", 1);
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), 2);
	/* cut inside an item, trailing bytes, zero count */
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len - 1, it, 4), PL_EPROTO);
	pl_buf_append(&b, "z", 1);
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), PL_EPROTO);
	pl_rpc_batch_begin(&b, 0);
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), PL_EPROTO);
	/* a length far beyond the frame */
	pl_rpc_batch_begin(&b, 1);
	pl_buf_append(&b, "\xff\xff\xff\xf0", 4);
	PL_CHECK_EQ_INT(pl_rpc_batch_parse(b.data, b.len, it, 4), PL_EPROTO);
	pl_buf_fini(&b);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(batch_round_trip),
	PL_TEST_CASE(batch_malformed),
};
PL_TEST_MAIN(tests)
