/* mem_test.c - pl_grow: doubling, minimums, wide capacities, overflow. */
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "mem.h"
#include "pl_test.h"

PL_TEST(test_grow_doubles)
{
	size_t cap = 0;
	int *v = NULL;

	v = pl_grow(v, &cap, 1, 4, sizeof(*v));
	PL_CHECK_EQ_INT(cap, 4);
	v[3] = 3;
	PL_CHECK(pl_grow(v, &cap, 4, 4, sizeof(*v)) == v);	/* room: unchanged */
	PL_CHECK_EQ_INT(cap, 4);
	v = pl_grow(v, &cap, 5, 4, sizeof(*v));
	PL_CHECK_EQ_INT(cap, 8);
	PL_CHECK_EQ_INT(v[3], 3);
	v = pl_grow(v, &cap, 100, 4, sizeof(*v));	/* need beyond double */
	PL_CHECK_EQ_INT(cap, 100);
	free(v);
}

/* test_grow_past_uint16 - the growth that wrapped a uint16_t capacity at
 * 32,768 (doubling to 0, a 1-byte realloc) keeps going with size_t */
PL_TEST(test_grow_past_uint16)
{
	size_t cap = 0, i;
	void **v = NULL;

	for (i = 0; i < 70000; i++) {
		v = pl_grow(v, &cap, i + 1, 4, sizeof(*v));
		v[i] = &v;
	}
	PL_CHECK(cap >= 70000);
	PL_CHECK_EQ_INT(cap, 131072);
	for (i = 0; i < 70000; i++)
		PL_CHECK(v[i] == &v);
	free(v);
}

/* test_grow_overflow_aborts - a size that cannot be represented aborts */
PL_TEST(test_grow_overflow_aborts)
{
	int status = 0;
	pid_t pid = fork();

	if (pid == 0) {
		size_t cap = 0;

		close(2);
		pl_grow(NULL, &cap, SIZE_MAX / 8 + 1, 1, 16);
		_exit(0);
	}
	PL_CHECK(pid > 0);
	PL_CHECK(waitpid(pid, &status, 0) == pid);
	PL_CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT);
	PL_CHECK_EQ_INT(pl_size_mul(3, 5), 15);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_grow_doubles),
	PL_TEST_CASE(test_grow_past_uint16),
	PL_TEST_CASE(test_grow_overflow_aborts),
};
PL_TEST_MAIN(tests)
