/* svc.c - presence-svc's dependencies: Redis, PostgreSQL (manual away),
 * the parley.presence producer, the pull socket of gateway reports and the
 * RPC socket of queries, plus the sweep timer that expires silent
 * connections, idle users and typing throttle entries. /readyz passes once
 * the producer and both sockets are started; Redis is a cache with an
 * in-memory fallback and PostgreSQL only holds manual away, so their state
 * shows in /metrics and the log, not in readiness. */
#include <stdlib.h>

#include "buf.h"
#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "settings.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "ops.h"
#include "presence.h"
#include "redis.h"
#include "rpc.h"

#define PS_GRACE_TICKS 20	/* the grace timer's period: grace / this, >= 10 ms */

static struct {
	struct pl_loop *loop;
	struct pl_redis *redis;
	struct pl_kafka_producer *producer;
	struct pl_rpc_pull *pull;
	struct pl_rpc_server *rpc;
	struct pl_timer *sweep;
	struct pl_timer *grace;
} ps_svc;

/* ps_svc_check - readiness: the producer and the report socket */
static int
ps_svc_check(void *arg, struct pl_buf *why)
{
	(void)arg;
	if (ps_svc.producer == NULL)
		pl_buf_puts(why, "kafka producer not started; ");
	if (ps_svc.pull == NULL)
		pl_buf_puts(why, "report socket not listening; ");
	if (ps_svc.rpc == NULL)
		pl_buf_puts(why, "rpc socket not listening; ");
	return why->len == 0;
}

/* ps_svc_redis_up - 1 while Redis is connected, for /metrics */
static double
ps_svc_redis_up(void *arg)
{
	(void)arg;
	return ps_svc.redis != NULL && pl_redis_connected(ps_svc.redis);
}

/* ps_svc_sweep - the timer: expire silent connections and typing windows */
static void
ps_svc_sweep(void *arg)
{
	(void)arg;
	ps_typing_expire(pl_clock_mono_ms());
	ps_conns_sweep();
	ps_store_tick();
}

/* ps_svc_grace - the timer: reconnect graces that ended say away */
static void
ps_svc_grace(void *arg)
{
	(void)arg;
	ps_conns_grace_tick(pl_clock_mono_ms());
}

/* ps_svc_start - Redis, PostgreSQL, producer, modules, timer, then the
 * report and RPC sockets */
static int
ps_svc_start(struct pl_loop *loop, const char *brokers, const char *url,
    const char *rpc_url)
{
	int rv;

	if ((rv = pl_redis_start(loop, pl_settings.redis_addr, &ps_svc.redis)) != 0 ||
	    (rv = ps_store_init(loop, pl_settings.pg_directory_dsn)) != 0 ||
	    (rv = pl_kafka_producer_start(loop, brokers, NULL, &ps_svc.producer)) != 0)
		return rv;
	ps_publish_init(ps_svc.producer);
	ps_typing_init();
	ps_conns_init(ps_svc.redis);
	if ((rv = pl_loop_timer(loop, (uint64_t)ps_conf.sweep_ms, 1, ps_svc_sweep,
	    NULL, &ps_svc.sweep)) != 0)
		return rv;
	if (ps_conf.grace_ms > 0 && (rv = pl_loop_timer(loop, (uint64_t)(ps_conf.grace_ms /
	    PS_GRACE_TICKS > 10 ? ps_conf.grace_ms / PS_GRACE_TICKS : 10), 1, ps_svc_grace,
	    NULL, &ps_svc.grace)) != 0)
		return rv;
	if ((rv = pl_rpc_pull_start(loop, url, ps_report_recv, NULL, &ps_svc.pull)) != 0)
		return rv;
	return pl_rpc_server_start(loop, rpc_url, 0, ps_query_recv, NULL, &ps_svc.rpc);
}

/* ps_svc_init - connect the dependencies and listen for reports */
int
ps_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *brokers = pl_settings_brokers(), *url = NULL, *rpc_url = NULL;
	int rv = PL_EINVAL;

	(void)base;
	ps_svc.loop = loop;
	ps_report_init();
	ps_query_init();
	pl_ops_add_check("deps", ps_svc_check, NULL);
	pl_metrics_gauge_fn("parley_presence_redis_up",
	    "1 while Redis is connected (else the in-memory view serves).", NULL,
	    ps_svc_redis_up, NULL);
	if (brokers == NULL) {
		pl_log_error("PS-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		goto out;
	}
	url = pl_endpoint(PL_EP_PRESENCE_PUSH_FMT, pl_settings.run_dir, 0, ps_conf.push_url);
	rpc_url = pl_endpoint(PL_EP_PRESENCE_RPC_FMT, pl_settings.run_dir, 0, ps_conf.rpc_url);
	if ((rv = ps_svc_start(loop, brokers, url, rpc_url)) != 0)
		goto out;
	pl_log_info("PS-INIT", "brokers=%s redis=%s push_url=%s rpc_url=%s ttl_ms=%lld "
	    "sweep_ms=%lld typing_ms=%lld grace_ms=%lld auto_away_s=%lld buckets=%lld",
	    brokers, pl_settings.redis_addr, url, rpc_url, (long long)ps_conf.ttl_ms,
	    (long long)ps_conf.sweep_ms, (long long)ps_conf.typing_ms,
	    (long long)ps_conf.grace_ms, (long long)ps_conf.auto_away_s,
	    (long long)ps_conf.buckets);
out:
	free(rpc_url);
	free(url);
	free(brokers);
	return rv;
}

/* ps_svc_drain - stop taking reports; fini flushes what is in flight */
void
ps_svc_drain(void)
{
	if (ps_svc.pull)
		pl_rpc_pull_stop(&ps_svc.pull);
	if (ps_svc.rpc)
		pl_rpc_server_stop(&ps_svc.rpc);
	pl_daemon_stop();
}

/* ps_svc_fini - stop in reverse; safe after a partial init. Redis stops
 * before the modules: its pending callbacks still find their tables. */
void
ps_svc_fini(void)
{
	if (ps_svc.pull)
		pl_rpc_pull_stop(&ps_svc.pull);
	if (ps_svc.rpc)
		pl_rpc_server_stop(&ps_svc.rpc);
	if (ps_svc.sweep)
		pl_loop_timer_stop(&ps_svc.sweep);
	if (ps_svc.grace)
		pl_loop_timer_stop(&ps_svc.grace);
	if (ps_svc.redis)
		pl_redis_stop(&ps_svc.redis);
	ps_store_fini();
	ps_conns_fini();
	ps_typing_fini();
	if (ps_svc.producer)
		pl_kafka_producer_stop(&ps_svc.producer, 2000);
	ps_publish_fini();
}
