/* svc.c - search-indexer's life: the schema, the index database, the
 * directory, the message-svc client, the log writer and the RPC port, in
 * that order; readiness, metrics, and teardown in reverse. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "log.h"
#include "message_clnt.h"
#include "metrics.h"
#include "names.h"
#include "ops.h"
#include "pg.h"
#include "rpc.h"
#include "search.h"
#include "search_clnt.h"
#include "settings.h"

#define SI_PG_MAX_QUEUE 10000

struct si_conf si_conf;
struct si_metrics si_m;
struct si_state si;

static struct pl_rpc_server *si_rpc;

/* seconds: indexing lag is from a few ms to minutes (catching up) */
static const double si_lag_bounds[] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
};

/* si_svc_check - readiness: the databases and the log caught up once */
static int
si_svc_check(void *arg, struct pl_buf *why)
{
	if (si.pg == NULL || !pl_pg_connected(si.pg) || si.nqpg == 0 ||
	    !pl_pg_connected(si_pool_pg()))
		pl_buf_puts(why, "index database not connected; ");
	if (si.dir == NULL || !pl_pg_connected(si.dir))
		pl_buf_puts(why, "directory not connected; ");
	if (!si_index_ready())
		pl_buf_puts(why, "index catching up with the log; ");
	return why->len == 0;
}

/* si_svc_behind - events not yet in the index, for /metrics */
static double
si_svc_behind(void *arg)
{
	return (double)si_index_behind();
}

