/* pg.c - one non-blocking libpq connection on the loop, running a bounded
 * FIFO of queries one at a time, reconnecting with backoff.
 *
 * States: CONNECTING (PQconnectPoll drives the watch's interest), READY
 * (a query is sent with PQsendQuery[Params], flushed on writability, its
 * results collected with PQconsumeInput/PQisBusy/PQgetResult on
 * readability) and DOWN (waiting for the retry timer). Queries queue while
 * CONNECTING or READY; while DOWN they complete with PL_EUNAVAIL from a
 * zero-delay timer (never inside pl_pg_query). When a connect fails or a
 * connection breaks, the query in flight and every queued one complete with
 * PL_EUNAVAIL: the caller decides whether to retry (it may not be
 * idempotent, so we never resend on our own).
 *
 * A callback may stop the connection: the object is then marked dead, the
 * rest complete with PL_ECLOSED, and the memory is reaped by a timer. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <libpq-fe.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "pg.h"

#define PG_BACKOFF_BASE_MS 100
#define PG_BACKOFF_CAP_MS 3000
#define PG_ERR_MAX 512

enum pg_state { PG_DOWN, PG_CONNECTING, PG_READY };

struct pgq {
	struct pgq *next;
	char *sql;
	int nparams;
	char **params;
	int *lengths, *formats;	/* NULL: text parameters */
	pl_pg_fn cb;
	void *arg;
	uint64_t start_us;
};

struct pl_pg {
	struct pl_loop *loop;
	char *dsn;
	int max_queue;
	enum pg_state state;
	PGconn *conn;
	int sock;
	struct pl_watch *w;
	int interest;
	struct pgq *head, *tail;	/* waiting */
	int nwaiting;
	struct pgq *active;		/* sent, results being collected */
	PGresult *last;			/* last result of the active query */
	int sql_failed;			/* the active query got an error */
	char last_error[PG_ERR_MAX];
	char sqlstate[6];		/* of the active query's error, "" if none */
	struct pl_backoff bo;
	struct pl_timer *retry;
	struct pl_timer *fail_timer;	/* completes queries refused while down */
	struct pgq *failed, *failed_tail;
	int in_cb;
	int dead;
	struct pl_timer *reaper;
};

static void pg_connect(struct pl_pg *pg);
static void pg_io_cb(int events, void *arg);

/* pg_line - the first line of a libpq message, for a log field */
static const char *
pg_line(const char *msg, char *buf, size_t size)
{
	size_t n = msg != NULL ? strcspn(msg, "\n") : 0;

	if (n >= size)
		n = size - 1;
	if (n > 0)
		memcpy(buf, msg, n);
	buf[n] = '\0';
	return buf;
}

/* pg_notice - server notices (and the FATAL of a terminated backend) go to
 * our log instead of libpq's default stderr writer */
static void
pg_notice(void *arg, const char *msg)
{
	char line[PG_ERR_MAX];

	pl_log_info("PL-PG-NOTICE", "msg=\"%s\"", pg_line(msg, line, sizeof(line)));
}

static struct {
	struct pl_metric *ok, *sql_error, *unavail, *closed;
	struct pl_metric *query_s;
	struct pl_metric *connects;
} pg_m;

