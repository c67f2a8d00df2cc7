/* metrics_test.c - exact Prometheus text for counters, gauges, histograms. */
#include <string.h>

#include "metrics.h"
#include "pl_test.h"

/* render the registry; *rest_r points after the registry part */
static void
render(struct pl_buf *b, const char **rest_r)
{
	pl_buf_init(b);
	pl_metrics_render(b);
	*rest_r = strstr(b->data, "# HELP process_resident_memory_bytes");
}

/* the registry part of the exposition (before the process metrics) */
static void
check_text(const char *want, const char *file, int line)
{
	struct pl_buf b;
	const char *rest;

	render(&b, &rest);
	if (rest == NULL || (size_t)(rest - b.data) != strlen(want) ||
	    strncmp(b.data, want, strlen(want)) != 0) {
		char w[4096];
		snprintf(w, sizeof(w), "exposition:\n%.*s\nwant:\n%s",
		    rest ? (int)(rest - b.data) : (int)b.len, b.data, want);
		pl_test_fail_(file, line, w);
	}
	pl_buf_fini(&b);
}
#define CHECK_TEXT(want) check_text((want), __FILE__, __LINE__)

PL_TEST(test_counter)
{
	struct pl_metric *c = pl_metrics_counter("parley_x_total", "Things seen.", NULL);

	pl_metrics_inc(c);
	pl_metrics_add(c, 2);
	PL_CHECK(pl_metrics_value(c) == 3);
	PL_CHECK(pl_metrics_counter("parley_x_total", "again", "") == c);
	CHECK_TEXT("# HELP parley_x_total Things seen.\n"
	    "# TYPE parley_x_total counter\n"
	    "parley_x_total 3\n");
	pl_metrics_reset_for_tests();
}

PL_TEST(test_labelled_gauges)
{
	struct pl_metric *a = pl_metrics_gauge("parley_conns", "Open connections.",
	    "kind=\"ws\"");
	struct pl_metric *o = pl_metrics_counter("parley_other_total", "Other.", NULL);
	struct pl_metric *b = pl_metrics_gauge("parley_conns", "Open connections.",
	    "kind=\"http\"");

	pl_metrics_set(a, 12);
	pl_metrics_set(b, 0.5);
	pl_metrics_set(pl_metrics_gauge("parley_big", "Big.", NULL), 8171520);
	pl_metrics_set(pl_metrics_gauge("parley_big", "Big.", "x=\"tiny\""), 1e-7);
	pl_metrics_set(a, 7);
	pl_metrics_inc(o);
	CHECK_TEXT("# HELP parley_conns Open connections.\n"
	    "# TYPE parley_conns gauge\n"
	    "parley_conns{kind=\"ws\"} 7\n"
	    "parley_conns{kind=\"http\"} 0.5\n"
	    "# HELP parley_other_total Other.\n"
	    "# TYPE parley_other_total counter\n"
	    "parley_other_total 1\n"
	    "# HELP parley_big Big.\n"
	    "# TYPE parley_big gauge\n"
	    "parley_big 8171520\n"
	    "parley_big{x=\"tiny\"} 1e-07\n");
	pl_metrics_reset_for_tests();
}

PL_TEST(test_histogram)
{
	static const double bounds[] = { 0.005, 0.1, 1 };
	struct pl_metric *h = pl_metrics_histogram("parley_lat_seconds",
	    "Latency.", "op=\"send\"", bounds, 3);

	pl_metrics_observe(h, 0.001);
	pl_metrics_observe(h, 0.005);	/* le is inclusive */
	pl_metrics_observe(h, 0.05);
	pl_metrics_observe(h, 3);
	PL_CHECK(pl_metrics_value(h) == 4);
	CHECK_TEXT("# HELP parley_lat_seconds Latency.\n"
	    "# TYPE parley_lat_seconds histogram\n"
	    "parley_lat_seconds_bucket{op=\"send\",le=\"0.005\"} 2\n"
	    "parley_lat_seconds_bucket{op=\"send\",le=\"0.1\"} 3\n"
	    "parley_lat_seconds_bucket{op=\"send\",le=\"1\"} 3\n"
	    "parley_lat_seconds_bucket{op=\"send\",le=\"+Inf\"} 4\n"
	    "parley_lat_seconds_sum{op=\"send\"} 3.056\n"
	    "parley_lat_seconds_count{op=\"send\"} 4\n");
	pl_metrics_reset_for_tests();
}

PL_TEST(test_histogram_unlabelled)
{
	static const double bounds[] = { 1 };
	struct pl_metric *h = pl_metrics_histogram("h", "H\nwith \\ newline.", NULL,
	    bounds, 1);

	pl_metrics_observe(h, 2);
	CHECK_TEXT("# HELP h H\\nwith \\\\ newline.\n"
	    "# TYPE h histogram\n"
	    "h_bucket{le=\"1\"} 0\n"
	    "h_bucket{le=\"+Inf\"} 1\n"
	    "h_sum 2\n"
	    "h_count 1\n");
	pl_metrics_reset_for_tests();
}

static double forty_two(void *arg) { return *(double *)arg; }

PL_TEST(test_gauge_fn)
{
	static double v = 42.25;

	pl_metrics_gauge_fn("parley_queue", "Queue depth.", "q=\"a\"", forty_two, &v);
	CHECK_TEXT("# HELP parley_queue Queue depth.\n"
	    "# TYPE parley_queue gauge\n"
	    "parley_queue{q=\"a\"} 42.25\n");
	pl_metrics_reset_for_tests();
}

PL_TEST(test_process_metrics)
{
	struct pl_buf b;
	const char *rest;
	double rss = 0, fds = 0, start = 0;

	render(&b, &rest);
	PL_CHECK(rest == b.data);
	PL_CHECK(sscanf(strstr(b.data, "\nprocess_resident_memory_bytes ") + 1,
	    "process_resident_memory_bytes %lf", &rss) == 1);
	PL_CHECK(sscanf(strstr(b.data, "\nprocess_open_fds ") + 1,
	    "process_open_fds %lf", &fds) == 1);
	PL_CHECK(sscanf(strstr(b.data, "\nprocess_start_time_seconds ") + 1,
	    "process_start_time_seconds %lf", &start) == 1);
	PL_CHECK(rss > 100000);
	PL_CHECK(fds >= 3 && fds < 1000);
	PL_CHECK(start > 1600000000 && start < 4000000000.0);
	PL_CHECK(strstr(b.data, "# TYPE process_open_fds gauge\n") != NULL);
	pl_buf_fini(&b);
}

PL_TEST(test_standard_buckets)
{
	PL_CHECK(PL_METRICS_LATENCY_S[0] == 0.00005);
	PL_CHECK(PL_METRICS_LATENCY_S[PL_METRICS_LATENCY_S_N - 1] == 10);
	PL_CHECK(PL_METRICS_SIZE[0] == 1);
	PL_CHECK(PL_METRICS_SIZE[PL_METRICS_SIZE_N - 1] == 10000);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_counter),
	PL_TEST_CASE(test_labelled_gauges),
	PL_TEST_CASE(test_histogram),
	PL_TEST_CASE(test_histogram_unlabelled),
	PL_TEST_CASE(test_gauge_fn),
	PL_TEST_CASE(test_process_metrics),
	PL_TEST_CASE(test_standard_buckets),
};
PL_TEST_MAIN(tests)
