/* services.c - what the gateway talks to: Redis (tickets), message-svc (the
 * client stub, proto/message_clnt.h), presence-svc (nng push of connect,
 * disconnect, heartbeat and typing reports; REQ to its RPC socket), and the readiness probe of
 * message-svc: every shard must have answered a recent probe. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_services.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "names.h"
#include "ops.h"
#include "notify_clnt.h"
#include "presence_clnt.h"
#include "search_clnt.h"
#include "redis.h"

#define GW_PROBE_MS 2000
#define GW_PROBE_FRESH_MS 7000

static struct {
	struct pl_timer *probe;
	uint64_t *answered_ms;	/* per shard: last probe answer (monotonic) */
	int shards;
} gw_svc;

/* gw_services_brokers - the bootstrap list: setting, else the file */
char *
gw_services_brokers(void)
{
	char line[4096];
	FILE *f;
	size_t n;

	if (gw_conf.kafka_brokers[0])
		return pl_strdup(gw_conf.kafka_brokers);
	if ((f = fopen(gw_conf.kafka_brokers_file, "r")) == NULL) {
		pl_log_error("GW-KAFKA-BROKERS", "file=%s err=missing",
		    gw_conf.kafka_brokers_file);
		return NULL;
	}
	n = fread(line, 1, sizeof(line) - 1, f);
	fclose(f);
	line[n] = 0;
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == ' ' || line[n - 1] == '\r'))
		line[--n] = 0;
	return n ? pl_strdup(line) : NULL;
}

/* gw_services_probe_done - a shard answered (any decoded reply counts) */
static void
gw_services_probe_done(int rv, Parley__Reply *reply, void *arg)
{
	int shard = (int)(intptr_t)arg;

	if (rv == 0 && reply != NULL && shard < gw_svc.shards)
		gw_svc.answered_ms[shard] = pl_clock_mono_ms();
}

/* gw_services_probe - ask every shard a cheap question */
static void
gw_services_probe(void *arg)
{
	Parley__Request req;
	int i;

	(void)arg;
	for (i = 0; i < gw_svc.shards; i++) {
		pl_request_init(&req, "gateway.probe");
		(void)pl_message_clnt_call(gw.msg, i, &req, gw_services_probe_done,
		    (void *)(intptr_t)i);
		pl_request_fini(&req);
	}
}

/* gw_services_ready - /readyz: every message-svc shard answers */
static int
gw_services_ready(void *arg, struct pl_buf *why)
{
	uint64_t now = pl_clock_mono_ms();
	int i, ok = 1;

	(void)arg;
	for (i = 0; i < gw_svc.shards; i++) {
		if (gw_svc.answered_ms[i] == 0 || now - gw_svc.answered_ms[i] > GW_PROBE_FRESH_MS) {
			pl_buf_printf(why, "%smessage-svc shard %d unreachable", ok ? "" : "; ", i);
			ok = 0;
		}
	}
	return ok;
}

/* gw_services_breaker - breaker state of a shard for /metrics: 0 closed,
 * 1 open, 2 half-open (lib/breaker.h's order) */
static double
gw_services_breaker(void *arg)
{
	int shard = (int)(intptr_t)arg;

	return gw.msg ? (double)pl_message_clnt_breaker_state(gw.msg, shard) : 0;
}

/* gw_services_breaker_metrics - one gauge per message-svc shard */
static void
gw_services_breaker_metrics(void)
{
	char labels[32];
	int i;

	for (i = 0; i < gw_svc.shards; i++) {
		snprintf(labels, sizeof(labels), "shard=\"%d\"", i);
		pl_metrics_gauge_fn("parley_gateway_breaker_state",
		    "message-svc circuit breaker per shard: 0 closed, 1 open, 2 half-open.",
		    labels, gw_services_breaker, (void *)(intptr_t)i);
	}
}

/* gw_services_partitions - partitions of parley.messages (setting or broker) */
static int
gw_services_partitions(void)
{
	int n;

	if (gw_conf.partitions > 0)
		return (int)gw_conf.partitions;
	if (gw.kafka == NULL)
		return PL_EUNAVAIL;
	n = pl_kafka_partition_count(gw.kafka, PL_TOPIC_MESSAGES, 5000);
	return n > 0 ? n : PL_EUNAVAIL;
}

