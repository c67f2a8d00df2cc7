/* redis_test.c - pl_redis against a real redis-server on a free port in a
 * temp dir: commands, errors, down at start, kill + restart (reconnects),
 * stop with a command in flight, and the same adapter on libuv. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <unistd.h>
#include <event2/event.h>
#include <hiredis/hiredis.h>
#include <uv.h>

#include "err.h"
#include "loop.h"
#include "pl_test.h"
#include "redis.h"

static struct event_base *base;
/* pl_test.h's shared scaffolding, on this test's loop */
#define free_port() pl_test_free_port()
#define run_until_fn(cond, arg, ms) pl_test_run_until_fn(base, (cond), (arg), (ms))
static struct pl_loop *loop;
static char dir[64];
static int port;
static pid_t srv = -1;
static char addr[64];

/* server_start - redis-server in dir on port; wait until it answers */
static int
server_start(void)
{
	char ps[16], logf[128];
	redisContext *c;
	int i;

	snprintf(ps, sizeof(ps), "%d", port);
	snprintf(logf, sizeof(logf), "%s/redis.log", dir);
	if ((srv = fork()) == 0) {
		execlp("redis-server", "redis-server", "--port", ps, "--bind",
		    "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir,
		    "--logfile", logf, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 200; i++) {
		struct timeval tv = { 0, 200000 };

		if ((c = redisConnectWithTimeout("127.0.0.1", port, tv)) != NULL &&
		    c->err == 0) {
			redisReply *r = redisCommand(c, "PING");

			freeReplyObject(r);
			redisFree(c);
			return 0;
		}
		if (c != NULL)
			redisFree(c);
		usleep(25000);
	}
	fprintf(stderr, "redis-server did not start on %d\n", port);
	return -1;
}

static void
server_kill(void)
{
	if (srv > 0) {
		kill(srv, SIGKILL);
		waitpid(srv, NULL, 0);
		srv = -1;
	}
}

static void
setup(void)
{
	strcpy(dir, "/tmp/pl-redis-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		abort();
	port = free_port();
	snprintf(addr, sizeof(addr), "127.0.0.1:%d", port);
	base = event_base_new();
	loop = pl_loop_event_create(base);
}

static void
teardown(void)
{
	char p[128];

	server_kill();
	pl_loop_free(&loop);
	event_base_free(base);
	snprintf(p, sizeof(p), "%s/redis.log", dir);
	unlink(p);
	rmdir(dir);
}

static int
is_connected(void *arg)
{
	return pl_redis_connected(arg);
}

struct res {
	int n;
	int rv;
	int type;
	char str[64];
};

static int
res_done(void *arg)
{
	return ((struct res *)arg)->n > 0;
}

static void
on_reply(int rv, struct redisReply *reply, void *arg)
{
	struct res *r = arg;

	r->n++;
	r->rv = rv;
	r->type = reply != NULL ? reply->type : -1;
	if (reply != NULL && reply->str != NULL && reply->len < sizeof(r->str)) {
		memcpy(r->str, reply->str, reply->len);
		r->str[reply->len] = 0;
	}
}

PL_TEST(commands_and_errors)
{
	struct pl_redis *r = NULL;
	struct res set = { 0 }, get = { 0 }, err = { 0 }, bin = { 0 };
	const char *argv[] = { "SET", "{t}:bin", "a\0b" };
	const size_t lens[] = { 3, 7, 3 };

	setup();
	PL_CHECK_EQ_INT(server_start(), 0);
	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &r), 0);
	run_until_fn(is_connected, r, 5000);
	PL_CHECK(pl_redis_connected(r));
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &set, "SET %s %b", "{t}:k",
	    "v1", (size_t)2), 0);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &get, "GET %s", "{t}:k"), 0);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &err, "INCR %s", "{t}:k"), 0);
	PL_CHECK_EQ_INT(pl_redis_cmd(r, on_reply, &bin, 3, argv, lens), 0);
	PL_CHECK_EQ_INT(pl_redis_cmd(r, NULL, NULL, 3, argv, lens), 0);
	run_until_fn(res_done, &bin, 5000);
	PL_CHECK_EQ_INT(set.rv, 0);
	PL_CHECK_EQ_STR(set.str, "OK");
	PL_CHECK_EQ_INT(get.rv, 0);
	PL_CHECK_EQ_STR(get.str, "v1");
	PL_CHECK_EQ_INT(err.rv, PL_EIO);	/* not an integer */
	PL_CHECK_EQ_INT(err.type, REDIS_REPLY_ERROR);
	PL_CHECK_EQ_INT(bin.rv, 0);
	pl_redis_stop(&r);
	PL_CHECK(r == NULL);
	teardown();
}

PL_TEST(down_fails_at_once_then_connects)
{
	struct pl_redis *r = NULL;
	struct res a = { 0 }, b = { 0 };

	setup();
	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &r), 0);	/* nobody there */
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &a, "PING"), 0);
	PL_CHECK_EQ_INT(a.n, 0);	/* never inside the submit */
	run_until_fn(res_done, &a, 1000);
	PL_CHECK_EQ_INT(a.n, 1);
	PL_CHECK_EQ_INT(a.rv, PL_EUNAVAIL);
	PL_CHECK_EQ_INT(a.type, -1);
	PL_CHECK(!pl_redis_connected(r));
	PL_CHECK_EQ_INT(server_start(), 0);
	run_until_fn(is_connected, r, 5000);	/* backoff caps at 2 s */
	PL_CHECK(pl_redis_connected(r));
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &b, "PING"), 0);
	run_until_fn(res_done, &b, 2000);
	PL_CHECK_EQ_INT(b.rv, 0);
	PL_CHECK_EQ_STR(b.str, "PONG");
	pl_redis_stop(&r);
	teardown();
}

