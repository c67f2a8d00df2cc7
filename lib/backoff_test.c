/* backoff_test.c - full-jitter bounds, cap, spread, reset, pl_jitter_ms. */
#include "backoff.h"
#include "pl_test.h"

PL_TEST(test_bounds)
{
	struct pl_backoff b;
	unsigned a;
	int i;

	pl_backoff_init(&b, 100, 5000, 12345);
	for (a = 0; a < 70; a++) {
		uint64_t ceil = a < 6 ? 100ULL << a : 5000;
		uint64_t d = pl_backoff_next(&b);
		if (d > ceil)
			PL_CHECK_EQ_INT(d, ceil);
	}
	/* after many attempts the delay stays within the cap and does not overflow */
	for (i = 0; i < 1000; i++)
		PL_CHECK(pl_backoff_next(&b) <= 5000);
	pl_backoff_reset(&b);
	PL_CHECK_EQ_INT(b.attempt, 0);
	for (i = 0; i < 1000; i++) {
		pl_backoff_reset(&b);
		PL_CHECK(pl_backoff_next(&b) <= 100);
	}
}

PL_TEST(test_spread)
{
	struct pl_backoff b;
	uint64_t lo = UINT64_MAX, hi = 0, d;
	int i;

	pl_backoff_init(&b, 1000, 1000, 0);	/* seed 0: from getrandom */
	PL_CHECK(b.rng != 0);
	for (i = 0; i < 2000; i++) {
		d = pl_backoff_next(&b);
		lo = d < lo ? d : lo;
		hi = d > hi ? d : hi;
	}
	/* full jitter: the whole [0, 1000] range is used */
	PL_CHECK(lo < 50);
	PL_CHECK(hi > 950 && hi <= 1000);
}

PL_TEST(test_same_seed_same_sequence)
{
	struct pl_backoff a, b;
	int i;

	pl_backoff_init(&a, 10, 10000, 99);
	pl_backoff_init(&b, 10, 10000, 99);
	for (i = 0; i < 20; i++)
		PL_CHECK_EQ_INT(pl_backoff_next(&a), pl_backoff_next(&b));
}

PL_TEST(test_jitter)
{
	int i, seen_lo = 0, seen_hi = 0;

	for (i = 0; i < 5000; i++) {
		uint64_t v = pl_jitter_ms(10, 20);
		PL_CHECK(v >= 10 && v <= 20);
		seen_lo |= v == 10;
		seen_hi |= v == 20;
	}
	PL_CHECK(seen_lo && seen_hi);
	PL_CHECK_EQ_INT(pl_jitter_ms(7, 7), 7);
	PL_CHECK_EQ_INT(pl_jitter_ms(9, 3), 9);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_bounds),
	PL_TEST_CASE(test_spread),
	PL_TEST_CASE(test_same_seed_same_sequence),
	PL_TEST_CASE(test_jitter),
};
PL_TEST_MAIN(tests)
