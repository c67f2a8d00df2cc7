/* pg_test.c - pl_pg against a real PostgreSQL 15 started in a temp dir
 * (initdb + pg_ctl as user postgres, private port): queries with params,
 * multi-statement strings, SQL errors, FIFO order, the queue bound, stop and
 * start of the server (reconnects), pl_pg_stop with queued queries,
 * pl_pg_exec_sync, and the libuv loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <unistd.h>
#include <event2/event.h>
#include <libpq-fe.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "loop.h"
#include "pg.h"
#include "pl_test.h"

#define PGBIN "/usr/lib/postgresql/15/bin"

static char dir[64];
static int port;
static char dsn[256];
static int cluster_ok;
static struct event_base *base;
/* pl_test.h's shared scaffolding, on this test's loop */
#define free_port() pl_test_free_port()
#define run_until(flag, want, ms) pl_test_run_until(base, (flag), (want), (ms))
static struct pl_loop *loop;

/* sh - run a shell command, 0 when it exited 0 */
static int
sh(const char *fmt, ...)
{
	char cmd[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	return system(cmd) == 0 ? 0 : -1;
}

static int
pg_up(void)
{
	return sh("runuser -u postgres -- " PGBIN "/pg_ctl -D %s/data -l %s/log -w "
	    "-t 20 -o \"-k %s -p %d -c listen_addresses=127.0.0.1 -c fsync=off\" "
	    "start >/dev/null", dir, dir, dir, port);
}

static int
pg_down(void)
{
	return sh("runuser -u postgres -- " PGBIN "/pg_ctl -D %s/data -m fast -w "
	    "stop >/dev/null", dir);
}

static void
cluster_cleanup(void)
{
	if (dir[0] == '\0')
		return;
	sh("runuser -u postgres -- " PGBIN "/pg_ctl -D %s/data -m immediate -w "
	    "stop >/dev/null 2>&1", dir);
	sh("rm -rf %s", dir);
}

/* cluster - initdb and start once per process; stopped at exit */
static int
cluster(void)
{
	if (cluster_ok)
		return 0;
	strcpy(dir, "/tmp/pl-pg-test-XXXXXX");
	if (mkdtemp(dir) == NULL)
		return -1;
	atexit(cluster_cleanup);
	port = free_port();
	if (sh("chown postgres %s && chmod 755 %s", dir, dir) != 0 ||
	    sh("runuser -u postgres -- " PGBIN "/initdb -D %s/data -A trust "
	    "-U postgres --no-sync >%s/initdb.log 2>&1", dir, dir) != 0 ||
	    pg_up() != 0) {
		sh("cat %s/initdb.log %s/log >&2", dir, dir);
		return -1;
	}
	snprintf(dsn, sizeof(dsn), "host=127.0.0.1 port=%d user=postgres "
	    "dbname=postgres connect_timeout=5", port);
	cluster_ok = 1;
	return 0;
}

static void
setup(void)
{
	base = event_base_new();
	loop = pl_loop_event_create(base);
}

static void
teardown(void)
{
	pl_loop_free(&loop);
	event_base_free(base);
}

static void
run_until_connected(struct pl_pg *pg, int ms)
{
	struct timeval tv = { 0, 10000 };

	for (int i = 0; i < ms / 10 && !pl_pg_connected(pg); i++) {
		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

struct res {
	int n;
	int rv;
	int rows;
	char v[64];
	int order;	/* position among completions */
};

static int completions;

static void
on_res(int rv, struct pg_result *res, void *arg)
{
	struct res *r = arg;

	r->n++;
	r->rv = rv;
	r->order = completions++;
	r->rows = res != NULL ? PQntuples(res) : -1;
	if (res != NULL && PQntuples(res) > 0 && PQnfields(res) > 0)
		snprintf(r->v, sizeof(r->v), "%s", PQgetvalue(res, 0, 0));
}

PL_TEST(queries_params_errors_order)
{
	struct pl_pg *pg = NULL;
	struct res a = { 0 }, multi = { 0 }, bad = { 0 }, cnt = { 0 };
	static struct res ins[50];
	const char *params[] = { "21", "x" };
	char num[16];
	const char *p1[1] = { num };

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_exec_sync(dsn, "DROP TABLE IF EXISTS t; "
	    "CREATE TABLE t (n int primary key)"), 0);
	PL_CHECK_EQ_INT(pl_pg_exec_sync(dsn, "SELEC nonsense"), PL_EIO);
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 100, &pg), 0);
	/* queued while connecting */
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT ($1::int * 2)::text || $2",
	    2, params, on_res, &a), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 1; SELECT 'last'", 0, NULL,
	    on_res, &multi), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT * FROM no_such_table", 0, NULL,
	    on_res, &bad), 0);
	for (int i = 0; i < 50; i++) {
		snprintf(num, sizeof(num), "%d", i);
		PL_CHECK_EQ_INT(pl_pg_query(pg, "INSERT INTO t VALUES ($1)", 1,
		    p1, on_res, &ins[i]), 0);	/* params copied at submit */
	}
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT count(*) FROM t", 0, NULL,
	    on_res, &cnt), 0);
	PL_CHECK_EQ_INT(pl_pg_queued(pg), 54);
	run_until(&cnt.n, 1, 10000);
	PL_CHECK_EQ_INT(a.rv, 0);
	PL_CHECK_EQ_STR(a.v, "42x");
	PL_CHECK_EQ_INT(multi.rv, 0);
	PL_CHECK_EQ_STR(multi.v, "last");
	PL_CHECK_EQ_INT(bad.rv, PL_EIO);
	PL_CHECK_EQ_INT(bad.rows, -1);
	PL_CHECK(strstr(pl_pg_last_error(pg), "no_such_table") != NULL);
	for (int i = 0; i < 50; i++) {
		PL_CHECK_EQ_INT(ins[i].rv, 0);
		PL_CHECK_EQ_INT(ins[i].order, a.order + 3 + i);	/* FIFO */
	}
	PL_CHECK_EQ_STR(cnt.v, "50");
	PL_CHECK_EQ_INT(pl_pg_queued(pg), 0);
	pl_pg_stop(&pg);
	PL_CHECK(pg == NULL);
	teardown();
}

