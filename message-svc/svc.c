/* svc.c - the shard's life: init in dependency order, readiness, metrics,
 * drain and teardown in reverse. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "daemon.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "names.h"
#include "ops.h"
#include "pg.h"
#include "redis.h"
#include "rpc.h"

/* ms_svc_brokers - the bootstrap list: the setting, else the file's first line */
static char *
ms_svc_brokers(void)
{
	char line[4096];
	FILE *f;
	size_t n;

	if (ms_conf.kafka_brokers != NULL && ms_conf.kafka_brokers[0] != '\0')
		return pl_strdup(ms_conf.kafka_brokers);
	if ((f = fopen(ms_conf.kafka_brokers_file, "r")) == NULL)
		return NULL;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	n = strcspn(line, "\r\n");
	line[n] = '\0';
	return n ? pl_strdup(line) : NULL;
}

/* ms_svc_metrics - register every metric once */
void
ms_svc_metrics(void)
{
	ms_m.requests = pl_metrics_counter("parley_ms_requests_total", "requests received", NULL);
	ms_m.sends = pl_metrics_counter("parley_ms_sends_total", "messages acknowledged", NULL);
	ms_m.send_errors = pl_metrics_counter("parley_ms_send_errors_total",
	    "sends whose produce failed", NULL);
	ms_m.produce_latency = pl_metrics_histogram("parley_ms_produce_seconds",
	    "produce to broker acknowledgement", NULL, PL_METRICS_LATENCY_S,
	    PL_METRICS_LATENCY_S_N);
	ms_m.events_persisted = pl_metrics_counter("parley_ms_events_persisted_total",
	    "log events committed to PostgreSQL", NULL);
	ms_m.batch_size = pl_metrics_histogram("parley_ms_persist_batch_size",
	    "events per persistence transaction", NULL, PL_METRICS_SIZE, PL_METRICS_SIZE_N);
	ms_m.pg_latency = pl_metrics_histogram("parley_ms_pg_seconds",
	    "persistence transaction latency", NULL, PL_METRICS_LATENCY_S,
	    PL_METRICS_LATENCY_S_N);
	ms_m.pg_errors = pl_metrics_counter("parley_ms_pg_errors_total",
	    "failed persistence transactions", NULL);
	ms_m.cache_hits = pl_metrics_counter("parley_ms_cache_total", "recent cache look-ups",
	    "result=\"hit\"");
	ms_m.cache_misses = pl_metrics_counter("parley_ms_cache_total", "recent cache look-ups",
	    "result=\"miss\"");
	ms_m.cache_batch = pl_metrics_histogram("parley_ms_cache_batch_size",
	    "acknowledged events per recent-cache write (one script per channel)", NULL,
	    PL_METRICS_SIZE, PL_METRICS_SIZE_N);
	ms_m.bad_input = pl_metrics_counter("parley_ms_bad_input_total",
	    "undecodable or refused requests, undecodable log records", NULL);
	ms_m.quarantined = pl_metrics_counter("parley_ms_quarantined_total",
	    "log events PostgreSQL refused, stored in message_quarantine", NULL);
	ms_m.persist_splits = pl_metrics_counter("parley_ms_persist_splits_total",
	    "persistence batches split after a data error", NULL);
	ms_m.dedupe_hits = pl_metrics_counter("parley_ms_dedupe_hits_total",
	    "sends answered from the idempotency record", NULL);
	ms_m.err_internal = pl_metrics_counter("parley_ms_errors_total", "error replies",
	    "kind=\"internal\"");
	ms_m.err_client = pl_metrics_counter("parley_ms_errors_total", "error replies",
	    "kind=\"client\"");
	ms_m.err_not_ready = pl_metrics_counter("parley_ms_errors_total", "error replies",
	    "kind=\"not_ready\"");
	ms_m.too_large = pl_metrics_counter("parley_ms_replies_too_large_total",
	    "replies over the RPC limit, answered response_too_large instead", NULL);
}

/* ms_svc_lag - persistence lag in log events, for /metrics */
static double
ms_svc_lag(void *arg)
{
	return (double)ms_persist_lag();
}

/* ms_svc_warm_dr - the warm-up record's answer: the producer id is known
 * and the broker connections are up, so the first send is not slow */
static void
ms_svc_warm_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	if (!ms.warm)
		pl_log_info("MS-PRODUCER-WARM", "rv=%d", rv);
	ms.warm = 1;
}

/* ms_svc_warm - produce harmless records (EVENT_UNKNOWN, which every reader
 * ignores) on parley.events before declaring ready */
