/* pgarr_test.c - array literals and their parsing (the string map:
 * lib/strmap_test.c). */
#include <stdio.h>
#include <stdlib.h>

#include "pgarr.h"
#include "pl_test.h"

PL_TEST(test_literals)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_pgarr_begin(&b);
	pl_pgarr_text(&b, "a");
	pl_pgarr_text(&b, "b \"q\" \\ ,{}");
	pl_pgarr_text(&b, "");
	pl_pgarr_end(&b);
	PL_CHECK_EQ_STR(b.data, "{\"a\",\"b \\\"q\\\" \\\\ ,{}\",\"\"}");
	pl_pgarr_begin(&b);
	pl_pgarr_end(&b);
	PL_CHECK_EQ_STR(b.data, "{}");
	pl_buf_fini(&b);
}

PL_TEST(test_split)
{
	char **v;
	int n;

	v = pl_pgarr_split("{U1,\"a b\",\"q\\\"x\"}", &n);
	PL_CHECK_EQ_INT(n, 3);
	if (n == 3) {
		PL_CHECK_EQ_STR(v[0], "U1");
		PL_CHECK_EQ_STR(v[1], "a b");
		PL_CHECK_EQ_STR(v[2], "q\"x");
	}
	pl_pgarr_free(&v, n);
	v = pl_pgarr_split("{}", &n);
	PL_CHECK_EQ_INT(n, 0);
	pl_pgarr_free(&v, n);
	v = pl_pgarr_split("", &n);
	PL_CHECK(v == NULL);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_literals),
	PL_TEST_CASE(test_split),
};
PL_TEST_MAIN(tests)