/* binary parameters: bytes with a NUL inside and a binary int4[] arrive
 * as they are (copied at submit, like text ones) */
PL_TEST(binary_parameters)
{
	static const char arr[] = {
		0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 23, 0, 0, 0, 2, 0, 0, 0, 1,
		0, 0, 0, 4, 0, 0, 0, 40, 0, 0, 0, 4, 0, 0, 0, 2,
	};
	struct pl_pg *pg = NULL;
	struct res r = { 0 };
	char raw[3] = { 'a', 0, 'b' };
	const char *params[3] = { raw, arr, "x" };
	int lens[3] = { 3, (int)sizeof(arr), 1 }, fmts[3] = { 1, 1, 0 };

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 100, &pg), 0);
	PL_CHECK_EQ_INT(pl_pg_query_bin(pg, "SELECT length($1::bytea) || ':' || "
	    "(SELECT sum(v) FROM unnest($2::int[]) v) || $3::text", 3, params,
	    lens, fmts, on_res, &r), 0);
	raw[0] = 'z';				/* copied at submit */
	PL_CHECK_EQ_INT(pl_pg_query_bin(pg, "SELECT 1", 0, NULL, NULL, NULL,
	    on_res, &r), PL_EINVAL);
	run_until(&r.n, 1, 10000);
	PL_CHECK_EQ_INT(r.rv, 0);
	PL_CHECK_EQ_STR(r.v, "3:42x");
	pl_pg_stop(&pg);
	teardown();
}

PL_TEST(queue_bound_and_stop_closes)
{
	struct pl_pg *pg = NULL;
	struct res r[4] = { { 0 } }, sleeper = { 0 };

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 2, &pg), 0);
	run_until_connected(pg, 5000);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT pg_sleep(5)", 0, NULL, on_res,
	    &sleeper), 0);	/* in flight */
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 1", 0, NULL, on_res, &r[0]), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 2", 0, NULL, on_res, &r[1]), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 3", 0, NULL, on_res, &r[2]),
	    PL_EAGAIN);
	pl_pg_stop(&pg);
	PL_CHECK_EQ_INT(sleeper.rv, PL_ECLOSED);
	PL_CHECK_EQ_INT(r[0].rv, PL_ECLOSED);
	PL_CHECK_EQ_INT(r[1].rv, PL_ECLOSED);
	PL_CHECK_EQ_INT(r[2].n, 0);
	teardown();
}

