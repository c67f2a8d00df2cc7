/*
 * pl_test.h - a tiny header-only unit test harness.
 *
 *   #include "pl_test.h"
 *
 *   PL_TEST(test_add) { PL_CHECK_EQ_INT(1 + 1, 2); }
 *
 *   static const struct pl_test_case tests[] = {
 *       PL_TEST_CASE(test_add),
 *   };
 *   PL_TEST_MAIN(tests)
 *
 * Checks record a failure (file:line and the values) and keep going. The
 * generated main() runs every case, prints "FAIL <test>: <file:line> <what>"
 * per failed check and ends with exactly "<argv0 basename>: N passed, N failed"
 * (counting test cases); the exit status is 1 if any case failed.
 *
 * Scaffolding for tests that listen or run a loop, in one place:
 * pl_test_free_port(), pl_test_run_until(base, &flag, want, ms) and
 * pl_test_run_until_fn(base, cond, arg, ms) (the loop in 10 ms slices until
 * the condition holds or the deadline passes; the caller checks the
 * condition after).
 */
#ifndef PL_TEST_H
#define PL_TEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <event2/event.h>

struct pl_test_case {
	const char *name;
	void (*fn)(void);
};

/* per-process state: the running case and its failure count */
static const char *pl_test_current_ = "?";
static int pl_test_failures_;

#define PL_TEST(name) static void name(void)
#define PL_TEST_CASE(name) { #name, name }

/* pl_test_fail_ - report one failed check of the running case */
static inline void
pl_test_fail_(const char *file, int line, const char *what)
{
	printf("FAIL %s: %s:%d %s\n", pl_test_current_, file, line, what);
	fflush(stdout);
	pl_test_failures_++;
}

#define PL_CHECK(cond) do { \
	if (!(cond)) \
		pl_test_fail_(__FILE__, __LINE__, "check failed: " #cond); \
} while (0)

/* pl_test_fail_int_ - report two integers that differ */
static inline void
pl_test_fail_int_(const char *file, int line, const char *ea, const char *eb,
    long long a, long long b)
{
	printf("FAIL %s: %s:%d %s == %s: %lld != %lld\n", pl_test_current_, file,
	    line, ea, eb, a, b);
	fflush(stdout);
	pl_test_failures_++;
}

/* pl_test_fail_str_ - report two strings that differ */
static inline void
pl_test_fail_str_(const char *file, int line, const char *ea, const char *eb,
    const char *a, const char *b)
{
	printf("FAIL %s: %s:%d %s == %s: \"%s\" != \"%s\"\n", pl_test_current_,
	    file, line, ea, eb, a ? a : "(null)", b ? b : "(null)");
	fflush(stdout);
	pl_test_failures_++;
}

#define PL_CHECK_EQ_INT(a, b) do { \
	long long pl_a_ = (long long)(a), pl_b_ = (long long)(b); \
	if (pl_a_ != pl_b_) \
		pl_test_fail_int_(__FILE__, __LINE__, #a, #b, pl_a_, pl_b_); \
} while (0)

#define PL_CHECK_EQ_STR(a, b) do { \
	const char *pl_a_ = (a), *pl_b_ = (b); \
	if (pl_a_ == NULL || pl_b_ == NULL ? pl_a_ != pl_b_ : \
	    strcmp(pl_a_, pl_b_) != 0) \
		pl_test_fail_str_(__FILE__, __LINE__, #a, #b, pl_a_, pl_b_); \
} while (0)

/* pl_test_run_ - run every case; print the summary line; exit status */
static inline int
pl_test_run_(const struct pl_test_case *cases, size_t n, const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;
	int passed = 0, failed = 0;

	base = base ? base + 1 : (argv0 ? argv0 : "test");
	for (size_t i = 0; i < n; i++) {
		int before = pl_test_failures_;

		pl_test_current_ = cases[i].name;
		cases[i].fn();
		if (pl_test_failures_ == before)
			passed++;
		else
			failed++;
	}
	printf("%s: %d passed, %d failed\n", base, passed, failed);
	fflush(stdout);
	return failed ? 1 : 0;
}

/* pl_test_free_port - a TCP port on 127.0.0.1 that is free right now */
static inline int
pl_test_free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), p;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		abort();
	p = ntohs(a.sin_port);
	close(fd);
	return p;
}

/* pl_test_run_until_fn - run base in 10 ms slices until cond(arg) or ms pass */
static inline void
pl_test_run_until_fn(struct event_base *base, int (*cond)(void *), void *arg, int ms)
{
	struct timeval tv = { 0, 10000 };

	for (int i = 0; i < ms / 10 && !cond(arg); i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* pl_test_run_until - run base in 10 ms slices until *flag >= want or ms pass */
static inline void
pl_test_run_until(struct event_base *base, const int *flag, int want, int ms)
{
	struct timeval tv = { 0, 10000 };

	for (int i = 0; i < ms / 10 && *flag < want; i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

#define PL_TEST_MAIN(table) \
int \
main(int argc, char **argv) \
{ \
	(void)argc; \
	return pl_test_run_((table), sizeof(table) / sizeof((table)[0]), \
	    argv[0]); \
}

#endif
