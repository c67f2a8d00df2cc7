/* json_test.c - pl_json_str, pl_json_int, pl_json_print. */
#include <stdlib.h>

#include "err.h"
#include "json.h"
#include "pl_test.h"

static const struct {
	const char *key;
	int rv;
	int64_t v;
} ints[] = {
	{ "n", 0, 42 }, { "neg", 0, -7 }, { "big", 0, 1800000000000LL },
	{ "frac", PL_EINVAL, 0 }, { "s", PL_EINVAL, 0 }, { "missing", PL_EINVAL, 0 },
	{ "huge", PL_EINVAL, 0 },
};

PL_TEST(test_members)
{
	cJSON *o = cJSON_Parse("{\"s\":\"hi\",\"n\":42,\"neg\":-7,\"frac\":1.5,"
	    "\"big\":1800000000000,\"huge\":1e30}");
	size_t i;

	PL_CHECK_EQ_STR(pl_json_str(o, "s"), "hi");
	PL_CHECK(pl_json_str(o, "n") == NULL);
	PL_CHECK(pl_json_str(o, "zz") == NULL);
	for (i = 0; i < sizeof(ints) / sizeof(ints[0]); i++) {
		int64_t v = 0;
		PL_CHECK_EQ_INT(pl_json_int(o, ints[i].key, &v), ints[i].rv);
		PL_CHECK_EQ_INT(v, ints[i].v);
	}
	cJSON_Delete(o);
}

PL_TEST(test_print)
{
	cJSON *o = cJSON_Parse("{ \"a\" : [1, 2], \"b\": \"x\\\"y\" }");
	char *s = pl_json_print(o);

	PL_CHECK_EQ_STR(s, "{\"a\":[1,2],\"b\":\"x\\\"y\"}");
	free(s);
	cJSON_Delete(o);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_members),
	PL_TEST_CASE(test_print),
};
PL_TEST_MAIN(tests)
