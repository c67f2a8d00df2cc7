/* utf8_test.c - well-formed and ill-formed UTF-8, table-driven. */
#include <string.h>

#include "pl_test.h"
#include "utf8.h"

static const struct {
	const char *s;
	size_t n;		/* 0: strlen */
	int valid;
} cases[] = {
	{ "", 0, 1 },
	{ "plain ascii", 0, 1 },
	{ "h\xc3\xa9llo \xe2\x82\xac", 0, 1 },		/* é € */
	{ "\xf0\x9f\x98\x80", 0, 1 },			/* U+1F600 */
	{ "\xed\x9f\xbf", 0, 1 },			/* U+D7FF */
	{ "\xee\x80\x80", 0, 1 },			/* U+E000 */
	{ "\xf4\x8f\xbf\xbf", 0, 1 },			/* U+10FFFF */
	{ "\xef\xbb\xbf", 0, 1 },			/* BOM: well-formed */
	{ "\xff", 0, 0 },
	{ "abc\xfe", 0, 0 },
	{ "\x80", 0, 0 },				/* lone continuation */
	{ "\xc3", 0, 0 },				/* truncated 2-byte */
	{ "\xe2\x82", 0, 0 },				/* truncated 3-byte */
	{ "\xf0\x9f\x98", 0, 0 },			/* truncated 4-byte */
	{ "\xc3\x28", 0, 0 },				/* bad continuation */
	{ "\xc0\xaf", 0, 0 },				/* overlong '/' */
	{ "\xc1\xbf", 0, 0 },
	{ "\xe0\x80\xaf", 0, 0 },			/* overlong 3-byte */
	{ "\xe0\x9f\xbf", 0, 0 },
	{ "\xf0\x80\x80\xaf", 0, 0 },			/* overlong 4-byte */
	{ "\xf0\x8f\xbf\xbf", 0, 0 },
	{ "\xed\xa0\x80", 0, 0 },			/* U+D800 (CESU) */
	{ "\xed\xbf\xbf", 0, 0 },			/* U+DFFF */
	{ "\xf4\x90\x80\x80", 0, 0 },			/* U+110000 */
	{ "\xf5\x80\x80\x80", 0, 0 },
	{ "\xf8\x88\x80\x80\x80", 0, 0 },		/* 5-byte form */
	{ "a\0b", 3, 0 },				/* NUL inside */
};

PL_TEST(test_table)
{
	size_t i, n;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		n = cases[i].n ? cases[i].n : strlen(cases[i].s);
		if (pl_utf8_valid(cases[i].s, n) != cases[i].valid)
			fprintf(stderr, "case %zu\n", i);
		PL_CHECK_EQ_INT(pl_utf8_valid(cases[i].s, n), cases[i].valid);
		if (cases[i].n == 0)
			PL_CHECK_EQ_INT(pl_utf8_valid_str(cases[i].s), cases[i].valid);
	}
	PL_CHECK_EQ_INT(pl_utf8_valid_str(NULL), 0);
}

PL_TEST(test_len)
{
	PL_CHECK_EQ_INT(pl_utf8_len(""), 0);
	PL_CHECK_EQ_INT(pl_utf8_len("abc"), 3);
	PL_CHECK_EQ_INT(pl_utf8_len("h\xc3\xa9llo \xe2\x82\xac"), 7);
	PL_CHECK_EQ_INT(pl_utf8_len("\xf0\x9f\x98\x80!"), 2);
}

PL_TEST(test_every_two_byte_lead)
{
	char s[3] = { 0, (char)0x80, 0 };
	int c, ok = 0;

	/* exactly C2..DF start a 2-byte sequence */
	for (c = 0x80; c <= 0xFF; c++) {
		s[0] = (char)c;
		ok += pl_utf8_valid(s, 2);
	}
	PL_CHECK_EQ_INT(ok, 0xDF - 0xC2 + 1);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_table),
	PL_TEST_CASE(test_len),
	PL_TEST_CASE(test_every_two_byte_lead),
};
PL_TEST_MAIN(tests)
