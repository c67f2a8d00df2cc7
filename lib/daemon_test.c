/* daemon_test.c - the skeleton run for real in a child process: port file,
 * /healthz and /readyz over HTTP, SIGTERM drain, drain callback, second
 * signal, init failure, --help. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "ops.h"
#include "pl_test.h"

static char dir[] = "/tmp/pl_daemon_test.XXXXXX";
static char port_file[128];
static int64_t extra_knob;

static const struct pl_config_entry test_config[] = {
	{ "knob", "PLT_KNOB", PL_CONF_INT, "3", &extra_knob, 0, 10, "a knob", 0 },
	PL_CONFIG_END
};

static int init_ok(struct event_base *b, struct pl_loop *l) { return 0; }
static int init_fail(struct event_base *b, struct pl_loop *l) { return PL_EIO; }
static void drain_now(void) { pl_daemon_stop(); }

/* run a daemon in a child; returns its pid */
static pid_t
spawn(int (*init)(struct event_base *, struct pl_loop *), void (*drain)(void),
    const char *drain_ms, const char *extra_arg)
{
	static struct pl_daemon d;
	char ops[] = "--ops-addr=127.0.0.1:0", pf[160], dm[64], ll[] = "--log-level=warn";
	char *argv[] = { "testd", ops, pf, dm, ll, (char *)extra_arg, NULL };
	pid_t pid;

	unlink(port_file);
	snprintf(pf, sizeof(pf), "--ops-port-file=%s", port_file);
	snprintf(dm, sizeof(dm), "--drain-ms=%s", drain_ms);
	fflush(stdout);
	if ((pid = fork()) != 0)
		return pid;
	d = (struct pl_daemon){ .name = "testd", .summary = "a test daemon",
	    .ops_addr_default = "127.0.0.1:1", .config = test_config,
	    .init = init, .drain = drain };
	_exit(pl_daemon_main(&d, extra_arg ? 6 : 5, argv));
}

/* the port the child wrote, waiting up to 5 s */
static int
wait_port(void)
{
	int port = 0, i;
	FILE *f;

	for (i = 0; i < 500 && port == 0; i++) {
		if ((f = fopen(port_file, "r")) != NULL) {
			if (fscanf(f, "%d", &port) != 1)
				port = 0;
			fclose(f);
		}
		if (port == 0)
			usleep(10000);
	}
	return port;
}

/* blocking GET; returns the status, body into out */
static int
get(int port, const char *path, char *out, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	char req[128], resp[4096];
	size_t len = 0;
	ssize_t got;
	int fd = socket(AF_INET, SOCK_STREAM, 0), status = -1;
	const char *body;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		close(fd);
		return -1;
	}
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\n\r\n", path);
	if (write(fd, req, strlen(req)) < 0)
		len = 0;
	while (len < sizeof(resp) - 1 && (got = read(fd, resp + len, sizeof(resp) - 1 - len)) > 0)
		len += (size_t)got;
	resp[len] = '\0';
	close(fd);
	sscanf(resp, "HTTP/1.%*d %d", &status);
	body = strstr(resp, "\r\n\r\n");
	snprintf(out, n, "%s", body ? body + 4 : "");
	return status;
}

/* wait_status - GET path until it answers want or ms pass (the child's
 * state, not a guess at how long it takes); the last status */
static int
wait_status(int port, const char *path, int want, char *out, size_t n, int ms)
{
	uint64_t end = pl_clock_mono_ms() + (uint64_t)ms;
	int status;

	while ((status = get(port, path, out, n)) != want && pl_clock_mono_ms() < end)
		usleep(2000);
	return status;
}

/* wait for pid up to ms; returns the exit status, -1 on timeout or signal */
static int
reap(pid_t pid, int ms)
{
	int status, i;

	for (i = 0; i < ms; i++) {
		if (waitpid(pid, &status, WNOHANG) == pid)
			return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
		usleep(1000);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return -1;
}

PL_TEST(test_sigterm_drains_then_exits_0)
{
	char body[4096];
	pid_t pid;
	uint64_t t0;
	int port;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(port_file, sizeof(port_file), "%s/ops.port", dir);
	/* a drain long enough to be seen by a loaded machine's next GET */
	pid = spawn(init_ok, NULL, "2000", NULL);
	port = wait_port();
	PL_CHECK(port > 0);
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), 200);
	PL_CHECK_EQ_STR(body, "ok\n");
	PL_CHECK_EQ_INT(get(port, "/readyz", body, sizeof(body)), 200);
	PL_CHECK_EQ_INT(get(port, "/metrics", body, sizeof(body)), 200);
	PL_CHECK(strstr(body, "process_start_time_seconds") != NULL);
	t0 = pl_clock_mono_ms();
	kill(pid, SIGTERM);
	/* draining: alive, but not ready */
	PL_CHECK_EQ_INT(wait_status(port, "/readyz", 503, body, sizeof(body), 1500), 503);
	PL_CHECK_EQ_STR(body, "draining\n");
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), 200);
	PL_CHECK_EQ_INT(reap(pid, 10000), 0);
	PL_CHECK(pl_clock_mono_ms() - t0 >= 2000);	/* waited for drain-ms */
}

PL_TEST(test_drain_callback_stops)
{
	pid_t pid = spawn(init_ok, drain_now, "60000", NULL);

	PL_CHECK(wait_port() > 0);
	kill(pid, SIGINT);
	/* exit 0 long before the 60 s drain: the callback stopped it (reap
	 * kills the child and answers -1 at its deadline) */
	PL_CHECK_EQ_INT(reap(pid, 10000), 0);
}

PL_TEST(test_second_signal_stops_now)
{
	pid_t pid = spawn(init_ok, NULL, "60000", NULL);
	char body[256];
	int port = wait_port();

	PL_CHECK(port > 0);
	kill(pid, SIGHUP);	/* reopen logs: keeps running */
	PL_CHECK_EQ_INT(get(port, "/readyz", body, sizeof(body)), 200);
	kill(pid, SIGTERM);
	/* the first SIGTERM took: draining, alive */
	PL_CHECK_EQ_INT(wait_status(port, "/readyz", 503, body, sizeof(body), 5000), 503);
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), 200);
	kill(pid, SIGTERM);
	/* the second stops now, not after the 60 s drain */
	PL_CHECK_EQ_INT(reap(pid, 10000), 0);
}

PL_TEST(test_init_failure_exits_1)
{
	pid_t pid = spawn(init_fail, NULL, "100", NULL);

	PL_CHECK_EQ_INT(reap(pid, 5000), 1);
}

PL_TEST(test_config_errors)
{
	pid_t pid = spawn(init_ok, NULL, "100", "--knob=11");

	PL_CHECK_EQ_INT(reap(pid, 5000), 2);
	pid = spawn(init_ok, NULL, "100", "--log-level=loud");
	PL_CHECK_EQ_INT(reap(pid, 5000), 1);
	pid = spawn(init_ok, NULL, "100", "--print-config");
	PL_CHECK_EQ_INT(reap(pid, 5000), 0);
	unlink(port_file);
	rmdir(dir);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_sigterm_drains_then_exits_0),
	PL_TEST_CASE(test_drain_callback_stops),
	PL_TEST_CASE(test_second_signal_stops_now),
	PL_TEST_CASE(test_init_failure_exits_1),
	PL_TEST_CASE(test_config_errors),
};
PL_TEST_MAIN(tests)
