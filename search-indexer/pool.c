/* pool.c - the index connections that answer queries (the writer, index.c,
 * has its own, so a slow query never delays indexing): started with a
 * statement_timeout, the least busy one picked for each statement, stopped.
 * Below answer.c and gather.c, which both run statements on them. */
#include <stdlib.h>

#include "buf.h"
#include "pg.h"
#include "search.h"

#define SI_POOL_MAX_QUEUE 10000

/* si_pool_start - the query connections, each with a statement_timeout and
 * JIT off (in the conninfo's options: a key=value DSN is assumed). JIT
 * compiled the block walk's plan (its estimated cost passes jit_above_cost)
 * for ~45 ms, to save nothing on a query that reads ~1,000 rows */
int
si_pool_start(struct pl_loop *loop)
{
	struct pl_buf dsn;
	int rv = 0;

	pl_buf_init(&dsn);
	pl_buf_printf(&dsn, "%s options='-c statement_timeout=%lld -c jit=off'", si_conf.pg_dsn,
	    (long long)si_conf.query_timeout_ms);
	for (si.nqpg = 0; rv == 0 && si.nqpg < si_conf.query_conns; si.nqpg++)
		if ((rv = pl_pg_start(loop, dsn.data, SI_POOL_MAX_QUEUE, &si.qpg[si.nqpg])) != 0)
			break;
	pl_buf_fini(&dsn);
	return rv;
}

/* si_pool_pg - the least busy query connection (connected ones first) */
struct pl_pg *
si_pool_pg(void)
{
	return pl_pg_least_busy(si.qpg, si.nqpg);
}

/* si_pool_stop - every query connection (queries in flight complete with an error) */
void
si_pool_stop(void)
{
	while (si.nqpg > 0)
		pl_pg_stop(&si.qpg[--si.nqpg]);
}
