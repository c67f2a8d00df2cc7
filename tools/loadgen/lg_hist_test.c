/* lg_hist_test.c - percentiles of the log-bucketed histogram on known data */
#include "lg_hist.h"
#include "pl_test.h"

#include <stdlib.h>

/* near - |a-b| within rel of b */
static int
near(uint64_t a, uint64_t b, double rel)
{
	double d = (double)a - (double)b;

	return (d < 0 ? -d : d) <= rel * (double)b + 1;
}

PL_TEST(test_exact_small)
{
	static struct lg_hist h;

	lg_hist_init(&h);
	for (uint64_t v = 1; v <= 50; v++)
		lg_hist_add(&h, v);
	PL_CHECK_EQ_INT(lg_hist_pct(&h, 50), 25);
	PL_CHECK_EQ_INT(lg_hist_pct(&h, 100), 50);
	PL_CHECK_EQ_INT(lg_hist_pct(&h, 0), 1);
	PL_CHECK_EQ_INT(h.count, 50);
}

PL_TEST(test_uniform_1_to_100000)
{
	static struct lg_hist h;

	lg_hist_init(&h);
	for (uint64_t v = 1; v <= 100000; v++)
		lg_hist_add(&h, v * 1000);
	PL_CHECK(near(lg_hist_pct(&h, 50), 50000000, 0.035));
	PL_CHECK(near(lg_hist_pct(&h, 90), 90000000, 0.035));
	PL_CHECK(near(lg_hist_pct(&h, 99), 99000000, 0.035));
	PL_CHECK(near(lg_hist_pct(&h, 99.9), 99900000, 0.035));
	PL_CHECK_EQ_INT(lg_hist_pct(&h, 100), 100000000);
	PL_CHECK_EQ_INT(h.max, 100000000);
}

PL_TEST(test_outlier_tail)
{
	static struct lg_hist h;

	lg_hist_init(&h);
	for (int i = 0; i < 990; i++)
		lg_hist_add(&h, 1000000);          /* 1 ms */
	for (int i = 0; i < 10; i++)
		lg_hist_add(&h, 50000000);         /* 50 ms */
	PL_CHECK(near(lg_hist_pct(&h, 50), 1000000, 0.035));
	PL_CHECK(near(lg_hist_pct(&h, 99), 1000000, 0.035));
	PL_CHECK(near(lg_hist_pct(&h, 99.9), 50000000, 0.035));
}

PL_TEST(test_index_roundtrip)
{
	for (uint64_t v = 1; v < (1ull << 40); v = v * 3 + 1) {
		unsigned i = lg_hist_index(v);

		PL_CHECK(i < LG_HIST_N);
		PL_CHECK(lg_hist_low(i) <= v);
		PL_CHECK(i + 1 >= LG_HIST_N || lg_hist_low(i + 1) > v);
	}
	PL_CHECK(lg_hist_index(UINT64_MAX) < LG_HIST_N);
}

PL_TEST(test_merge_and_json)
{
	static struct lg_hist a, b, c;
	char buf[4096];
	int n;

	lg_hist_init(&a);
	lg_hist_init(&b);
	lg_hist_init(&c);
	for (int i = 0; i < 100; i++)
		lg_hist_add(&a, 2000);
	for (int i = 0; i < 100; i++)
		lg_hist_add(&b, 8000);
	lg_hist_merge(&a, &b);
	PL_CHECK_EQ_INT(a.count, 200);
	PL_CHECK(near(lg_hist_pct(&a, 25), 2000, 0.035));
	PL_CHECK(near(lg_hist_pct(&a, 75), 8000, 0.035));
	n = lg_hist_json(&a, buf, sizeof(buf));
	PL_CHECK(n > 0);
	PL_CHECK(strstr(buf, "\"n\":200") != NULL);
	lg_hist_add_bucket(&c, lg_hist_index(2000), 100);
	PL_CHECK(near(lg_hist_pct(&c, 50), 2000, 0.035));
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_exact_small),
	PL_TEST_CASE(test_uniform_1_to_100000),
	PL_TEST_CASE(test_outlier_tail),
	PL_TEST_CASE(test_index_roundtrip),
	PL_TEST_CASE(test_merge_and_json),
};
PL_TEST_MAIN(tests)
