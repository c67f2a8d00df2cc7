/* store.c - manual away, durably: the table presence_manual of the
 * directory database (PARLEY_PG_DIRECTORY_DSN, shard 0), which presence-svc
 * creates itself (schema_migrations row "presence-svc", version 1, under the
 * same advisory lock as message-svc's migrations). Redis caches the flag
 * ("{u:<user>}:st" manual); this is the truth a flushed or expired cache is
 * loaded from. presence-svc starts without PostgreSQL: the schema is retried
 * on every sweep, loads fail (the caller shows "not away", uncached, and
 * loads again on the next step) and users.setPresence answers
 * service_unavailable until it is there. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <libpq-fe.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "pg.h"
#include "presence.h"

#define PS_PG_MAX_QUEUE 4096

static const char ps_store_schema[] =
    "BEGIN; SELECT pg_advisory_xact_lock(7346001);"
    "CREATE TABLE IF NOT EXISTS schema_migrations (service text NOT NULL,"
    " version int NOT NULL, applied timestamptz NOT NULL DEFAULT now(),"
    " PRIMARY KEY (service, version));"
    "CREATE TABLE IF NOT EXISTS presence_manual (user_id text PRIMARY KEY,"
    " team_id text NOT NULL, away boolean NOT NULL,"
    " updated timestamptz NOT NULL DEFAULT now());"
    "INSERT INTO schema_migrations (service, version) VALUES ('presence-svc', 1)"
    " ON CONFLICT DO NOTHING;"
    "COMMIT;";

struct ps_store_call {
	ps_store_fn fn;
	void *arg;
};

static struct {
	struct pl_pg *pg;
	int ready;		/* the schema is there */
	int migrating;
	struct pl_metric *errors;
} ps_store;

/* ps_store_migrated - the schema's answer */
static void
ps_store_migrated(int rv, struct pg_result *res, void *arg)
{
	(void)res;
	(void)arg;
	ps_store.migrating = 0;
	if (rv == 0) {
		ps_store.ready = 1;
		pl_log_info("PS-STORE-READY", "table=presence_manual");
	} else if (rv != PL_ECLOSED) {
		pl_metrics_inc(ps_store.errors);
		pl_log_warn("PS-STORE-SCHEMA", "err=%s", pl_err_str(rv));
	}
}

/* ps_store_tick - the sweep: create the schema if it is not there yet */
void
ps_store_tick(void)
{
	if (ps_store.pg == NULL || ps_store.ready || ps_store.migrating)
		return;
	if (pl_pg_query(ps_store.pg, ps_store_schema, 0, NULL, ps_store_migrated,
	    NULL) == 0)
		ps_store.migrating = 1;
}

/* ps_store_init - connect (queries queue while connecting) */
int
ps_store_init(struct pl_loop *loop, const char *dsn)
{
	int rv;

	ps_store.errors = pl_metrics_counter("parley_presence_store_errors_total",
	    "PostgreSQL queries of manual away that failed.", NULL);
	if (dsn == NULL || dsn[0] == '\0') {
		pl_log_warn("PS-STORE-NONE", "reason=\"no PARLEY_PG_DIRECTORY_DSN: manual "
		    "away lives in Redis only\"");
		return 0;
	}
	if ((rv = pl_pg_start(loop, dsn, PS_PG_MAX_QUEUE, &ps_store.pg)) != 0)
		return rv;
	ps_store_tick();
	return 0;
}

/* ps_store_ready - 1 once manual away can be stored (or there is no store) */
int
ps_store_ready(void)
{
	return ps_store.pg == NULL || ps_store.ready;
}

/* ps_store_done - a load's or save's answer */
static void
ps_store_done(int rv, struct pg_result *res, void *arg)
{
	struct ps_store_call *call = arg;
	int away = 0;

	if (rv == 0 && res != NULL && PQntuples(res) > 0)
		away = PQgetvalue(res, 0, 0)[0] == 't';
	if (rv != 0 && rv != PL_ECLOSED) {
		pl_metrics_inc(ps_store.errors);
		pl_log_warn("PS-STORE-FAILED", "err=%s", pl_err_str(rv));
	}
	call->fn(rv, away, call->arg);
	free(call);
}

/* ps_store_query - submit; 0 when fn will run */
static int
ps_store_query(const char *sql, int n, const char *const *params,
    ps_store_fn fn, void *arg)
{
	struct ps_store_call *call;
	int rv;

	if (ps_store.pg == NULL)
		return PL_EUNAVAIL;
	if (!ps_store.ready) {
		ps_store_tick();
		return PL_EUNAVAIL;
	}
	call = pl_calloc(1, sizeof(*call));
	call->fn = fn;
	call->arg = arg;
	if ((rv = pl_pg_query(ps_store.pg, sql, n, params, ps_store_done, call)) != 0) {
		pl_metrics_inc(ps_store.errors);
		free(call);
	}
	return rv;
}

/* ps_store_load - the user's manual flag; no row: not away. Without a
 * store, fn runs at once with away 0 (Redis is all there is). */
int
ps_store_load(const char *user, ps_store_fn fn, void *arg)
{
	const char *params[] = { user };

	if (ps_store.pg == NULL) {
		fn(0, 0, arg);
		return 0;
	}
	return ps_store_query("SELECT away FROM presence_manual WHERE user_id = $1",
	    1, params, fn, arg);
}

/* ps_store_save - store the flag; without a store fn runs at once */
int
ps_store_save(const char *user, const char *team, int away, ps_store_fn fn,
    void *arg)
{
	const char *params[] = { user, team, away ? "true" : "false" };

	if (ps_store.pg == NULL) {
		fn(0, away, arg);
		return 0;
	}
	return ps_store_query("INSERT INTO presence_manual (user_id, team_id, away)"
	    " VALUES ($1, $2, $3) ON CONFLICT (user_id) DO UPDATE"
	    " SET away = EXCLUDED.away, team_id = EXCLUDED.team_id, updated = now()",
	    3, params, fn, arg);
}

/* ps_store_fini - pending queries complete with PL_ECLOSED */
void
ps_store_fini(void)
{
	if (ps_store.pg != NULL)
		pl_pg_stop(&ps_store.pg);
	ps_store.ready = 0;
}
