/* buf_test.c - pl_buf growth, printf, JSON escaping; mem and err helpers. */
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "mem.h"
#include "pl_test.h"

PL_TEST(test_append_grow)
{
	struct pl_buf b;
	int i;

	pl_buf_init(&b);
	PL_CHECK(b.data == NULL);
	for (i = 0; i < 1000; i++)
		pl_buf_puts(&b, "ab");
	PL_CHECK_EQ_INT(b.len, 2000);
	PL_CHECK_EQ_INT(b.data[2000], 0);
	PL_CHECK(b.cap > b.len);
	pl_buf_reset(&b);
	PL_CHECK_EQ_INT(b.len, 0);
	PL_CHECK_EQ_STR(b.data, "");
	pl_buf_fini(&b);
	PL_CHECK(b.data == NULL);
}

PL_TEST(test_printf_long)
{
	struct pl_buf b;
	char big[300];

	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	pl_buf_init(&b);
	pl_buf_printf(&b, "n=%d ", 42);
	pl_buf_printf(&b, "%s", big);
	PL_CHECK_EQ_INT(b.len, 5 + 299);
	PL_CHECK(strncmp(b.data, "n=42 xxx", 8) == 0);
	PL_CHECK_EQ_INT(strlen(b.data), b.len);
	pl_buf_fini(&b);
}

static const struct {
	const char *in, *out;
} json_cases[] = {
	{ "", "\"\"" },
	{ "plain", "\"plain\"" },
	{ "a\"b", "\"a\\\"b\"" },
	{ "back\\slash", "\"back\\\\slash\"" },
	{ "nl\nret\rtab\t", "\"nl\\nret\\rtab\\t\"" },
	{ "\b\f", "\"\\b\\f\"" },
	{ "\x01\x1f", "\"\\u0001\\u001f\"" },
	{ "caf\xc3\xa9 \xe2\x9c\x93", "\"caf\xc3\xa9 \xe2\x9c\x93\"" },
	{ "</script>", "\"</script>\"" },
	{ "\"edges\"", "\"\\\"edges\\\"\"" },
	{ "a\n\n\x7f\\", "\"a\\n\\n\x7f\\\\\"" },
};

PL_TEST(test_json_escape)
{
	struct pl_buf b;
	size_t i;

	pl_buf_init(&b);
	for (i = 0; i < sizeof(json_cases) / sizeof(json_cases[0]); i++) {
		pl_buf_reset(&b);
		pl_buf_json_str(&b, json_cases[i].in);
		PL_CHECK_EQ_STR(b.data, json_cases[i].out);
	}
	pl_buf_fini(&b);
}

PL_TEST(test_big_endian)
{
	static const uint8_t want[] = { 1, 2, 3, 4, 0, 0, 0, 0, 0xff, 0xfe, 0xfd, 0xfc };
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_be32(&b, 0x01020304u);
	pl_buf_be64(&b, 0xfffefdfcu);
	PL_CHECK_EQ_INT(b.len, sizeof(want));
	PL_CHECK(memcmp(b.data, want, sizeof(want)) == 0);
	pl_buf_fini(&b);
}

PL_TEST(test_steal)
{
	struct pl_buf b;
	size_t len = 99;
	char *s;

	pl_buf_init(&b);
	PL_CHECK(pl_buf_steal(&b, &len) == NULL);
	PL_CHECK_EQ_INT(len, 0);
	pl_buf_append(&b, "abc", 3);
	s = pl_buf_steal(&b, &len);
	PL_CHECK_EQ_STR(s, "abc");
	PL_CHECK_EQ_INT(len, 3);
	PL_CHECK(b.data == NULL && b.len == 0);
	free(s);
}

PL_TEST(test_mem)
{
	char *s = pl_strndup("hello", 3), *t = pl_strdup("x");

	PL_CHECK_EQ_STR(s, "hel");
	PL_CHECK_EQ_STR(t, "x");
	pl_free(&s);
	PL_CHECK(s == NULL);
	free(t);
}

PL_TEST(test_err_str)
{
	PL_CHECK_EQ_STR(pl_err_str(0), "ok");
	PL_CHECK_EQ_STR(pl_err_str(PL_EINVAL), "invalid");
	PL_CHECK_EQ_STR(pl_err_str(PL_ETIMEDOUT), "timed_out");
	PL_CHECK_EQ_STR(pl_err_str(PL_EUNAVAIL), "unavailable");
	PL_CHECK_EQ_STR(pl_err_str(-2), "No such file or directory");
	PL_CHECK_EQ_STR(pl_err_str(-5000), "unknown");
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_append_grow),
	PL_TEST_CASE(test_printf_long),
	PL_TEST_CASE(test_json_escape),
	PL_TEST_CASE(test_big_endian),
	PL_TEST_CASE(test_steal),
	PL_TEST_CASE(test_mem),
	PL_TEST_CASE(test_err_str),
};
PL_TEST_MAIN(tests)
