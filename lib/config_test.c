/* config_test.c - precedence, bounds, bools, --help / --print-config exits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "config.h"
#include "pl_test.h"

static char *addr, *secret;
static int64_t workers;
static int verbose;

static const struct pl_config_entry table[] = {
	{ "http-addr", "PLT_HTTP_ADDR", PL_CONF_STR, "127.0.0.1:80", &addr, 0, 0,
	  "where to listen", 0 },
	{ "workers", "PLT_WORKERS", PL_CONF_INT, "4", &workers, 1, 64, "threads", 0 },
	{ "verbose", "PLT_VERBOSE", PL_CONF_BOOL, "false", &verbose, 0, 0, "chatty", 0 },
	{ "secret", "PLT_SECRET", PL_CONF_STR, NULL, &secret, 0, 0, "a secret", 1 },
	PL_CONFIG_END
};
static const struct pl_config_entry *const tables[] = { table, NULL };

static void
clear_env(void)
{
	unsetenv("PLT_HTTP_ADDR");
	unsetenv("PLT_WORKERS");
	unsetenv("PLT_VERBOSE");
	unsetenv("PLT_SECRET");
}

/* load with a NULL-terminated list of flags */
static void
load(const char *const *flags)
{
	char *argv[16] = { "prog" };
	int argc = 1;

	while (flags && *flags && argc < 15)
		argv[argc++] = (char *)*flags++;
	pl_config_load("prog", "a test", tables, argc, argv);
}

/* run load in a child, capture stdout+stderr; returns the exit status */
static int
load_forked(const char *const *flags, char *out, size_t n)
{
	int p[2], status = -1;
	ssize_t got, total = 0;
	pid_t pid;

	if (pipe(p) != 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) == 0) {
		dup2(p[1], 1);
		dup2(p[1], 2);
		close(p[0]);
		load(flags);
		_exit(77);
	}
	close(p[1]);
	while ((size_t)total < n - 1 && (got = read(p[0], out + total, n - 1 - (size_t)total)) > 0)
		total += got;
	out[total] = '\0';
	close(p[0]);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

PL_TEST(test_defaults)
{
	clear_env();
	load(NULL);
	PL_CHECK_EQ_STR(addr, "127.0.0.1:80");
	PL_CHECK_EQ_INT(workers, 4);
	PL_CHECK_EQ_INT(verbose, 0);
	PL_CHECK_EQ_STR(secret, "");
}

PL_TEST(test_precedence)
{
	static const char *const flags[] = { "--workers=9", "--http-addr", "0.0.0.0:1", NULL };

	clear_env();
	setenv("PLT_WORKERS", "7", 1);
	setenv("PLT_VERBOSE", "yes", 1);
	setenv("PLT_HTTP_ADDR", "env:1", 1);
	load(NULL);
	PL_CHECK_EQ_INT(workers, 7);
	PL_CHECK_EQ_INT(verbose, 1);
	PL_CHECK_EQ_STR(addr, "env:1");
	load(flags);
	PL_CHECK_EQ_INT(workers, 9);	/* flag beats env */
	PL_CHECK_EQ_STR(addr, "0.0.0.0:1");
	PL_CHECK_EQ_INT(verbose, 1);	/* env beats default */
	clear_env();
}

static const struct {
	const char *text;
	int value;
} bools[] = {
	{ "1", 1 }, { "true", 1 }, { "TRUE", 1 }, { "yes", 1 }, { "on", 1 },
	{ "0", 0 }, { "false", 0 }, { "no", 0 }, { "Off", 0 },
};

PL_TEST(test_bools)
{
	static const char *const alone[] = { "--verbose", NULL };
	size_t i;

	clear_env();
	for (i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
		setenv("PLT_VERBOSE", bools[i].text, 1);
		verbose = -1;
		load(NULL);
		PL_CHECK_EQ_INT(verbose, bools[i].value);
	}
	setenv("PLT_VERBOSE", "0", 1);
	load(alone);
	PL_CHECK_EQ_INT(verbose, 1);	/* a bool flag alone means 1 */
	clear_env();
}

