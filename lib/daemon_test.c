/* daemon_test.c - the skeleton run for real in a child process: port file,
 * /healthz and /readyz over HTTP, SIGTERM drain, drain callback, second
 * signal, init failure, --help; and a libuv daemon (init_uv) draining its
 * "connections" and tearing down in reverse, its steps reported over a pipe. */
#include <errno.h>
#include <poll.h>
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
#include "loop.h"
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

/* the child's end of the pipe: its steps are written there, and the parent
 * sees EOF when it exits (-1 in the parent) */
static int steps_fd = -1;
/* the parent's end, of the child last spawned */
static int steps_rd = -1;

/* step - the child reports one step ("init a\n") */
static void
step(const char *what)
{
	if (write(steps_fd, what, strlen(what)) < 0)
		_exit(3);
}

/* run daemon d in a child; returns its pid */
static pid_t
spawn_daemon(const struct pl_daemon *tmpl, const char *drain_ms,
    const char *extra_arg)
{
	static struct pl_daemon d;
	char ops[] = "--ops-addr=127.0.0.1:0", pf[160], dm[64], ll[] = "--log-level=warn";
	char *argv[] = { "testd", ops, pf, dm, ll, (char *)extra_arg, NULL };
	int fds[2];
	pid_t pid;

	unlink(port_file);
	snprintf(pf, sizeof(pf), "--ops-port-file=%s", port_file);
	snprintf(dm, sizeof(dm), "--drain-ms=%s", drain_ms);
	if (steps_rd >= 0)
		close(steps_rd);
	if (pipe(fds) != 0)
		return -1;
	fflush(stdout);
	if ((pid = fork()) != 0) {
		close(fds[1]);
		steps_rd = fds[0];
		return pid;
	}
	close(fds[0]);
	steps_fd = fds[1];
	d = *tmpl;
	_exit(pl_daemon_main(&d, extra_arg ? 6 : 5, argv));
}

/* run a libevent daemon in a child; returns its pid */
static pid_t
spawn(int (*init)(struct event_base *, struct pl_loop *), void (*drain)(void),
    const char *drain_ms, const char *extra_arg)
{
	struct pl_daemon d = { .name = "testd", .summary = "a test daemon",
	    .ops_addr_default = "127.0.0.1:1", .config = test_config,
	    .init = init, .drain = drain };

	return spawn_daemon(&d, drain_ms, extra_arg);
}

/* read_steps - the child's steps into buf (NUL-terminated, appended) until
 * want is among them (NULL: until EOF) or ms pass: its state as it reports
 * it, not a guess at how long it takes. 1: want seen, 0: EOF (the child has
 * exited), -1: the deadline passed */
static int
read_steps(char *buf, size_t n, const char *want, int ms)
{
	uint64_t end = pl_clock_mono_ms() + (uint64_t)ms;
	size_t len = strlen(buf);
	struct pollfd p = { .fd = steps_rd, .events = POLLIN };
	ssize_t got;
	uint64_t now;

	for (;;) {
		if (want != NULL && strstr(buf, want) != NULL)
			return 1;
		if ((now = pl_clock_mono_ms()) >= end ||
		    poll(&p, 1, (int)(end - now)) <= 0)
			return -1;
		if (len == n - 1)
			len = 0;	/* keep reading to EOF; the start is lost */
		if ((got = read(steps_rd, buf + len, n - 1 - len)) <= 0)
			return 0;
		len += (size_t)got;
		buf[len] = '\0';
	}
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

/* check_ops_paths - a started daemon's ops port answers every path */
static void
check_ops_paths(int port)
{
	char body[4096];

	PL_CHECK(port > 0);
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), 200);
	PL_CHECK_EQ_STR(body, "ok\n");
	PL_CHECK_EQ_INT(get(port, "/readyz", body, sizeof(body)), 200);
	PL_CHECK_EQ_INT(get(port, "/metrics", body, sizeof(body)), 200);
	PL_CHECK(strstr(body, "process_start_time_seconds") != NULL);
	PL_CHECK_EQ_INT(get(port, "/nope", body, sizeof(body)), 404);
}

/* wait for pid up to ms: until its end of the steps pipe closes (it has
 * exited); returns the exit status, -1 on timeout or signal */
static int
reap(pid_t pid, int ms)
{
	char buf[4096] = "";
	int status;

	if (read_steps(buf, sizeof(buf), NULL, ms) != 0)
		kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
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
	check_ops_paths(port);
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

/* hup_then_drain - SIGHUP keeps the daemon running; sig (SIGTERM or SIGINT)
 * then drains: alive, not ready */
static void
hup_then_drain(pid_t pid, int port, int sig)
{
	char body[256];

	PL_CHECK(port > 0);
	kill(pid, SIGHUP);	/* reopen logs: keeps running */
	PL_CHECK_EQ_INT(get(port, "/readyz", body, sizeof(body)), 200);
	kill(pid, sig);
	PL_CHECK_EQ_INT(wait_status(port, "/readyz", 503, body, sizeof(body), 5000), 503);
	PL_CHECK_EQ_STR(body, "draining\n");
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), 200);
}

