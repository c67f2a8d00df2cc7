/* svc.c - notify-svc's dependencies: its own PostgreSQL database (schema
 * migrated at start), the directory (membership, read only), the Kafka
 * consumer of both topics, a producer for CHANNEL_MARKED and the nng RPC
 * server. /readyz passes when both databases are connected and the
 * partitions are assigned. */
#include <stdlib.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "notify.h"
#include "ops.h"
#include "pg.h"
#include "redis.h"
#include "rpc.h"
#include "settings.h"

#define NS_PG_MAX_QUEUE 4000

struct ns ns;
struct ns_conf ns_conf;
static struct pl_rpc_server *ns_rpc;

/* ns_svc_check - readiness: every dependency connected */
static int
ns_svc_check(void *arg, struct pl_buf *why)
{
	(void)arg;
	if (ns.db == NULL || !pl_pg_connected(ns.db))
		pl_buf_puts(why, "notify database not connected; ");
	if (ns.dir == NULL || !pl_pg_connected(ns.dir))
		pl_buf_puts(why, "directory not connected; ");
	if (!ns_consume_ready())
		pl_buf_puts(why, "partitions not assigned; ");
	if (ns_rpc == NULL)
		pl_buf_puts(why, "rpc not listening; ");
	return why->len == 0;
}

/* ns_svc_lag - /metrics: records behind */
static double
ns_svc_lag(void *arg)
{
	(void)arg;
	return (double)ns_consume_lag();
}

/* ns_svc_init - migrate, connect, consume, serve */
int
ns_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *url = NULL;
	int rv;

	(void)base;
	ns.loop = loop;
	pl_ops_add_check("deps", ns_svc_check, NULL);
	pl_metrics_gauge_fn("parley_notify_consumer_lag",
	    "Log records not yet committed to the counts (behind the end + in memory).",
	    NULL, ns_svc_lag, NULL);
	ns_methods_init();
	if ((ns.brokers = pl_settings_brokers()) == NULL) {
		pl_log_error("NS-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		return PL_EINVAL;
	}
	if ((rv = ns_schema_migrate(ns_conf.pg_dsn)) != 0)
		return rv;
	if ((rv = pl_pg_start(loop, ns_conf.pg_dsn, NS_PG_MAX_QUEUE, &ns.db)) != 0 ||
	    (rv = pl_pg_start(loop, pl_settings.pg_directory_dsn, NS_PG_MAX_QUEUE,
	    &ns.dir)) != 0 ||
	    (rv = pl_kafka_producer_start(loop, ns.brokers, NULL, &ns.prod)) != 0 ||
	    (rv = pl_redis_start(loop, pl_settings.redis_addr, &ns.redis)) != 0 ||
	    (rv = ns_online_init(loop)) != 0 ||
	    (rv = ns_consume_start()) != 0 || (rv = ns_push_start()) != 0 ||
	    (rv = ns_digest_start()) != 0)
		return rv;
	url = pl_endpoint(PL_EP_NOTIFY_FMT, pl_settings.run_dir, 0, ns_conf.rpc_url);
	rv = pl_rpc_server_start(loop, url, (int)ns_conf.rpc_workers, ns_methods_handle,
	    NULL, &ns_rpc);
	if (rv == 0)
		pl_log_info("NS-INIT", "brokers=%s rpc=%s ordinal=%lld replicas=%lld",
		    ns.brokers, url, (long long)ns_conf.ordinal, (long long)ns_conf.replicas);
	free(url);
	return rv;
}

/* ns_svc_drain - stop taking requests; uncommitted records are re-read */
void
ns_svc_drain(void)
{
	if (ns_rpc)
		pl_rpc_server_stop(&ns_rpc);
	pl_daemon_stop();
}

/* ns_svc_fini - stop in reverse; safe after a partial init */
void
ns_svc_fini(void)
{
	if (ns_rpc)
		pl_rpc_server_stop(&ns_rpc);
	ns_digest_stop();
	ns_online_fini();	/* before push: its answers write push's arrays */
	ns_push_stop();
	ns_consume_stop();
	if (ns.prod)
		pl_kafka_producer_stop(&ns.prod, 2000);
	if (ns.dir)
		pl_pg_stop(&ns.dir);
	if (ns.db)
		pl_pg_stop(&ns.db);
	if (ns.redis)
		pl_redis_stop(&ns.redis);
	free(ns.brokers);
	ns.brokers = NULL;
}