static const struct {
	const char *flag;
	int status;
	const char *says;
} bad[] = {
	{ "--workers=0", 2, "bad value for workers" },
	{ "--workers=65", 2, "[1, 64]" },
	{ "--workers=64", 77, "" },
	{ "--workers=1", 77, "" },
	{ "--workers=4x", 2, "bad value" },
	{ "--verbose=maybe", 2, "bad value for verbose" },
	{ "--nope=1", 2, "unknown option \"--nope=1\"" },
	{ "positional", 2, "unknown option" },
	{ "--workers", 2, "needs a value" },
};

PL_TEST(test_bad_values_exit_2)
{
	char out[4096];
	size_t i;

	clear_env();
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		const char *flags[] = { bad[i].flag, NULL };
		PL_CHECK_EQ_INT(load_forked(flags, out, sizeof(out)), bad[i].status);
		if (strstr(out, bad[i].says) == NULL)
			PL_CHECK_EQ_STR(out, bad[i].says);
	}
	setenv("PLT_WORKERS", "100", 1);
	PL_CHECK_EQ_INT(load_forked(NULL, out, sizeof(out)), 2);
	PL_CHECK(strstr(out, "PLT_WORKERS") != NULL);
	clear_env();
}

PL_TEST(test_help)
{
	static const char *const flags[] = { "--help", NULL };
	char out[4096];

	clear_env();
	PL_CHECK_EQ_INT(load_forked(flags, out, sizeof(out)), 0);
	PL_CHECK(strstr(out, "usage: prog") != NULL);
	PL_CHECK(strstr(out, "a test") != NULL);
	PL_CHECK(strstr(out, "--http-addr=<str>  (env PLT_HTTP_ADDR, default \"127.0.0.1:80\")") != NULL);
	PL_CHECK(strstr(out, "--workers=<int>  (env PLT_WORKERS, default \"4\") [1..64]") != NULL);
	PL_CHECK(strstr(out, "where to listen") != NULL);
	PL_CHECK(strstr(out, "--secret") != NULL);
}

PL_TEST(test_print_config)
{
	static const char *const flags[] = { "--workers=5", "--print-config", NULL };
	char out[4096];

	clear_env();
	PL_CHECK_EQ_INT(load_forked(flags, out, sizeof(out)), 0);
	PL_CHECK_EQ_STR(out, "PLT_HTTP_ADDR=127.0.0.1:80\nPLT_WORKERS=5\n"
	    "PLT_VERBOSE=false\nPLT_SECRET=\n");
	setenv("PLT_SECRET", "hunter2", 1);
	PL_CHECK_EQ_INT(load_forked(flags, out, sizeof(out)), 0);
	PL_CHECK(strstr(out, "PLT_SECRET=<set>\n") != NULL);
	PL_CHECK(strstr(out, "hunter2") == NULL);
	clear_env();
}

PL_TEST(test_read_file)
{
	char path[] = "/tmp/pl_config_test.XXXXXX";
	int fd = mkstemp(path);
	char *v;

	PL_CHECK(fd >= 0);
	PL_CHECK_EQ_INT(write(fd, "127.0.0.1:39092 \nsecond\n", 24), 24);
	close(fd);
	v = pl_config_read_file(path);
	PL_CHECK_EQ_STR(v, "127.0.0.1:39092");
	free(v);
	truncate(path, 0);
	PL_CHECK(pl_config_read_file(path) == NULL);
	unlink(path);
	PL_CHECK(pl_config_read_file(path) == NULL);
	PL_CHECK(pl_config_read_file("") == NULL);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_read_file),
	PL_TEST_CASE(test_defaults),
	PL_TEST_CASE(test_precedence),
	PL_TEST_CASE(test_bools),
	PL_TEST_CASE(test_bad_values_exit_2),
	PL_TEST_CASE(test_help),
	PL_TEST_CASE(test_print_config),
};
PL_TEST_MAIN(tests)