PL_TEST(test_second_signal_stops_now)
{
	pid_t pid = spawn(init_ok, NULL, "60000", NULL);

	hup_then_drain(pid, wait_port(), SIGTERM);
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

/* ---- a libuv daemon: module a, then module b holding a live timer and
 * three "connections" that its drain closes one per tick */
static struct {
	struct pl_loop *loop;
	struct pl_timer *keepalive, *closer;
	int conns;
	int fail;	/* init fails after module a */
} uvd;

static void uvd_keepalive(void *arg) { }

/* uvd_close_one - close one connection; stop the daemon after the last */
static void
uvd_close_one(void *arg)
{
	char s[32];

	snprintf(s, sizeof(s), "closed %d\n", --uvd.conns);
	step(s);
	if (uvd.conns == 0) {
		pl_loop_timer_stop(&uvd.closer);
		pl_daemon_stop();
	}
}

/* uvd_init - a libuv loop, the same one behind the pl_loop */
static int
uvd_init(struct uv_loop_s *uv, struct pl_loop *loop)
{
	step(uv != NULL && loop->impl == (void *)uv ? "init a\n" : "init a: bad loop\n");
	if (uvd.fail)
		return PL_EIO;
	uvd.loop = loop;
	uvd.conns = 3;
	if (pl_loop_timer(loop, 1000, 1, uvd_keepalive, NULL, &uvd.keepalive) != 0)
		return PL_EIO;
	step("init b\n");
	return 0;
}

static void
uvd_drain(void)
{
	step("drain\n");
	if (pl_loop_timer(uvd.loop, 5, 1, uvd_close_one, NULL, &uvd.closer) != 0)
		pl_daemon_stop();
}

/* uvd_fini - b then a; b's timers must be gone or the loop never runs dry.
 * A stop asked during fini (a connection closing as the gateway's lws
 * context goes) must not cut the skeleton's last run short. */
static void
uvd_fini(void)
{
	pl_daemon_stop();
	pl_loop_timer_stop(&uvd.closer);
	pl_loop_timer_stop(&uvd.keepalive);
	step("fini b\n");
	step("fini a\n");
}

/* uvd_after_run - the loop ran dry: b's timers were closed for real */
static void
uvd_after_run(void)
{
	step("after run\n");
}

static pid_t
spawn_uv(void (*drain)(void), const char *drain_ms, int fail)
{
	struct pl_daemon d = { .name = "testd", .summary = "a test daemon",
	    .ops_addr_default = "127.0.0.1:1", .config = test_config,
	    .init_uv = uvd_init, .drain = drain, .fini = uvd_fini,
	    .fini_after_run = uvd_after_run };

	uvd.fail = fail;
	return spawn_daemon(&d, drain_ms, NULL);
}

PL_TEST(test_uv_drains_then_tears_down_in_reverse)
{
	char steps[1024] = "";
	pid_t pid = spawn_uv(uvd_drain, "60000", 0);
	int port;

	PL_CHECK_EQ_INT(read_steps(steps, sizeof(steps), "init b\n", 10000), 1);
	/* the port file is written after init; the libuv ops server answers */
	port = wait_port();
	check_ops_paths(port);
	kill(pid, SIGTERM);
	/* the drain closes the connections, the daemon stops itself long
	 * before the 60 s drain, fini undoes b then a */
	PL_CHECK_EQ_INT(read_steps(steps, sizeof(steps), "after run\n", 10000), 1);
	PL_CHECK_EQ_STR(steps, "init a\ninit b\ndrain\nclosed 2\nclosed 1\nclosed 0\n"
	    "fini b\nfini a\nafter run\n");
	PL_CHECK_EQ_INT(reap(pid, 10000), 0);
}

PL_TEST(test_uv_second_signal_stops_now)
{
	char steps[1024] = "", body[256];
	pid_t pid = spawn_uv(NULL, "60000", 0);
	int port = wait_port();

	hup_then_drain(pid, port, SIGINT);	/* on the libuv ops server too */
	kill(pid, SIGTERM);
	PL_CHECK_EQ_INT(read_steps(steps, sizeof(steps), "after run\n", 10000), 1);
	PL_CHECK_EQ_STR(steps, "init a\ninit b\nfini b\nfini a\nafter run\n");
	PL_CHECK_EQ_INT(reap(pid, 10000), 0);
	/* the ops port is closed with the rest */
	PL_CHECK_EQ_INT(get(port, "/healthz", body, sizeof(body)), -1);
}

PL_TEST(test_uv_init_failure_runs_fini_exits_1)
{
	char steps[1024] = "";
	pid_t pid = spawn_uv(NULL, "100", 1);

	/* fini undoes what init did, then the skeleton's own part */
	PL_CHECK_EQ_INT(read_steps(steps, sizeof(steps), "after run\n", 5000), 1);
	PL_CHECK_EQ_STR(steps, "init a\nfini b\nfini a\nafter run\n");
	PL_CHECK_EQ_INT(reap(pid, 5000), 1);
	PL_CHECK_EQ_INT(access(port_file, F_OK), -1);	/* no port file: not started */
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_sigterm_drains_then_exits_0),
	PL_TEST_CASE(test_drain_callback_stops),
	PL_TEST_CASE(test_second_signal_stops_now),
	PL_TEST_CASE(test_init_failure_exits_1),
	PL_TEST_CASE(test_uv_drains_then_tears_down_in_reverse),
	PL_TEST_CASE(test_uv_second_signal_stops_now),
	PL_TEST_CASE(test_uv_init_failure_runs_fini_exits_1),
	PL_TEST_CASE(test_config_errors),
};
PL_TEST_MAIN(tests)
