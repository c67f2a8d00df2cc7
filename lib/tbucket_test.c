/* tbucket_test.c - token bucket with explicit now_us. */
#include "pl_test.h"
#include "tbucket.h"

PL_TEST(test_burst_then_refill)
{
	struct pl_tbucket b;
	int i, ok = 0;

	pl_tbucket_init(&b, 10, 5, 1000000);	/* 10/s, burst 5 */
	for (i = 0; i < 8; i++)
		ok += pl_tbucket_take(&b, 1, 1000000);
	PL_CHECK_EQ_INT(ok, 5);
	PL_CHECK_EQ_INT(pl_tbucket_wait_us(&b, 1, 1000000), 100000);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 1050000), 0);	/* half a token */
	PL_CHECK_EQ_INT(pl_tbucket_wait_us(&b, 1, 1050000), 50000);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 1100000), 1);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 1100000), 0);
}

PL_TEST(test_cap_at_burst)
{
	struct pl_tbucket b;
	int i, ok = 0;

	pl_tbucket_init(&b, 100, 3, 0);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 3, 0), 1);
	/* an hour idle refills only up to burst */
	for (i = 0; i < 10; i++)
		ok += pl_tbucket_take(&b, 1, 3600000000ULL);
	PL_CHECK_EQ_INT(ok, 3);
	PL_CHECK_EQ_INT(pl_tbucket_wait_us(&b, 0, 3600000000ULL), 0);
}

PL_TEST(test_time_backwards)
{
	struct pl_tbucket b;

	pl_tbucket_init(&b, 1, 1, 5000000);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 5000000), 1);
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 1000000), 0);	/* clock went back */
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 1, 6000000), 1);
}

PL_TEST(test_never)
{
	struct pl_tbucket b;

	pl_tbucket_init(&b, 1, 2, 0);
	PL_CHECK(pl_tbucket_wait_us(&b, 3, 0) == UINT64_MAX);	/* over burst */
	PL_CHECK_EQ_INT(pl_tbucket_take(&b, 0.5, 0), 1);
	PL_CHECK_EQ_INT(pl_tbucket_wait_us(&b, 2, 0), 500000);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_burst_then_refill),
	PL_TEST_CASE(test_cap_at_burst),
	PL_TEST_CASE(test_time_backwards),
	PL_TEST_CASE(test_never),
};
PL_TEST_MAIN(tests)