/* si_svc_metrics - register every metric once */
static void
si_svc_metrics(void)
{
	const char *q = "parley_search_query_errors_total";

	si_m.indexed = pl_metrics_counter("parley_search_indexed_total",
	    "message events written to the index (created, changed, deleted, reactions)",
	    NULL);
	si_m.lag = pl_metrics_histogram("parley_search_index_lag_seconds",
	    "a created message's ts to its commit in the index", NULL, si_lag_bounds,
	    (int)(sizeof(si_lag_bounds) / sizeof(si_lag_bounds[0])));
	si_m.batch_s = pl_metrics_histogram("parley_search_batch_seconds",
	    "index transaction latency", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	si_m.batch_size = pl_metrics_histogram("parley_search_batch_size",
	    "events per index transaction", NULL, PL_METRICS_SIZE, PL_METRICS_SIZE_N);
	si_m.queries = pl_metrics_counter("parley_search_queries_total",
	    "search.messages requests", NULL);
	si_m.query_s = pl_metrics_histogram("parley_search_query_seconds",
	    "search.messages latency (request to reply)", NULL, PL_METRICS_LATENCY_S,
	    PL_METRICS_LATENCY_S_N);
	si_m.err_index = pl_metrics_counter("parley_search_index_errors_total",
	    "index transactions that failed (retried with backoff)", NULL);
	si_m.err_query = pl_metrics_counter(q, "search.messages error replies",
	    "kind=\"internal\"");
	si_m.err_client = pl_metrics_counter(q, "search.messages error replies",
	    "kind=\"client\"");
	si_m.bad_input = pl_metrics_counter("parley_search_bad_input_total",
	    "undecodable requests or log records", NULL);
	pl_metrics_gauge_fn("parley_search_index_behind", "log events not yet in the index",
	    NULL, si_svc_behind, NULL);
	si_m.partials = pl_metrics_counter("parley_search_partials_total",
	    "parts of queries answered for another instance (search.partial, search.rows)",
	    NULL);
}

/* si_svc_peers_start - with several instances, a client of every one (this
 * one's URL included, never called) and a failure counter per peer */
static int
si_svc_peers_start(void)
{
	struct pl_search_clnt_conf sc = { 0 };
	struct pl_buf urls, lab;
	int i, rv;

	if (si_conf.count <= 1)
		return 0;
	pl_buf_init(&urls);
	pl_buf_init(&lab);
	if (si_conf.search_urls != NULL && si_conf.search_urls[0] != '\0')
		pl_buf_puts(&urls, si_conf.search_urls);
	else
		for (i = 0; i < si_conf.count; i++)
			pl_buf_printf(&urls, "%sipc://%s/search-%d.ipc", i ? "," : "",
			    pl_settings.run_dir, i);
	for (i = 0; i < si_conf.count; i++) {
		pl_buf_reset(&lab);
		pl_buf_printf(&lab, "instance=\"%d\"", i);
		if (i != si_conf.index)
			si.peer_err[i] = pl_metrics_counter("parley_search_peer_errors_total",
			    "an instance's part of a query that failed or missed the deadline"
			    " (the query failed)", lab.data);
	}
	sc.run_dir = pl_settings.run_dir;
	sc.urls = urls.data;
	sc.timeout_ms = (int)si_conf.peer_timeout_ms;
	rv = pl_search_clnt_start(si.loop, &sc, &si.peers);
	if (rv == 0 && pl_search_clnt_instances(si.peers) != si_conf.count) {
		pl_log_error("SI-URLS-BAD", "urls=%d search_count=%lld",
		    pl_search_clnt_instances(si.peers), (long long)si_conf.count);
		rv = PL_EINVAL;
	}
	pl_buf_fini(&urls);
	pl_buf_fini(&lab);
	return rv;
}

/* si_svc_schema - the tables, retrying while PostgreSQL starts */
static int
si_svc_schema(void)
{
	int i, rv = PL_EUNAVAIL;

	for (i = 0; i < 30; i++) {
		if ((rv = si_schema_apply(si_conf.pg_dsn, si_conf.reindex)) == 0)
			return 0;
		usleep(500 * 1000);
	}
	return rv;
}

/* si_svc_msg_start - the message-svc client (as the gateway's) */
static int
si_svc_msg_start(void)
{
	struct pl_message_clnt_conf mc = { 0 };

	mc.run_dir = pl_settings.run_dir;
	mc.urls = si_conf.message_urls;
	mc.shard_count = (int)si_conf.shard_count;
	mc.partitions = si.partitions;
	mc.timeout_ms = (int)si_conf.rpc_timeout_ms;
	mc.resend_ms = (int)si_conf.rpc_timeout_ms;
	return pl_message_clnt_start(si.loop, &mc, &si.msg);
}

/* si_svc_init - dependencies, then the writer, then the RPC port */
int
si_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *url = NULL, fmt[64];
	int rv;

	si.loop = loop;
	if (si_conf.index >= si_conf.count || si_conf.count > SI_INSTANCES_MAX)
		pl_fatal("SI-CONF-BAD", "search_index=%lld search_count=%lld",
		    (long long)si_conf.index, (long long)si_conf.count);
	pl_ops_add_check("deps", si_svc_check, NULL);
	if ((si.brokers = pl_settings_brokers()) == NULL) {
		pl_log_error("SI-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		return PL_EINVAL;
	}
	si_svc_metrics();
	if ((rv = si_svc_schema()) != 0)
		return rv;
	if ((rv = pl_pg_start(loop, si_conf.pg_dsn, SI_PG_MAX_QUEUE, &si.pg)) != 0 ||
	    (rv = si_pool_start(loop)) != 0 ||
	    (rv = pl_pg_start(loop, pl_settings.pg_directory_dsn, SI_PG_MAX_QUEUE,
	    &si.dir)) != 0 ||
	    (rv = si_index_start()) != 0 ||
	    (rv = si_svc_msg_start()) != 0 ||
	    (rv = si_svc_peers_start()) != 0)
		return rv;
	if (si_conf.count > 1)
		snprintf(fmt, sizeof(fmt), "ipc://%%s/search-%lld.ipc", (long long)si_conf.index);
	else
		snprintf(fmt, sizeof(fmt), "%s", PL_EP_SEARCH_FMT);
	url = pl_endpoint(fmt, pl_settings.run_dir, 0, si_conf.rpc_url);
	rv = pl_rpc_server_start(loop, url, (int)si_conf.rpc_workers, si_answer_handle,
	    NULL, &si_rpc);
	pl_log_info("SI-START", "instance=%lld/%lld rpc=%s partitions=%d reindex=%d rv=%d",
	    (long long)si_conf.index, (long long)si_conf.count, url, si.partitions,
	    si_conf.reindex, rv);
	free(url);
	return rv;
}

/* si_svc_drain - queries are short and the index is rebuilt from the log:
 * stop at once (what is not committed is read again at the next start) */
void
si_svc_drain(void)
{
	pl_daemon_stop();
}

/* si_svc_fini - reverse of init; safe after a partial init */
void
si_svc_fini(void)
{
	if (si_rpc != NULL)
		pl_rpc_server_stop(&si_rpc);
	if (si.peers != NULL)
		pl_search_clnt_stop(&si.peers);
	if (si.msg != NULL)
		pl_message_clnt_stop(&si.msg);
	si_index_stop();
	if (si.dir != NULL)
		pl_pg_stop(&si.dir);
	si_pool_stop();
	if (si.pg != NULL)
		pl_pg_stop(&si.pg);
	free(si.brokers);
	si.brokers = NULL;
}