static void
ms_svc_warm(void)
{
	Parley__Envelope env;
	uint8_t buf[128];
	char key[32];
	size_t len;
	int i, ok = 0;

	ms_send_env_init(&env, PARLEY__EVENT_TYPE__EVENT_UNKNOWN, "", "warm");
	len = parley__envelope__pack(&env, buf);
	for (i = 0; i < 8; i++) {
		snprintf(key, sizeof(key), "warm-%lld-%d", (long long)ms_conf.shard_index, i);
		if (pl_kafka_produce(ms.prod, PL_TOPIC_EVENTS, -1, key, strlen(key), buf, len,
		    ms_svc_warm_dr, NULL) == 0)
			ok++;
	}
	if (ok == 0)
		ms.warm = 1;
}

/* ms_svc_dir_connected - some directory connection is up (ms_state_dir
 * prefers those, so one is enough to serve) */
static int
ms_svc_dir_connected(void)
{
	int i;

	for (i = 0; i < ms.ndir; i++)
		if (pl_pg_connected(ms.dir[i]))
			return 1;
	return 0;
}

/* ms_svc_dir_start - the pool of dir-conns connections */
static int
ms_svc_dir_start(struct pl_loop *loop)
{
	int rv;

	for (ms.ndir = 0; ms.ndir < ms_conf.dir_conns; ms.ndir++)
		if ((rv = pl_pg_start(loop, ms_conf.pg_dir_dsn, 10000, &ms.dir[ms.ndir])) != 0)
			return rv;
	return 0;
}

/* ms_svc_check_* - readiness checks for /readyz */
static int
ms_svc_check_log(void *arg, struct pl_buf *why)
{
	if (!ms.caught_up)
		pl_buf_puts(why, "consumer catching up");
	return ms.caught_up;
}

/* the producer has had its warm-up acknowledged: before that sends answer
 * not_ready, so /readyz must not say ready either */
static int
ms_svc_check_producer(void *arg, struct pl_buf *why)
{
	int ok = ms.prod != NULL && ms.warm;

	if (!ok)
		pl_buf_puts(why, "producer warming up");
	return ok;
}

static int
ms_svc_check_pg(void *arg, struct pl_buf *why)
{
	int ok = pl_pg_connected(ms.pg) && ms_svc_dir_connected();

	if (!ok)
		pl_buf_puts(why, "postgresql down");
	return ok;
}

/* ms_svc_migrate - apply both sets, retrying while PostgreSQL starts */
static int
ms_svc_migrate(void)
{
	int i, rv = PL_EUNAVAIL;

	for (i = 0; i < 30; i++) {
		if ((rv = ms_migrations_apply(ms_conf.pg_dir_dsn, 1)) == 0 &&
		    (rv = ms_migrations_apply(ms_conf.pg_dsn, 0)) == 0)
			return 0;
		usleep(500 * 1000);
	}
	return rv;
}

/* ms_svc_producer_start - the shared producer: linger-ms batches the sends
 * of a busy shard into fewer, larger produce requests (and message sets: the
 * mock broker's fetch walks a partition's sets one by one), then kafka-extra */
static int
ms_svc_producer_start(void)
{
	struct pl_buf extra;
	int rv;

	pl_buf_init(&extra);
	pl_buf_printf(&extra, "linger.ms=%lld", (long long)ms_conf.linger_ms);
	if (ms_conf.kafka_extra != NULL && ms_conf.kafka_extra[0] != '\0')
		pl_buf_printf(&extra, ",%s", ms_conf.kafka_extra);
	rv = pl_kafka_producer_start(ms.loop, ms.brokers, extra.data, &ms.prod);
	pl_buf_fini(&extra);
	if (rv == 0)
		pl_kafka_producer_on_drained(ms.prod, ms_cache_flush, NULL);
	return rv;
}

static struct pl_timer *ms_sweep_timer;

/* ms_svc_sweep_tick - once a second: evict idle channel entries */
static void
ms_svc_sweep_tick(void *arg)
{
	(void)arg;
	ms_chan_sweep(pl_clock_mono_us(), 4096);
}

