/* config_test.c - precedence, bounds, bools, --help / --print-config exits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>

#include "config.h"
#include "err.h"
#include "pl_test.h"

static char *addr, *secret, *key, *key_file;
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

/* a required secret (>= 32 bytes) that may come from a file */
static const struct pl_config_entry req_table[] = {
	{ "key", "PLT_KEY", PL_CONF_STR, NULL, &key, 32, 0, "a required secret", 1 },
	{ "key-file", "PLT_KEY_FILE", PL_CONF_FILE, NULL, &key_file, 0, 0,
	  "file holding the key", 0 },
	PL_CONFIG_END
};
static const struct pl_config_entry *const req_tables[] = { table, req_table, NULL };
static const struct pl_config_entry *const *load_tables = tables;

static void
clear_env(void)
{
	unsetenv("PLT_HTTP_ADDR");
	unsetenv("PLT_WORKERS");
	unsetenv("PLT_VERBOSE");
	unsetenv("PLT_SECRET");
	unsetenv("PLT_KEY");
	unsetenv("PLT_KEY_FILE");
}

/* load with a NULL-terminated list of flags */
static void
load(const char *const *flags)
{
	char *argv[16] = { "prog" };
	int argc = 1;

	while (flags && *flags && argc < 15)
		argv[argc++] = (char *)*flags++;
	pl_config_load("prog", "a test", load_tables, argc, argv);
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
	    "PLT_VERBOSE=false\nPLT_SECRET=<unset>\n");
	setenv("PLT_SECRET", "hunter2", 1);
	PL_CHECK_EQ_INT(load_forked(flags, out, sizeof(out)), 0);
	PL_CHECK(strstr(out, "PLT_SECRET=<set, 7 bytes>\n") != NULL);
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

/* write text to a new temp file; path is a mkstemp template */
static void
temp_file(char *path, const char *text, size_t n)
{
	int fd = mkstemp(path);

	PL_CHECK(fd >= 0);
	PL_CHECK_EQ_INT(write(fd, text, n), (ssize_t)n);
	close(fd);
}

#define KEY40 "0123456789abcdef0123456789abcdef01234567"

PL_TEST(test_required_secret)
{
	static const char *const none[] = { NULL };
	static const char *const print[] = { "--print-config", NULL };
	static const char *const short_flag[] = { "--key=0123456789abcdef0123456789abcde", NULL };
	char out[4096];

	clear_env();
	load_tables = req_tables;
	/* unset, empty, 31 bytes: refused with the reason; 32: accepted */
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 2);
	PL_CHECK(strstr(out, "key (PLT_KEY or PLT_KEY_FILE) must be at least 32 bytes") != NULL);
	PL_CHECK(strstr(out, "unset") != NULL);
	setenv("PLT_KEY", "", 1);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 2);
	PL_CHECK_EQ_INT(load_forked(short_flag, out, sizeof(out)), 2);
	PL_CHECK(strstr(out, "it is 31 bytes") != NULL);
	PL_CHECK(strstr(out, "0123456789") == NULL);	/* never the value */
	setenv("PLT_KEY", KEY40, 1);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 77);
	/* --print-config shows a missing secret instead of refusing */
	unsetenv("PLT_KEY");
	PL_CHECK_EQ_INT(load_forked(print, out, sizeof(out)), 0);
	PL_CHECK(strstr(out, "PLT_KEY=<unset>\n") != NULL);
	load_tables = tables;
	clear_env();
}

PL_TEST(test_secret_file)
{
	static const char *const print[] = { "--print-config", NULL };
	static const char *const none[] = { NULL };
	char path[] = "/tmp/pl_config_key.XXXXXX", nul[] = "/tmp/pl_config_nul.XXXXXX";
	char big[] = "/tmp/pl_config_big.XXXXXX", out[4096], *v = NULL;
	static char huge[PL_CONFIG_FILE_MAX + 1];
	size_t len = 0;

	clear_env();
	temp_file(path, KEY40 "\r\n", 42);
	temp_file(nul, KEY40 "\0x", 42);
	memset(huge, 'k', sizeof(huge));
	temp_file(big, huge, sizeof(huge));
	/* the whole file, trailing newline cut; spaces inside are kept */
	PL_CHECK_EQ_INT(pl_config_read_secret(path, &v, &len), 0);
	PL_CHECK_EQ_STR(v, KEY40);
	PL_CHECK_EQ_INT(len, 40);
	free(v);
	PL_CHECK_EQ_INT(pl_config_read_secret(nul, &v, &len), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_config_read_secret(big, &v, &len), PL_ETOOBIG);
	PL_CHECK(pl_config_read_secret("/nonexistent/pl-key", &v, &len) < 0);

	load_tables = req_tables;
	/* the file wins over the variable and is what print-config reports */
	setenv("PLT_KEY", "short", 1);
	setenv("PLT_KEY_FILE", path, 1);
	PL_CHECK_EQ_INT(load_forked(print, out, sizeof(out)), 0);
	PL_CHECK(strstr(out, "PLT_KEY=<set, 40 bytes, from PLT_KEY_FILE>\n") != NULL);
	PL_CHECK(strstr(out, KEY40) == NULL);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 77);
	load(none);
	PL_CHECK_EQ_STR(key, KEY40);
	/* a missing, NUL-holding or too large file is a bad setting */
	setenv("PLT_KEY_FILE", "/nonexistent/pl-key", 1);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 2);
	PL_CHECK(strstr(out, "cannot use key-file (PLT_KEY_FILE)") != NULL);
	setenv("PLT_KEY_FILE", nul, 1);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 2);
	PL_CHECK(strstr(out, "NUL") != NULL);
	setenv("PLT_KEY_FILE", big, 1);
	PL_CHECK_EQ_INT(load_forked(none, out, sizeof(out)), 2);
	unlink(path);
	unlink(nul);
	unlink(big);
	load_tables = tables;
	clear_env();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_read_file),
	PL_TEST_CASE(test_defaults),
	PL_TEST_CASE(test_precedence),
	PL_TEST_CASE(test_bools),
	PL_TEST_CASE(test_bad_values_exit_2),
	PL_TEST_CASE(test_help),
	PL_TEST_CASE(test_print_config),
	PL_TEST_CASE(test_required_secret),
	PL_TEST_CASE(test_secret_file),
};
PL_TEST_MAIN(tests)