/* gw_services_start - Redis, message-svc client, presence push, probe */
int
gw_services_start(void)
{
	struct pl_message_clnt_conf mc;
	struct pl_notify_clnt_conf nc;
	struct pl_search_clnt_conf sc = { 0 };
	char *url;
	int rv, parts;

	if ((rv = pl_redis_start(gw.loop, gw_conf.redis_addr, &gw.redis)) != 0)
		return rv;
	if ((parts = gw_services_partitions()) < 0)
		return parts;
	memset(&mc, 0, sizeof(mc));
	mc.run_dir = gw_conf.run_dir;
	mc.urls = gw_conf.message_urls;
	mc.shard_count = (int)gw_conf.shard_count;
	mc.partitions = parts;
	mc.timeout_ms = (int)gw_conf.rpc_timeout_ms;
	mc.resend_ms = (int)gw_conf.rpc_timeout_ms;
	mc.breaker_threshold = (int)gw_conf.breaker_threshold;
	mc.breaker_open_ms = (int)gw_conf.breaker_open_ms;
	if ((rv = pl_message_clnt_start(gw.loop, &mc, &gw.msg)) != 0)
		return rv;
	url = pl_endpoint(PL_EP_PRESENCE_PUSH_FMT, gw_conf.run_dir, 0, gw_conf.presence_url);
	rv = pl_presence_clnt_start(gw.loop, url, &gw.presence);
	free(url);
	if (rv != 0)
		return rv;
	url = pl_endpoint(PL_EP_PRESENCE_RPC_FMT, gw_conf.run_dir, 0, gw_conf.presence_rpc_url);
	rv = pl_presence_clnt_rpc(gw.presence, url, (int)gw_conf.rpc_timeout_ms);
	free(url);
	if (rv != 0)
		return rv;
	memset(&nc, 0, sizeof(nc));
	nc.run_dir = gw_conf.run_dir;
	nc.url = gw_conf.notify_url;
	nc.timeout_ms = (int)gw_conf.rpc_timeout_ms;
	nc.breaker_threshold = (int)gw_conf.breaker_threshold;
	nc.breaker_open_ms = (int)gw_conf.breaker_open_ms;
	if ((rv = pl_notify_clnt_start(gw.loop, &nc, &gw.notify)) != 0)
		return rv;
	sc.run_dir = gw_conf.run_dir;
	sc.urls = gw_conf.search_urls;
	sc.timeout_ms = (int)gw_conf.rpc_timeout_ms;
	if ((rv = pl_search_clnt_start(gw.loop, &sc, &gw.search)) != 0)
		return rv;
	gw_svc.shards = pl_message_clnt_shards(gw.msg);
	gw_svc.answered_ms = pl_calloc((size_t)gw_svc.shards + 1, sizeof(uint64_t));
	pl_ops_add_check("message-svc", gw_services_ready, NULL);
	gw_services_breaker_metrics();
	gw_services_probe(NULL);
	pl_log_info("GW-SERVICES", "shards=%d partitions=%d redis=%s", gw_svc.shards,
	    parts, gw_conf.redis_addr);
	return pl_loop_timer(gw.loop, GW_PROBE_MS, 1, gw_services_probe, NULL,
	    &gw_svc.probe);
}

/* gw_services_stop - in reverse */
void
gw_services_stop(void)
{
	pl_loop_timer_stop(&gw_svc.probe);
	pl_search_clnt_stop(&gw.search);
	pl_notify_clnt_stop(&gw.notify);
	pl_presence_clnt_stop(&gw.presence);
	pl_message_clnt_stop(&gw.msg);
	pl_redis_stop(&gw.redis);
	free(gw_svc.answered_ms);
	gw_svc.answered_ms = NULL;
	gw_svc.shards = 0;
}

/* gw_services_presence - report to presence-svc through its client stub
 * (best effort: presence is soft state, a dropped report is repaired by the
 * next heartbeat) */
void
gw_services_presence(const struct gw_conn *c, const char *what,
    const char *channel)
{
	struct pl_presence_report r;

	if (gw.presence == NULL)
		return;
	r.what = what;
	r.user = c->user;
	r.team = c->team;
	r.session = c->session;
	r.gateway = gw.name;
	r.channel = channel;
	(void)pl_presence_report(gw.presence, &r);
}