PL_TEST(server_restart_reconnects)
{
	struct pl_pg *pg = NULL;
	struct res a = { 0 }, down = { 0 }, after = { 0 };
	int i;

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 100, &pg), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 'up'", 0, NULL, on_res, &a), 0);
	run_until(&a.n, 1, 5000);
	PL_CHECK_EQ_STR(a.v, "up");

	PL_CHECK_EQ_INT(pg_down(), 0);
	for (i = 0; i < 300 && pl_pg_connected(pg); i++)
		run_until(&down.n, 1, 10);	/* the loop notices the close */
	PL_CHECK(!pl_pg_connected(pg));
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 1", 0, NULL, on_res, &down), 0);
	PL_CHECK_EQ_INT(down.n, 0);
	run_until(&down.n, 1, 2000);
	PL_CHECK_EQ_INT(down.rv, PL_EUNAVAIL);

	PL_CHECK_EQ_INT(pg_up(), 0);
	run_until_connected(pg, 8000);
	PL_CHECK(pl_pg_connected(pg));
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 'back'", 0, NULL, on_res,
	    &after), 0);
	run_until(&after.n, 1, 5000);
	PL_CHECK_EQ_INT(after.rv, 0);
	PL_CHECK_EQ_STR(after.v, "back");
	pl_pg_stop(&pg);
	teardown();
}

static struct pl_pg *stop_me;

static void
on_res_stop(int rv, struct pg_result *res, void *arg)
{
	on_res(rv, res, arg);
	pl_pg_stop(&stop_me);
}

PL_TEST(stop_from_callback_and_libuv)
{
	struct res first = { 0 }, second = { 0 }, u = { 0 };
	struct pl_loop *ul;
	struct pl_pg *pg = NULL;
	uv_loop_t uv;

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 10, &stop_me), 0);
	PL_CHECK_EQ_INT(pl_pg_query(stop_me, "SELECT 1", 0, NULL, on_res_stop,
	    &first), 0);
	PL_CHECK_EQ_INT(pl_pg_query(stop_me, "SELECT 2", 0, NULL, on_res,
	    &second), 0);
	run_until(&second.n, 1, 5000);
	PL_CHECK_EQ_INT(first.rv, 0);
	PL_CHECK_EQ_INT(second.rv, PL_ECLOSED);
	PL_CHECK(stop_me == NULL);
	run_until(&u.n, 1, 30);	/* reaper */
	teardown();

	uv_loop_init(&uv);
	ul = pl_loop_uv_create(&uv);
	PL_CHECK_EQ_INT(pl_pg_start(ul, dsn, 10, &pg), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 'uv'", 0, NULL, on_res, &u), 0);
	for (int i = 0; i < 2500 && u.n == 0; i++)
		uv_run(&uv, UV_RUN_NOWAIT), usleep(2000);
	PL_CHECK_EQ_STR(u.v, "uv");
	pl_pg_stop(&pg);
	pl_loop_free(&ul);
	uv_run(&uv, UV_RUN_DEFAULT);
	PL_CHECK_EQ_INT(uv_loop_close(&uv), 0);
}

/* a 4 MB parameter: the send needs several writable wake-ups (PQflush 1) */
PL_TEST(large_query_flushes)
{
	struct pl_pg *pg = NULL;
	struct res r = { 0 };
	size_t n = 4 << 20;
	char *big = malloc(n + 1);
	const char *p[1] = { big };

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	memset(big, 'a', n);
	big[n] = 0;
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 10, &pg), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT length($1)", 1, p, on_res, &r), 0);
	free(big);	/* copied at submit */
	run_until(&r.n, 1, 10000);
	PL_CHECK_EQ_INT(r.rv, 0);
	PL_CHECK_EQ_STR(r.v, "4194304");
	pl_pg_stop(&pg);
	teardown();
}

/* the SQLSTATE of each query as its callback sees it */
struct st_res {
	struct pl_pg **pg;
	int n, rv, data;
	char state[6];
};

static void
on_state(int rv, struct pg_result *res, void *arg)
{
	struct st_res *r = arg;

	r->n++;
	r->rv = rv;
	snprintf(r->state, sizeof(r->state), "%s", pl_pg_sqlstate(*r->pg));
	r->data = pl_pg_data_error(rv, pl_pg_sqlstate(*r->pg));
}