/* ms_svc_init - dependencies, then the consumer, then the RPC port */
int
ms_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *url = NULL;
	int rv;

	ms.base = base;
	ms.loop = loop;
	if (ms_conf.shard_index >= ms_conf.shard_count)
		pl_fatal("MS-CONF-BAD", "shard_index=%lld shard_count=%lld",
		    (long long)ms_conf.shard_index, (long long)ms_conf.shard_count);
	if (ms_conf.pg_dir_dsn == NULL || ms_conf.pg_dir_dsn[0] == '\0')
		ms_conf.pg_dir_dsn = ms_conf.pg_dsn;
	if ((ms.brokers = ms_svc_brokers()) == NULL) {
		pl_log_error("MS-KAFKA-NOBROKERS", "file=%s", ms_conf.kafka_brokers_file);
		return PL_EINVAL;
	}
	ms_svc_metrics();
	pl_metrics_gauge_fn("parley_ms_persist_lag", "log events not yet in PostgreSQL",
	    NULL, ms_svc_lag, NULL);
	if ((rv = ms_svc_migrate()) != 0)
		return rv;
	ms_chan_init();
	ms_dedupe_init();
	ms_resend_init();
	ms_tail_init();
	if ((rv = pl_pg_start(loop, ms_conf.pg_dsn, 10000, &ms.pg)) != 0 ||
	    (rv = ms_svc_dir_start(loop)) != 0 ||
	    (rv = pl_redis_start(loop, ms_conf.redis_addr, &ms.redis)) != 0 ||
	    (rv = ms_svc_producer_start()) != 0)
		return rv;
	ms_svc_warm();
	if ((rv = ms_persist_start()) != 0)
		return rv;
	url = pl_endpoint(PL_EP_MESSAGE_FMT, ms_conf.run_dir, (int)ms_conf.shard_index,
	    ms_conf.rpc_url);
	rv = pl_rpc_server_start(loop, url, (int)ms_conf.rpc_workers, ms_methods_handle,
	    NULL, &ms.rpc);
	if (rv == 0)
		rv = pl_loop_timer(loop, 1000, 1, ms_svc_sweep_tick, NULL, &ms_sweep_timer);
	pl_ops_add_check("log", ms_svc_check_log, NULL);
	pl_ops_add_check("producer", ms_svc_check_producer, NULL);
	pl_ops_add_check("postgresql", ms_svc_check_pg, NULL);
	pl_log_info("MS-START", "shard=%lld/%lld rpc=%s partitions=%d rv=%d",
	    (long long)ms_conf.shard_index, (long long)ms_conf.shard_count, url,
	    ms.partitions, rv);
	free(url);
	return rv;
}

static struct pl_timer *ms_drain_timer;
static uint64_t ms_drain_deadline_us;


/* ms_svc_drain_tick - stop once no append waits for the broker (or at the
 * deadline): their replies go out before the RPC port closes */
static void
ms_svc_drain_tick(void *arg)
{
	if (ms_send_inflight > 0 && pl_clock_mono_us() < ms_drain_deadline_us)
		return;
	if (ms_drain_timer != NULL)
		pl_loop_timer_stop(&ms_drain_timer);
	pl_log_info("MS-DRAIN-DONE", "inflight=%d", ms_send_inflight);
	pl_rpc_server_stop(&ms.rpc);
	pl_daemon_stop();
}

/* ms_svc_drain - refuse new sends (not_ready: the gateway retries
 * elsewhere), wait (bounded by drain-wait-ms) for in-flight produces */
void
ms_svc_drain(void)
{
	ms.draining = 1;
	pl_log_info("MS-DRAIN", "inflight=%d outq=%d", ms_send_inflight,
	    ms.prod ? pl_kafka_producer_outq(ms.prod) : 0);
	ms_drain_deadline_us = pl_clock_mono_us() + (uint64_t)ms_conf.drain_wait_ms * 1000;
	if (ms_send_inflight == 0 ||
	    pl_loop_timer(ms.loop, 10, 1, ms_svc_drain_tick, NULL, &ms_drain_timer) != 0)
		ms_svc_drain_tick(NULL);
}

/* ms_svc_fini - reverse of init (each step tolerates "never started") */
void
ms_svc_fini(void)
{
	if (ms_drain_timer != NULL)
		pl_loop_timer_stop(&ms_drain_timer);
	if (ms_sweep_timer != NULL)
		pl_loop_timer_stop(&ms_sweep_timer);
	if (ms.rpc != NULL)
		pl_rpc_server_stop(&ms.rpc);
	ms_persist_stop();
	if (ms.prod != NULL)
		pl_kafka_producer_stop(&ms.prod, 5000);
	if (ms.redis != NULL)
		pl_redis_stop(&ms.redis);
	while (ms.ndir > 0)
		pl_pg_stop(&ms.dir[--ms.ndir]);
	if (ms.pg != NULL)
		pl_pg_stop(&ms.pg);
	ms_tail_fini();
	ms_resend_fini();
	ms_dedupe_fini();
	ms_chan_fini();
	pl_free(&ms.brokers);
}
