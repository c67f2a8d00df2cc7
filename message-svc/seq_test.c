/* seq_test.c - ts assignment and parsing, text length. */
#include "err.h"
#include "message_svc.h"
#include "ms_pure.h"
#include "pl_test.h"

PL_TEST(test_next_ts)
{
	/* the clock moves on: take it; it stands still or steps back: last + 1 */
	PL_CHECK_EQ_INT(ms_seq_next_ts_us(100, 200), 200);
	PL_CHECK_EQ_INT(ms_seq_next_ts_us(200, 200), 201);
	PL_CHECK_EQ_INT(ms_seq_next_ts_us(500, 200), 501);
	PL_CHECK_EQ_INT(ms_seq_next_ts_us(0, 1), 1);
}

PL_TEST(test_format_parse)
{
	char ts[MS_TS_MAX];
	uint64_t us = 0;

	ms_seq_ts_format(1700000000000001ULL, ts);
	PL_CHECK_EQ_STR(ts, "1700000000.000001");
	PL_CHECK_EQ_INT(ms_seq_ts_parse(ts, &us), 0);
	PL_CHECK_EQ_INT(us, 1700000000000001ULL);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("12.5", &us), 0);
	PL_CHECK_EQ_INT(us, 12500000);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("12", &us), 0);
	PL_CHECK_EQ_INT(us, 12000000);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("", &us), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("1.1234567", &us), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("1.x", &us), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("-1", &us), PL_EINVAL);
	/* leading zeros do not grow the value: bounded by length instead */
	PL_CHECK_EQ_INT(ms_seq_ts_parse("00000000000000000000001.5", &us), 0);
	PL_CHECK_EQ_INT(ms_seq_ts_parse("0000000000000000000000000000001.5", &us), PL_EINVAL);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_next_ts),
	PL_TEST_CASE(test_format_parse),
};
PL_TEST_MAIN(tests)