PL_TEST(kill_and_restart_reconnects)
{
	struct pl_redis *r = NULL;
	struct res a = { 0 }, down = { 0 }, after = { 0 };

	setup();
	PL_CHECK_EQ_INT(server_start(), 0);
	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &r), 0);
	run_until_fn(is_connected, r, 5000);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &a, "SET k 1"), 0);
	run_until_fn(res_done, &a, 2000);
	PL_CHECK_EQ_INT(a.rv, 0);

	server_kill();
	/* the loop sees the close */
	for (int i = 0; i < 100 && pl_redis_connected(r); i++)
		run_until_fn(res_done, &down, 10);
	PL_CHECK(!pl_redis_connected(r));
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &down, "GET k"), 0);
	run_until_fn(res_done, &down, 1000);
	PL_CHECK_EQ_INT(down.rv, PL_EUNAVAIL);

	PL_CHECK_EQ_INT(server_start(), 0);
	run_until_fn(is_connected, r, 5000);
	PL_CHECK(pl_redis_connected(r));
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &after, "PING"), 0);
	run_until_fn(res_done, &after, 2000);
	PL_CHECK_EQ_INT(after.rv, 0);
	pl_redis_stop(&r);
	teardown();
}

static struct pl_redis *stop_me;

static void
on_reply_stop(int rv, struct redisReply *reply, void *arg)
{
	on_reply(rv, reply, arg);
	pl_redis_stop(&stop_me);	/* stop from inside a callback */
}

PL_TEST(stop_with_inflight_and_from_callback)
{
	struct pl_redis *r = NULL;
	struct res blocked = { 0 }, first = { 0 }, second = { 0 };

	setup();
	PL_CHECK_EQ_INT(server_start(), 0);
	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &r), 0);
	run_until_fn(is_connected, r, 5000);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &blocked, "BLPOP nolist 5"), 0);
	run_until_fn(res_done, &blocked, 100);
	PL_CHECK_EQ_INT(blocked.n, 0);
	pl_redis_stop(&r);
	PL_CHECK_EQ_INT(blocked.n, 1);
	PL_CHECK_EQ_INT(blocked.rv, PL_ECLOSED);

	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &stop_me), 0);
	run_until_fn(is_connected, stop_me, 5000);
	PL_CHECK_EQ_INT(pl_redis_cmdf(stop_me, on_reply_stop, &first, "PING"), 0);
	PL_CHECK_EQ_INT(pl_redis_cmdf(stop_me, on_reply, &second, "PING"), 0);
	run_until_fn(res_done, &second, 2000);
	PL_CHECK_EQ_INT(first.rv, 0);
	PL_CHECK_EQ_INT(second.n, 1);
	PL_CHECK(stop_me == NULL);
	run_until_fn(res_done, &second, 50);	/* the reaper runs */
	teardown();
}

PL_TEST(libuv_loop)
{
	struct pl_redis *r = NULL;
	struct pl_loop *ul;
	struct res get = { 0 };
	uv_loop_t uv;

	setup();
	PL_CHECK_EQ_INT(server_start(), 0);
	uv_loop_init(&uv);
	ul = pl_loop_uv_create(&uv);
	PL_CHECK_EQ_INT(pl_redis_start(ul, addr, &r), 0);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &get, "PING"), 0); /* down yet */
	for (int i = 0; i < 500 && !pl_redis_connected(r); i++)
		uv_run(&uv, UV_RUN_NOWAIT), usleep(2000);
	PL_CHECK_EQ_INT(get.rv, PL_EUNAVAIL);
	PL_CHECK(pl_redis_connected(r));
	get.n = 0;
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &get, "ECHO %s", "uv"), 0);
	for (int i = 0; i < 500 && get.n == 0; i++)
		uv_run(&uv, UV_RUN_NOWAIT), usleep(2000);
	PL_CHECK_EQ_INT(get.rv, 0);
	PL_CHECK_EQ_STR(get.str, "uv");
	pl_redis_stop(&r);
	pl_loop_free(&ul);
	uv_run(&uv, UV_RUN_DEFAULT);
	PL_CHECK_EQ_INT(uv_loop_close(&uv), 0);
	teardown();
}

/* a hung server (SIGSTOP): the watchdog drops the link, the command fails,
 * and after SIGCONT the connection comes back */
PL_TEST(stalled_server_watchdog)
{
	struct pl_redis *r = NULL;
	struct res hung = { 0 }, after = { 0 };

	setup();
	PL_CHECK_EQ_INT(server_start(), 0);
	PL_CHECK_EQ_INT(pl_redis_start(loop, addr, &r), 0);
	run_until_fn(is_connected, r, 5000);
	kill(srv, SIGSTOP);
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &hung, "PING"), 0);
	run_until_fn(res_done, &hung, 6000);
	PL_CHECK_EQ_INT(hung.n, 1);
	PL_CHECK_EQ_INT(hung.rv, PL_EUNAVAIL);
	kill(srv, SIGCONT);
	run_until_fn(is_connected, r, 5000);
	PL_CHECK(pl_redis_connected(r));
	PL_CHECK_EQ_INT(pl_redis_cmdf(r, on_reply, &after, "PING"), 0);
	run_until_fn(res_done, &after, 2000);
	PL_CHECK_EQ_INT(after.rv, 0);
	pl_redis_stop(&r);
	teardown();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(stalled_server_watchdog),
	PL_TEST_CASE(commands_and_errors),
	PL_TEST_CASE(down_fails_at_once_then_connects),
	PL_TEST_CASE(kill_and_restart_reconnects),
	PL_TEST_CASE(stop_with_inflight_and_from_callback),
	PL_TEST_CASE(libuv_loop),
};
PL_TEST_MAIN(tests)