/* pg_metrics_init - register the series (again is harmless) */
static void
pg_metrics_init(void)
{
	static const char *name = "parley_pg_queries_total";
	static const char *help = "PostgreSQL queries, by outcome.";

	pg_m.ok = pl_metrics_counter(name, help, "result=\"ok\"");
	pg_m.sql_error = pl_metrics_counter(name, help, "result=\"sql_error\"");
	pg_m.unavail = pl_metrics_counter(name, help, "result=\"unavail\"");
	pg_m.closed = pl_metrics_counter(name, help, "result=\"closed\"");
	pg_m.query_s = pl_metrics_histogram("parley_pg_query_seconds",
	    "Submit to completion of a query (queue wait included).", NULL,
	    PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	pg_m.connects = pl_metrics_counter("parley_pg_connects_total",
	    "PostgreSQL connections established.", NULL);
}

/* ---- queries ---- */

/* pgq_free - a query and its copies */
static void
pgq_free(struct pgq *q)
{
	int i;

	for (i = 0; i < q->nparams; i++)
		free(q->params[i]);
	free(q->params);
	free(q->lengths);
	free(q->formats);
	free(q->sql);
	free(q);
}

/* pgq_finish - call the user back once */
static void
pgq_finish(struct pl_pg *pg, struct pgq *q, int rv, PGresult *res)
{
	pl_metrics_inc(rv == 0 ? pg_m.ok : rv == PL_EUNAVAIL ? pg_m.unavail :
	    rv == PL_ECLOSED ? pg_m.closed : pg_m.sql_error);
	pl_metrics_observe(pg_m.query_s,
	    (double)(pl_clock_mono_us() - q->start_us) / 1e6);
	if (q->cb != NULL) {
		pg->in_cb++;
		q->cb(rv, res, q->arg);
		pg->in_cb--;
	}
	pgq_free(q);
}

/* pg_pop - take the oldest waiting query */
static struct pgq *
pg_pop(struct pl_pg *pg)
{
	struct pgq *q = pg->head;

	if (q != NULL) {
		pg->head = q->next;
		if (pg->head == NULL)
			pg->tail = NULL;
		pg->nwaiting--;
		q->next = NULL;
	}
	return q;
}

/* pg_fail_all - complete the active and every waiting query with rv
 * (PL_ECLOSED instead once the object is dead) */
static void
pg_fail_all(struct pl_pg *pg, int rv)
{
	struct pgq *q;

	if ((q = pg->active) != NULL) {
		pg->active = NULL;
		if (pg->last != NULL)
			PQclear(pg->last);
		pg->last = NULL;
		pgq_finish(pg, q, pg->dead ? PL_ECLOSED : rv, NULL);
	}
	while ((q = pg_pop(pg)) != NULL)
		pgq_finish(pg, q, pg->dead ? PL_ECLOSED : rv, NULL);
}

/* pg_fail_flush - timer: complete the queries refused while down */
static void
pg_fail_flush(void *arg)
{
	struct pl_pg *pg = arg;
	struct pgq *q;

	pl_loop_timer_stop(&pg->fail_timer);
	while ((q = pg->failed) != NULL && !pg->dead) {
		pg->failed = q->next;
		if (pg->failed == NULL)
			pg->failed_tail = NULL;
		pgq_finish(pg, q, PL_EUNAVAIL, NULL);
	}
}

/* pg_fail_later - refuse q on the next loop turn */
static void
pg_fail_later(struct pl_pg *pg, struct pgq *q)
{
	if (pg->failed_tail != NULL)
		pg->failed_tail->next = q;
	else
		pg->failed = q;
	pg->failed_tail = q;
	if (pg->fail_timer == NULL &&
	    pl_loop_timer(pg->loop, 0, 0, pg_fail_flush, pg, &pg->fail_timer) != 0)
		pl_panic("PL-PG-TIMER", "what=fail_timer");
}

/* ---- the watch ---- */

/* pg_want - set the watch's interest (re-creating it if the socket moved) */
static int
pg_want(struct pl_pg *pg, int interest)
{
	int fd = PQsocket(pg->conn);

	if (fd < 0)
		return PL_EIO;
	if (pg->w != NULL && fd != pg->sock)
		pl_loop_unwatch(&pg->w);
	pg->sock = fd;
	if (pg->w == NULL) {
		pg->interest = interest;
		return pl_loop_io(pg->loop, fd, interest, pg_io_cb, pg, &pg->w);
	}
	if (interest != pg->interest) {
		pg->interest = interest;
		return pl_loop_io_set(pg->w, interest);
	}
	return 0;
}

/* ---- connection life ---- */

static void
pg_retry_cb(void *arg)
{
	struct pl_pg *pg = arg;

	pl_loop_timer_stop(&pg->retry);
	pg_connect(pg);
}

/* pg_lost - the connection failed or broke: close, fail, retry later */
static void
pg_lost(struct pl_pg *pg, const char *ev)
{
	char line[PG_ERR_MAX];
	uint64_t ms;

	pl_log_warn(ev, "err=\"%s\"", pg->conn != NULL ?
	    pg_line(PQerrorMessage(pg->conn), line, sizeof(line)) : "none");
	pl_loop_unwatch(&pg->w);
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	pg->conn = NULL;
	pg->state = PG_DOWN;
	ms = pl_backoff_next(&pg->bo);
	if (pg->retry == NULL &&
	    pl_loop_timer(pg->loop, ms, 0, pg_retry_cb, pg, &pg->retry) != 0)
		pl_panic("PL-PG-TIMER", "what=retry");
	pg_fail_all(pg, PL_EUNAVAIL);
}

static void pg_start_next(struct pl_pg *pg);

/* pg_connect_step - drive PQconnectPoll after readiness */
static void
pg_connect_step(struct pl_pg *pg)
{
	/* libpq may close and reopen its socket between steps (another
	 * address, SSL fallback) and reuse the number: watch afresh */
	pl_loop_unwatch(&pg->w);
	switch (PQconnectPoll(pg->conn)) {
	case PGRES_POLLING_READING:
		if (pg_want(pg, PL_LOOP_READ) != 0)
			pg_lost(pg, "PL-PG-CONNECT-FAIL");
		return;
	case PGRES_POLLING_WRITING:
		if (pg_want(pg, PL_LOOP_WRITE) != 0)
			pg_lost(pg, "PL-PG-CONNECT-FAIL");
		return;
	case PGRES_POLLING_OK:
		break;
	default:
		pg_lost(pg, "PL-PG-CONNECT-FAIL");
		return;
	}
	if (PQsetnonblocking(pg->conn, 1) != 0 || pg_want(pg, PL_LOOP_READ) != 0) {
		pg_lost(pg, "PL-PG-CONNECT-FAIL");
		return;
	}
	pg->state = PG_READY;
	pl_metrics_inc(pg_m.connects);
	pl_backoff_reset(&pg->bo);
	pl_log_info("PL-PG-UP", "db=%s host=%s", PQdb(pg->conn), PQhost(pg->conn));
	pg_start_next(pg);
}

/* pg_connect - start a non-blocking connect */
static void
pg_connect(struct pl_pg *pg)
{
	pg->conn = PQconnectStart(pg->dsn);
	if (pg->conn == NULL)
		pl_panic("PL-PG-NOMEM", "what=PQconnectStart");
	PQsetNoticeProcessor(pg->conn, pg_notice, NULL);
	pg->state = PG_CONNECTING;
	pg->sock = -1;
	if (PQstatus(pg->conn) == CONNECTION_BAD ||
	    pg_want(pg, PL_LOOP_WRITE) != 0) {
		pg_lost(pg, "PL-PG-CONNECT-FAIL");
		return;
	}
}

/* ---- running queries ---- */

/* pg_send - hand q to libpq; 0 or PL_EIO (conn broken) */
static int
pg_send(struct pl_pg *pg, struct pgq *q)
{
	int ok, fl;

	ok = q->nparams > 0 ?
	    PQsendQueryParams(pg->conn, q->sql, q->nparams, NULL,
	    (const char *const *)q->params, q->lengths, q->formats, 0) :
	    PQsendQuery(pg->conn, q->sql);
	if (!ok)
		return PL_EIO;
	if ((fl = PQflush(pg->conn)) < 0)
		return PL_EIO;
	return pg_want(pg, fl ? PL_LOOP_READ | PL_LOOP_WRITE : PL_LOOP_READ);
}

/* pg_start_next - send the next waiting query if the line is free */
static void
pg_start_next(struct pl_pg *pg)
{
	if (pg->state != PG_READY || pg->active != NULL || pg->head == NULL)
		return;
	pg->active = pg_pop(pg);
	pg->sql_failed = 0;
	pg->sqlstate[0] = '\0';
	if (pg_send(pg, pg->active) != 0)
		pg_lost(pg, "PL-PG-SEND-FAIL");
}

/* pg_note_error - remember and log an SQL error of the active query */
static void
pg_note_error(struct pl_pg *pg, const PGresult *res)
{
	pg_line(PQresultErrorMessage(res), pg->last_error,
	    sizeof(pg->last_error));
	const char *st = PQresultErrorField(res, PG_DIAG_SQLSTATE);

	pg->sql_failed = 1;
	snprintf(pg->sqlstate, sizeof(pg->sqlstate), "%s", st ? st : "");
	pl_log_warn("PL-PG-SQL-ERROR", "state=%s err=\"%s\"",
	    st ? st : "?", pg->last_error);
}

/* pg_complete - the active query has all its results: call back */
static void
pg_complete(struct pl_pg *pg)
{
	struct pgq *q = pg->active;
	PGresult *res = pg->last;

	pg->active = NULL;
	pg->last = NULL;
	if (pg->sql_failed)
		pgq_finish(pg, q, PL_EIO, NULL);
	else
		pgq_finish(pg, q, 0, res);
	if (res != NULL)
		PQclear(res);
}

/* pg_collect - take every ready result; 1 when the active query is done */
static int
pg_collect(struct pl_pg *pg)
{
	PGresult *res;

	while (!PQisBusy(pg->conn)) {
		if ((res = PQgetResult(pg->conn)) == NULL)
			return 1;
		if (PQresultStatus(res) == PGRES_FATAL_ERROR)
			pg_note_error(pg, res);
		if (pg->last != NULL)
			PQclear(pg->last);
		pg->last = res;
	}
	return 0;
}

/* pg_on_ready_io - READY: flush, read, deliver */
static void
pg_on_ready_io(struct pl_pg *pg, int events)
{
	PGnotify *n;
	int fl;

	if (events & PL_LOOP_WRITE) {
		if ((fl = PQflush(pg->conn)) < 0) {
			pg_lost(pg, "PL-PG-LOST");
			return;
		}
		if (fl == 0 && pg_want(pg, PL_LOOP_READ) != 0) {
			pg_lost(pg, "PL-PG-LOST");
			return;
		}
	}
	if (!(events & PL_LOOP_READ))
		return;
	/* also how a server going away is noticed while idle */
	if (!PQconsumeInput(pg->conn) || PQstatus(pg->conn) == CONNECTION_BAD) {
		pg_lost(pg, "PL-PG-LOST");
		return;
	}
	while ((n = PQnotifies(pg->conn)) != NULL)
		PQfreemem(n);
	if (pg->active == NULL || !pg_collect(pg))
		return;
	pg_complete(pg);
	if (!pg->dead)
		pg_start_next(pg);
}

/* pg_io_cb - readiness of the connection's socket */
static void
pg_io_cb(int events, void *arg)
{
	struct pl_pg *pg = arg;

	if (pg->state == PG_CONNECTING)
		pg_connect_step(pg);
	else if (pg->state == PG_READY)
		pg_on_ready_io(pg, events);
}

/* ---- public ---- */

/* pl_pg_start - connect (in the background) to dsn */
int
pl_pg_start(struct pl_loop *l, const char *dsn, int max_queue,
    struct pl_pg **r)
{
	struct pl_pg *pg;

	if (l == NULL || dsn == NULL || max_queue <= 0 || r == NULL)
		return PL_EINVAL;
	pg_metrics_init();
	pg = pl_calloc(1, sizeof(*pg));
	pg->loop = l;
	pg->dsn = pl_strdup(dsn);
	pg->max_queue = max_queue;
	pg->sock = -1;
	pl_backoff_init(&pg->bo, PG_BACKOFF_BASE_MS, PG_BACKOFF_CAP_MS,
	    (uint64_t)getpid() ^ pl_clock_mono_us());
	pg_connect(pg);
	*r = pg;
	return 0;
}

/* pl_pg_connected - 1 while a connection is up */
int
pl_pg_connected(const struct pl_pg *pg)
{
	return pg != NULL && pg->state == PG_READY;
}

/* pg_enqueue - copy the query in and start it if the line is free */
static int
pg_enqueue(struct pl_pg *pg, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    pl_pg_fn cb, void *arg)
{
	struct pgq *q;
	int i;

	if (pg == NULL || pg->dead || sql == NULL || nparams < 0 ||
	    (nparams > 0 && params == NULL))
		return PL_EINVAL;
	if (pg->state != PG_DOWN && pg->nwaiting >= pg->max_queue)
		return PL_EAGAIN;
	q = pl_calloc(1, sizeof(*q));
	q->sql = pl_strdup(sql);
	q->nparams = nparams;
	q->params = nparams > 0 ? pl_calloc((size_t)nparams, sizeof(char *)) : NULL;
	if (lengths != NULL && nparams > 0) {
		q->lengths = pl_memdup(lengths, (size_t)nparams * sizeof(int));
		q->formats = pl_memdup(formats, (size_t)nparams * sizeof(int));
	}
	for (i = 0; i < nparams; i++)	/* libpq reads text ones to their NUL */
		if (params[i] != NULL)
			q->params[i] = lengths != NULL && formats[i] != 0 ?
			    pl_memdup(params[i], lengths[i] > 0 ?
			    (size_t)lengths[i] : 1) : pl_strdup(params[i]);
	q->cb = cb;
	q->arg = arg;
	q->start_us = pl_clock_mono_us();
	if (pg->state == PG_DOWN) {
		pg_fail_later(pg, q);
		return 0;
	}
	if (pg->tail != NULL)
		pg->tail->next = q;
	else
		pg->head = q;
	pg->tail = q;
	pg->nwaiting++;
	pg_start_next(pg);
	return 0;
}

/* pl_pg_query - queue a query with text parameters */
int
pl_pg_query(struct pl_pg *pg, const char *sql, int nparams,
    const char *const *params, pl_pg_fn cb, void *arg)
{
	return pg_enqueue(pg, sql, nparams, params, NULL, NULL, cb, arg);
}

/* pl_pg_query_bin - queue a query whose parameters have lengths and formats */
int
pl_pg_query_bin(struct pl_pg *pg, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    pl_pg_fn cb, void *arg)
{
	if (lengths == NULL || formats == NULL)
		return PL_EINVAL;
	return pg_enqueue(pg, sql, nparams, params, lengths, formats, cb, arg);
}

/* pl_pg_queued - queries not yet completed (waiting + in flight) */
int
pl_pg_queued(const struct pl_pg *pg)
{
	return pg == NULL ? 0 : pg->nwaiting + (pg->active != NULL);
}

struct pl_pg *
pl_pg_least_busy(struct pl_pg *const *pool, int n)
{
	struct pl_pg *best = pool[0];
	int i, bq = pl_pg_queued(best), bc = pl_pg_connected(best);

	for (i = 1; i < n; i++) {
		int q = pl_pg_queued(pool[i]), cn = pl_pg_connected(pool[i]);

		if ((cn && !bc) || (cn == bc && q < bq)) {
			best = pool[i];
			bq = q;
			bc = cn;
		}
	}
	return best;
}

void
pl_pg_rows_json(struct pl_buf *b, const struct pg_result *res)
{
	int i, k, nf = PQnfields(res);

	pl_buf_puts(b, "[");
	for (i = 0; i < PQntuples(res); i++) {
		pl_buf_puts(b, i ? ",[" : "[");
		for (k = 0; k < nf; k++) {
			pl_buf_puts(b, k ? "," : "");
			pl_buf_json_str(b, PQgetvalue(res, i, k));
		}
		pl_buf_puts(b, "]");
	}
	pl_buf_puts(b, "]");
}

/* pl_pg_last_error - first line of the last SQL error ("" if none) */
const char *
pl_pg_last_error(const struct pl_pg *pg)
{
	return pg != NULL ? pg->last_error : "";
}

/* pl_pg_sqlstate - SQLSTATE of the error of the query being completed */
const char *
pl_pg_sqlstate(const struct pl_pg *pg)
{
	return pg != NULL ? pg->sqlstate : "";
}

/* pl_pg_data_error - the one place that tells a refused row from a passing
 * failure. Classes 22 (data exception: invalid UTF-8 22021, value too long,
 * out of range), 23 (integrity constraint violation) and 54 (program limit
 * exceeded: an index row over btree's limit, 54000) say the statement's
 * data can never be stored: sending it again fails again. Everything else
 * may pass later and is not a data error: connection lost or refused (rv
 * PL_EUNAVAIL, class 08), the server shutting down or cancelling (57),
 * out of resources (53), serialization failure or deadlock (40), and the
 * classes of a bug in our own SQL (42, XX), which a retry keeps visible
 * instead of discarding rows. */
int
pl_pg_data_error(int rv, const char *sqlstate)
{
	if (rv != PL_EIO || sqlstate == NULL || strlen(sqlstate) != 5)
		return 0;
	return strncmp(sqlstate, "22", 2) == 0 || strncmp(sqlstate, "23", 2) == 0 ||
	    strncmp(sqlstate, "54", 2) == 0;
}

/* pg_free - release everything (nothing may run on pg afterwards) */
static void
pg_free(struct pl_pg *pg)
{
	struct pgq *q;

	pl_loop_timer_stop(&pg->retry);
	pl_loop_timer_stop(&pg->fail_timer);
	pl_loop_timer_stop(&pg->reaper);
	pl_loop_unwatch(&pg->w);
	if (pg->conn != NULL)
		PQfinish(pg->conn);
	while ((q = pg->failed) != NULL) {
		pg->failed = q->next;
		pgq_free(q);
	}
	free(pg->dsn);
	free(pg);
}

static void
pg_reap(void *arg)
{
	pg_free(arg);
}

/* pl_pg_stop - pending queries complete with PL_ECLOSED, then free */
void
pl_pg_stop(struct pl_pg **pgp)
{
	struct pl_pg *pg;
	struct pgq *q;

	if (pgp == NULL || (pg = *pgp) == NULL)
		return;
	*pgp = NULL;
	pg->dead = 1;
	pl_loop_unwatch(&pg->w);
	if (pg->conn != NULL)
		PQfinish(pg->conn);	/* abandons a query in flight */
	pg->conn = NULL;
	pg->state = PG_DOWN;
	pg_fail_all(pg, PL_ECLOSED);
	while ((q = pg->failed) != NULL) {
		pg->failed = q->next;
		pgq_finish(pg, q, PL_ECLOSED, NULL);
	}
	pg->failed_tail = NULL;
	if (pg->in_cb > 0) {
		if (pl_loop_timer(pg->loop, 0, 0, pg_reap, pg, &pg->reaper) != 0)
			pl_panic("PL-PG-TIMER", "what=reaper");
		return;
	}
	pg_free(pg);
}

/* pl_pg_exec_sync - blocking: connect, run sql, disconnect */
int
pl_pg_exec_sync(const char *dsn, const char *sql)
{
	char line[PG_ERR_MAX];
	PGconn *conn;
	PGresult *res;
	int rv = 0;

	if (dsn == NULL || sql == NULL)
		return PL_EINVAL;
	conn = PQconnectdb(dsn);
	if (PQstatus(conn) != CONNECTION_OK) {
		pl_log_error("PL-PG-SYNC-CONNECT", "err=\"%s\"",
		    pg_line(PQerrorMessage(conn), line, sizeof(line)));
		PQfinish(conn);
		return PL_EUNAVAIL;
	}
	PQsetNoticeProcessor(conn, pg_notice, NULL);
	res = PQexec(conn, sql);
	if (PQresultStatus(res) != PGRES_COMMAND_OK &&
	    PQresultStatus(res) != PGRES_TUPLES_OK) {
		pl_log_error("PL-PG-SYNC-SQL", "err=\"%s\"",
		    pg_line(PQresultErrorMessage(res), line, sizeof(line)));
		rv = PL_EIO;
	}
	PQclear(res);
	PQfinish(conn);
	return rv;
}
