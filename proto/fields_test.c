/* fields_test.c - the bounds of client-supplied message fields. */
#include <string.h>

#include "fields.h"
#include "pl_test.h"

PL_TEST(test_ts_canonical)
{
	static const struct {
		const char *ts;
		int ok;
	} cases[] = {
		{ "1700000000.000001", 1 },
		{ "0.000000", 1 },
		{ "999999999999.999999", 1 },	/* 12 digits of seconds */
		{ "1000000000000.000000", 0 },	/* 13 */
		{ "01700000000.000001", 0 },	/* leading zero */
		{ "00.000000", 0 },
		{ "1700000000.5", 0 },		/* short fraction */
		{ "1700000000.0000010", 0 },	/* long fraction */
		{ "1700000000", 0 },
		{ "1700000000.", 0 },
		{ ".000001", 0 },
		{ "1700000000.00000x", 0 },
		{ "-1.000000", 0 },
		{ " 1.000000", 0 },
		{ "1.000000 ", 0 },
		{ "", 0 },
	};
	char zeros[5000];
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		PL_CHECK_EQ_INT(pl_fields_ts_canonical(cases[i].ts), cases[i].ok);
	PL_CHECK_EQ_INT(pl_fields_ts_canonical(NULL), 0);
	/* thousands of leading zeros: refused without reading them all */
	memset(zeros, '0', sizeof(zeros));
	strcpy(zeros + sizeof(zeros) - 20, "1700000000.000001");
	PL_CHECK_EQ_INT(pl_fields_ts_canonical(zeros), 0);
}

PL_TEST(test_message_fields)
{
	char cmid[PL_FIELDS_CMID_MAX + 2];

	PL_CHECK(pl_fields_message_error("hi", NULL, NULL) == NULL);
	PL_CHECK(pl_fields_message_error("h\xc3\xa9", "", "") == NULL);
	PL_CHECK(pl_fields_message_error("hi", "1700000000.000001",
	    "0b7a1e2c-3d4f-4a5b-8c9d-0e1f2a3b4c5d") == NULL);
	PL_CHECK_EQ_STR(pl_fields_message_error("bad \xff", NULL, NULL), "invalid_arguments");
	PL_CHECK_EQ_STR(pl_fields_message_error("\xed\xa0\x80", NULL, NULL),
	    "invalid_arguments");
	PL_CHECK_EQ_STR(pl_fields_message_error("hi", "0001700000000.000001", NULL),
	    "invalid_thread_ts");
	PL_CHECK_EQ_STR(pl_fields_message_error("hi", "not-a-ts", NULL), "invalid_thread_ts");
	memset(cmid, 'a', sizeof(cmid) - 1);
	cmid[PL_FIELDS_CMID_MAX] = '\0';
	PL_CHECK(pl_fields_message_error("hi", NULL, cmid) == NULL);	/* 64 bytes */
	cmid[PL_FIELDS_CMID_MAX] = 'a';
	cmid[PL_FIELDS_CMID_MAX + 1] = '\0';
	PL_CHECK_EQ_STR(pl_fields_message_error("hi", NULL, cmid), "invalid_arguments");
	PL_CHECK_EQ_STR(pl_fields_message_error("hi", NULL, "id\xc0\xaf"), "invalid_arguments");
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_ts_canonical),
	PL_TEST_CASE(test_message_fields),
};
PL_TEST_MAIN(tests)