PL_TEST(sqlstate_tells_data_errors)
{
	struct pl_pg *pg = NULL;
	struct st_res bad_utf8 = { .pg = &pg }, ok = { .pg = &pg }, undef = { .pg = &pg };
	struct st_res chk = { .pg = &pg };
	struct st_res after = { .pg = &pg };
	const char *p[1] = { "ab\xff" };

	/* the classifier alone */
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "22021"), 1);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "23505"), 1);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "54000"), 1);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "08006"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "57P01"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "53300"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "40P01"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, "42P01"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EIO, ""), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_EUNAVAIL, "22021"), 0);
	PL_CHECK_EQ_INT(pl_pg_data_error(PL_ECLOSED, "23505"), 0);
	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	PL_CHECK_EQ_INT(pl_pg_exec_sync(dsn, "DROP TABLE IF EXISTS ck;"
	    " CREATE TABLE ck (v int CHECK (v > 0))"), 0);
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 10, &pg), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT $1::text", 1, p, on_state, &bad_utf8), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 1", 0, NULL, on_state, &ok), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT * FROM no_such_table", 0, NULL, on_state,
	    &undef), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "INSERT INTO ck VALUES (-1)", 0, NULL, on_state,
	    &chk), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pg, "SELECT 2", 0, NULL, on_state, &after), 0);
	run_until(&after.n, 1, 10000);
	PL_CHECK_EQ_INT(bad_utf8.rv, PL_EIO);
	PL_CHECK_EQ_STR(bad_utf8.state, "22021");
	PL_CHECK_EQ_INT(bad_utf8.data, 1);
	PL_CHECK_EQ_INT(ok.rv, 0);
	PL_CHECK_EQ_STR(ok.state, "");		/* not the previous query's */
	PL_CHECK_EQ_INT(undef.rv, PL_EIO);
	PL_CHECK_EQ_STR(undef.state, "42P01");
	PL_CHECK_EQ_INT(undef.data, 0);
	PL_CHECK_EQ_STR(chk.state, "23514");
	PL_CHECK_EQ_INT(chk.data, 1);
	PL_CHECK_EQ_STR(after.state, "");
	PL_CHECK_EQ_INT(after.data, 0);
	pl_pg_stop(&pg);
	teardown();
}

struct rows_res {
	int n;
	char json[256];
};

static void
on_rows(int rv, struct pg_result *res, void *arg)
{
	struct rows_res *r = arg;
	struct pl_buf b;

	r->n++;
	if (rv != 0)
		return;
	pl_buf_init(&b);
	pl_pg_rows_json(&b, res);
	snprintf(r->json, sizeof(r->json), "%s", b.data);
	pl_buf_fini(&b);
}

PL_TEST(rows_json_and_least_busy)
{
	struct pl_pg *pool[3] = { NULL, NULL, NULL };
	struct rows_res rows = { 0 }, none = { 0 };
	struct res r = { 0 };

	PL_CHECK_EQ_INT(cluster(), 0);
	setup();
	/* pool[0] never connects (a closed port): the connected ones win */
	{
		char bad[128];

		snprintf(bad, sizeof(bad), "host=127.0.0.1 port=%d user=postgres"
		    " connect_timeout=1", free_port());
		PL_CHECK_EQ_INT(pl_pg_start(loop, bad, 10, &pool[0]), 0);
	}
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 10, &pool[1]), 0);
	PL_CHECK_EQ_INT(pl_pg_start(loop, dsn, 10, &pool[2]), 0);
	run_until_connected(pool[1], 10000);
	run_until_connected(pool[2], 10000);
	PL_CHECK(pl_pg_least_busy(pool, 3) == pool[1]);	/* a tie: the first */
	PL_CHECK_EQ_INT(pl_pg_query(pool[1], "SELECT pg_sleep(0.2)", 0, NULL, on_res, &r), 0);
	PL_CHECK(pl_pg_least_busy(pool, 3) == pool[2]);	/* fewer queued */
	PL_CHECK(pl_pg_least_busy(pool, 1) == pool[0]);	/* all down: still one */
	PL_CHECK_EQ_INT(pl_pg_query(pool[2], "SELECT * FROM (VALUES ('a', 'q\"x'),"
	    " ('b', NULL)) v", 0, NULL, on_rows, &rows), 0);
	PL_CHECK_EQ_INT(pl_pg_query(pool[2], "SELECT 1 WHERE false", 0, NULL, on_rows,
	    &none), 0);
	run_until(&none.n, 1, 10000);
	run_until(&r.n, 1, 10000);
	PL_CHECK_EQ_STR(rows.json, "[[\"a\",\"q\\\"x\"],[\"b\",\"\"]]");
	PL_CHECK_EQ_STR(none.json, "[]");
	for (int i = 0; i < 3; i++)
		pl_pg_stop(&pool[i]);
	teardown();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(rows_json_and_least_busy),
	PL_TEST_CASE(large_query_flushes),
	PL_TEST_CASE(sqlstate_tells_data_errors),
	PL_TEST_CASE(queries_params_errors_order),
	PL_TEST_CASE(binary_parameters),
	PL_TEST_CASE(queue_bound_and_stop_closes),
	PL_TEST_CASE(server_restart_reconnects),
	PL_TEST_CASE(stop_from_callback_and_libuv),
};
PL_TEST_MAIN(tests)
