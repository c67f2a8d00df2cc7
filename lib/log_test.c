/* log_test.c - line format, levels and PARLEY_LOG_FILE reopen. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "log.h"
#include "pl_test.h"

static char dir[] = "/tmp/pl_log_test.XXXXXX";
static char path[128];

static size_t
slurp(const char *p, char *out, size_t n)
{
	int fd = open(p, O_RDONLY);
	ssize_t got = fd >= 0 ? read(fd, out, n - 1) : -1;

	if (fd >= 0)
		close(fd);
	out[got > 0 ? got : 0] = '\0';
	return got > 0 ? (size_t)got : 0;
}

PL_TEST(test_format_and_levels)
{
	char text[4096], want[128];
	int y, mo, d, h, mi, s, ms, n = 0;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/d.log", dir);
	setenv("PARLEY_LOG_FILE", path, 1);
	PL_CHECK_EQ_INT(pl_log_init("testd", "nonsense"), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_log_init("testd", "warn"), 0);
	pl_log_info("T-HIDDEN", "x=1");
	pl_log_warn("T-SHOWN", "user=%s n=%d", "U1", 3);
	pl_log_error("T-MULTI", "a=\"line1\nline2\"");
	slurp(path, text, sizeof(text));
	PL_CHECK(strstr(text, "T-HIDDEN") == NULL);
	PL_CHECK_EQ_INT(sscanf(text, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ ", &y, &mo, &d,
	    &h, &mi, &s, &ms), 7);
	sscanf(text, "%*s %n", &n);
	snprintf(want, sizeof(want), "WARN testd[%d] T-SHOWN user=U1 n=3\n", (int)getpid());
	PL_CHECK(strncmp(text + n, want, strlen(want)) == 0);
	PL_CHECK(strstr(text, "T-MULTI a=\"line1 line2\"\n") != NULL);
	PL_CHECK(y >= 2024 && ms >= 0 && ms < 1000);
}

PL_TEST(test_reopen)
{
	char text[4096], old[160];

	snprintf(old, sizeof(old), "%s.1", path);
	PL_CHECK_EQ_INT(rename(path, old), 0);
	pl_log_warn("T-BEFORE", "k=%d", 1);
	pl_log_reopen();
	pl_log_warn("T-AFTER", "k=%d", 2);
	slurp(old, text, sizeof(text));
	PL_CHECK(strstr(text, "T-BEFORE") != NULL);
	PL_CHECK(strstr(text, "T-AFTER") == NULL);
	slurp(path, text, sizeof(text));
	PL_CHECK(strstr(text, "T-AFTER k=2\n") != NULL);
	unlink(old);
	unlink(path);
	rmdir(dir);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_format_and_levels),
	PL_TEST_CASE(test_reopen),
};
PL_TEST_MAIN(tests)
