/* pg.h - a non-blocking libpq connection on the loop, with a bounded queue of
 * queries run one after another and reconnection with backoff.
 *
 * Each query completes exactly once on the loop thread: rv 0 and the last
 * PGresult of the command string (borrowed, valid during the callback), or a
 * PL_E* with res NULL (PL_EUNAVAIL while disconnected, PL_EIO on an SQL
 * error, whose message is logged and available via pl_pg_last_error).
 * Queries queue while connecting; a query accepted by pl_pg_query (return 0)
 * calls back exactly once and never from inside the submit. When the
 * connection breaks, the query in flight and the queued ones complete with
 * PL_EUNAVAIL (never resent: the caller decides). */
#ifndef PL_PG_H
#define PL_PG_H
#include "loop.h"

struct pg_result;
struct pl_pg;
struct pl_buf;

typedef void (*pl_pg_fn)(int rv, struct pg_result *res, void *arg);

/* max_queue: queries waiting beyond this get PL_EAGAIN at submit */
int pl_pg_start(struct pl_loop *l, const char *dsn, int max_queue,
    struct pl_pg **r);
int pl_pg_connected(const struct pl_pg *pg);
/* params are text; copied at submit. nparams 0 allows several statements. */
int pl_pg_query(struct pl_pg *pg, const char *sql, int nparams,
    const char *const *params, pl_pg_fn cb, void *arg);
/* pl_pg_query_bin - the same with a length and a format (0 text, 1 binary)
 * per parameter, for binary parameters such as whole arrays of a batch */
int pl_pg_query_bin(struct pl_pg *pg, const char *sql, int nparams,
    const char *const *params, const int *lengths, const int *formats,
    pl_pg_fn cb, void *arg);
int pl_pg_queued(const struct pl_pg *pg);
/* pl_pg_least_busy - of a pool of n (n >= 1) connections, the connected one
 * with the fewest queries queued (a disconnected one only if all are) */
struct pl_pg *pl_pg_least_busy(struct pl_pg *const *pool, int n);
/* pl_pg_rows_json - append every row of res as a JSON array of its fields'
 * text ([["a","b"],["c","d"]]; a NULL is "") */
void pl_pg_rows_json(struct pl_buf *b, const struct pg_result *res);
const char *pl_pg_last_error(const struct pl_pg *pg);
/* pl_pg_sqlstate - the SQLSTATE ("22021") of the SQL error of the query
 * whose callback is running (rv PL_EIO), "" when it got none; valid only
 * inside that callback */
const char *pl_pg_sqlstate(const struct pl_pg *pg);
/* pl_pg_data_error - 1 when (rv, sqlstate) says the statement's data was
 * refused (SQLSTATE classes 22, 23, 54): resending the same rows can never
 * succeed. 0 for every other failure (connection lost, server shutting
 * down, out of resources, deadlock, a bug in the SQL), which may pass on a
 * retry. */
int pl_pg_data_error(int rv, const char *sqlstate);
/* pl_pg_stop - pending queries complete with PL_ECLOSED */
void pl_pg_stop(struct pl_pg **pg);

/* pl_pg_exec_sync - blocking helper for start-up work (migrations) */
int pl_pg_exec_sync(const char *dsn, const char *sql);

#endif
