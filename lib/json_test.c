/* json_test.c - pl_json_str, pl_json_int, pl_json_print. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

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

/* client numbers into int64 without undefined conversions (run under
 * UBSan: a double beyond int64 cast to it is UB, which -fsanitize=
 * float-cast-overflow reports) */
PL_TEST(test_int_in)
{
	static const struct {
		const char *json;
		int rv;
		int64_t v;
	} cases[] = {
		{ "0", 0, 0 }, { "41", 0, 41 }, { "-1", 0, -1 },
		{ "9007199254740991", 0, PL_JSON_INT_SAFE },
		{ "-9007199254740991", 0, -PL_JSON_INT_SAFE },
		{ "9007199254740992", PL_EINVAL, 0 }, { "1e19", PL_EINVAL, 0 },
		{ "1e300", PL_EINVAL, 0 }, { "-1e300", PL_EINVAL, 0 },
		{ "1e999", PL_EINVAL, 0 },	/* cJSON: +inf */
		{ "-1e999", PL_EINVAL, 0 }, { "41.5", PL_EINVAL, 0 },
		{ "\"41\"", PL_EINVAL, 0 }, { "null", PL_EINVAL, 0 },
	};
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *n = cJSON_Parse(cases[i].json);
		int64_t v = 0;

		PL_CHECK(n != NULL);
		PL_CHECK_EQ_INT(pl_json_int_in(n, -PL_JSON_INT_SAFE, PL_JSON_INT_SAFE, &v),
		    cases[i].rv);
		PL_CHECK_EQ_INT(v, cases[i].v);
		cJSON_Delete(n);
	}
	{
		/* the whole int64 range: 2^63 itself is refused */
		cJSON *n = cJSON_Parse("9223372036854775808");
		int64_t v = 0;

		PL_CHECK_EQ_INT(pl_json_int_in(n, INT64_MIN, INT64_MAX, &v), PL_EINVAL);
		cJSON_Delete(n);
		n = cJSON_Parse("-9223372036854775808");
		PL_CHECK_EQ_INT(pl_json_int_in(n, INT64_MIN, INT64_MAX, &v), 0);
		PL_CHECK(v == INT64_MIN);
		cJSON_Delete(n);
	}
}

/* one value and nothing after it: cJSON alone took "{}{}" as "{}" */
PL_TEST(test_parse_whole)
{
	static const struct { const char *s; int rv; } cases[] = {
		{ "{}", 0 }, { " {\"a\":1} \r\n\t", 0 }, { "[1]", 0 }, { "7", 0 },
		{ "{}{}", PL_EINVAL }, { "{} x", PL_EINVAL }, { "{", PL_EINVAL },
		{ "", PL_EINVAL }, { "{}\0", PL_EINVAL },
	};
	cJSON *o;
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = i == 8 ? 3 : strlen(cases[i].s);	/* 8: the NUL counts */

		PL_CHECK_EQ_INT(pl_json_parse(cases[i].s, n, &o), cases[i].rv);
		PL_CHECK((o != NULL) == (cases[i].rv == 0));
		cJSON_Delete(o);
	}
	/* nesting beyond cJSON's limit is refused, not recursed into */
	{
		size_t d = 10000, k;
		char *s = malloc(2 * d);

		for (k = 0; k < d; k++) {
			s[k] = '[';
			s[2 * d - 1 - k] = ']';
		}
		PL_CHECK_EQ_INT(pl_json_parse(s, 2 * d, &o), PL_EINVAL);
		free(s);
	}
}

PL_TEST(test_has_nul)
{
	PL_CHECK(pl_json_has_nul("\"a\\u0000b\"", 10));
	PL_CHECK(!pl_json_has_nul("\"a\\\\u0000b\"", 11));	/* \\ then u0000 */
	PL_CHECK(!pl_json_has_nul("\"\\u0001\"", 8));
	PL_CHECK(!pl_json_has_nul("\"\\u000", 7));
	PL_CHECK(pl_json_has_nul("{\"k\\u0000\":1}", 13));
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_members),
	PL_TEST_CASE(test_print),
	PL_TEST_CASE(test_int_in),
	PL_TEST_CASE(test_parse_whole),
	PL_TEST_CASE(test_has_nul),
};
PL_TEST_MAIN(tests)
