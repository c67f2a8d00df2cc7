/* pgbin_test.c - binary array parameters: header, elements, empty arrays.
 * (The round trip through PostgreSQL is every persistence integration test.) */
#include <string.h>

#include "pgbin.h"
#include "pl_test.h"

static const uint8_t *
bytes(const struct pl_pgbin *a)
{
	return (const uint8_t *)a->b.data;
}

PL_TEST(test_int_and_text_arrays)
{
	static const uint8_t want_int4[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 4, 0xff, 0xff, 0xff, 0xfe,
	};
	static const uint8_t want_text[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 25, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 2, 'h', 'i', 0, 0, 0, 0,
	};
	struct pl_pgbin a;

	pl_buf_init(&a.b);
	pl_pgbin_begin(&a, PL_OID_INT4);
	pl_pgbin_int4(&a, 7);
	pl_pgbin_int4(&a, -2);
	pl_pgbin_end(&a);
	PL_CHECK_EQ_INT(a.b.len, sizeof(want_int4));
	PL_CHECK(memcmp(bytes(&a), want_int4, sizeof(want_int4)) == 0);
	pl_pgbin_begin(&a, PL_OID_TEXT);
	pl_pgbin_text(&a, "hi");
	pl_pgbin_text(&a, "");
	pl_pgbin_end(&a);
	PL_CHECK_EQ_INT(a.b.len, sizeof(want_text));
	PL_CHECK(memcmp(bytes(&a), want_text, sizeof(want_text)) == 0);
	pl_pgbin_begin(&a, PL_OID_INT8);
	pl_pgbin_int8(&a, 0x0102030405060708LL);
	pl_pgbin_end(&a);
	PL_CHECK_EQ_INT(a.b.len, 20 + 4 + 8);
	PL_CHECK(bytes(&a)[24] == 1 && bytes(&a)[31] == 8);
	pl_buf_fini(&a.b);
}

PL_TEST(test_empty_array_has_no_dimension)
{
	static const uint8_t want[] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 17 };
	struct pl_pgbin a;

	pl_buf_init(&a.b);
	pl_pgbin_begin(&a, PL_OID_BYTEA);
	pl_pgbin_end(&a);
	PL_CHECK_EQ_INT(a.b.len, sizeof(want));
	PL_CHECK(memcmp(bytes(&a), want, sizeof(want)) == 0);
	pl_buf_fini(&a.b);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_int_and_text_arrays),
	PL_TEST_CASE(test_empty_array_has_no_dimension),
};
PL_TEST_MAIN(tests)
