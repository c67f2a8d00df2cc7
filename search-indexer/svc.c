/* svc.c - search-indexer's dependencies: PostgreSQL and the
 * parley.messages and parley.events feed; /readyz passes only when both are up. */
#include <stdlib.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "feed.h"
#include "log.h"
#include "names.h"
#include "search.h"
#include "settings.h"
#include "ops.h"
#include "pg.h"

#define SI_PG_MAX_QUEUE 1000

static struct {
	struct pl_pg *pg;
	struct pl_feed *feed;
} si_svc;

/* si_svc_check - readiness: every dependency connected */
static int
si_svc_check(void *arg, struct pl_buf *why)
{
	if (si_svc.pg == NULL || !pl_pg_connected(si_svc.pg))
		pl_buf_puts(why, "postgres not connected; ");
	if (si_svc.feed == NULL || !pl_feed_ready(si_svc.feed))
		pl_buf_puts(why, "kafka feed not assigned; ");
	return why->len == 0;
}

static const char *const si_svc_topics[] = { PL_TOPIC_MESSAGES, PL_TOPIC_EVENTS };

/* si_svc_init - connect PostgreSQL and the feed */
int
si_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *brokers = pl_settings_brokers();
	struct pl_feed_conf feed = { .fetch_wait_ms = pl_settings.kafka_fetch_wait_ms,
	    .fetch_min_bytes = pl_settings.feed_fetch_min_bytes,
	    .topics = si_svc_topics, .ntopics = 2, .metric_prefix = "parley_search" };
	int rv;

	pl_ops_add_check("deps", si_svc_check, NULL);
	if (brokers == NULL) {
		pl_log_error("SI-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		return PL_EINVAL;
	}
	feed.brokers = brokers;
	if ((rv = pl_pg_start(loop, pl_settings.pg_directory_dsn, SI_PG_MAX_QUEUE, &si_svc.pg)) != 0 ||
	    (rv = pl_feed_start(loop, &feed, &si_svc.feed)) != 0) {
		free(brokers);
		return rv;
	}
	pl_log_info("SI-INIT", "brokers=%s", brokers);
	free(brokers);
	return 0;
}

/* si_svc_drain - nothing is in flight at this stage: stop at once */
void
si_svc_drain(void)
{
	pl_daemon_stop();
}

/* si_svc_fini - stop in reverse; safe after a partial init */
void
si_svc_fini(void)
{
	if (si_svc.feed)
		pl_feed_stop(&si_svc.feed);
	if (si_svc.pg)
		pl_pg_stop(&si_svc.pg);
}
