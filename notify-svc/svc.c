/* svc.c - notify-svc's dependencies: Redis, the PostgreSQL directory and the
 * parley.messages feed; /readyz passes only when all three are up. */
#include <stdlib.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "feed.h"
#include "log.h"
#include "names.h"
#include "notify.h"
#include "ops.h"
#include "pg.h"
#include "redis.h"
#include "settings.h"

#define NS_PG_MAX_QUEUE 1000

static struct {
	struct pl_redis *redis;
	struct pl_pg *pg;
	struct pl_feed *feed;
} ns_svc;

/* ns_svc_check - readiness: every dependency connected */
static int
ns_svc_check(void *arg, struct pl_buf *why)
{
	if (ns_svc.redis == NULL || !pl_redis_connected(ns_svc.redis))
		pl_buf_puts(why, "redis not connected; ");
	if (ns_svc.pg == NULL || !pl_pg_connected(ns_svc.pg))
		pl_buf_puts(why, "postgres not connected; ");
	if (ns_svc.feed == NULL || !pl_feed_ready(ns_svc.feed))
		pl_buf_puts(why, "kafka feed not assigned; ");
	return why->len == 0;
}

static const char *const ns_svc_topics[] = { PL_TOPIC_MESSAGES };

/* ns_svc_init - connect Redis, PostgreSQL and the feed */
int
ns_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *brokers = pl_settings_brokers();
	struct pl_feed_conf feed = { .fetch_wait_ms = pl_settings.kafka_fetch_wait_ms,
	    .fetch_min_bytes = pl_settings.feed_fetch_min_bytes,
	    .topics = ns_svc_topics, .ntopics = 1, .metric_prefix = "parley_notify" };
	int rv;

	pl_ops_add_check("deps", ns_svc_check, NULL);
	if (brokers == NULL) {
		pl_log_error("NS-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		return PL_EINVAL;
	}
	feed.brokers = brokers;
	if ((rv = pl_redis_start(loop, pl_settings.redis_addr, &ns_svc.redis)) != 0 ||
	    (rv = pl_pg_start(loop, pl_settings.pg_directory_dsn, NS_PG_MAX_QUEUE, &ns_svc.pg)) != 0 ||
	    (rv = pl_feed_start(loop, &feed, &ns_svc.feed)) != 0) {
		free(brokers);
		return rv;
	}
	pl_log_info("NS-INIT", "brokers=%s redis=%s", brokers, pl_settings.redis_addr);
	free(brokers);
	return 0;
}

/* ns_svc_drain - nothing is in flight at this stage: stop at once */
void
ns_svc_drain(void)
{
	pl_daemon_stop();
}

/* ns_svc_fini - stop in reverse; safe after a partial init */
void
ns_svc_fini(void)
{
	if (ns_svc.feed)
		pl_feed_stop(&ns_svc.feed);
	if (ns_svc.pg)
		pl_pg_stop(&ns_svc.pg);
	if (ns_svc.redis)
		pl_redis_stop(&ns_svc.redis);
}
