/* svc.c - presence-svc's dependencies: Redis, the parley.presence producer
 * and the pull socket of gateway reports; /readyz passes only when Redis is
 * connected and both others are started. */
#include <stdlib.h>

#include "buf.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "settings.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "names.h"
#include "ops.h"
#include "presence.h"
#include "redis.h"
#include "rpc.h"

static struct {
	struct pl_redis *redis;
	struct pl_kafka_producer *producer;
	struct pl_rpc_pull *pull;
} ps_svc;

/* ps_svc_check - readiness: every dependency up */
static int
ps_svc_check(void *arg, struct pl_buf *why)
{
	if (ps_svc.redis == NULL || !pl_redis_connected(ps_svc.redis))
		pl_buf_puts(why, "redis not connected; ");
	if (ps_svc.producer == NULL)
		pl_buf_puts(why, "kafka producer not started; ");
	if (ps_svc.pull == NULL)
		pl_buf_puts(why, "report socket not listening; ");
	return why->len == 0;
}

/* ps_svc_init - connect Redis, start the producer, listen for reports */
int
ps_svc_init(struct event_base *base, struct pl_loop *loop)
{
	char *brokers = pl_settings_brokers(), *url = NULL;
	int rv = PL_EINVAL;

	ps_report_init();
	pl_ops_add_check("deps", ps_svc_check, NULL);
	if (brokers == NULL) {
		pl_log_error("PS-NO-BROKERS", "file=%s", pl_settings.kafka_brokers_file);
		goto out;
	}
	url = pl_endpoint(PL_EP_PRESENCE_PUSH_FMT, pl_settings.run_dir, 0, ps_conf.push_url);
	if ((rv = pl_redis_start(loop, pl_settings.redis_addr, &ps_svc.redis)) != 0 ||
	    (rv = pl_kafka_producer_start(loop, brokers, NULL, &ps_svc.producer)) != 0 ||
	    (rv = pl_rpc_pull_start(loop, url, ps_report_recv, NULL, &ps_svc.pull)) != 0)
		goto out;
	pl_log_info("PS-INIT", "brokers=%s redis=%s push_url=%s", brokers,
	    pl_settings.redis_addr, url);
out:
	free(url);
	free(brokers);
	return rv;
}

/* ps_svc_drain - nothing is in flight at this stage: stop at once */
void
ps_svc_drain(void)
{
	pl_daemon_stop();
}

/* ps_svc_fini - stop in reverse; safe after a partial init */
void
ps_svc_fini(void)
{
	if (ps_svc.pull)
		pl_rpc_pull_stop(&ps_svc.pull);
	if (ps_svc.producer)
		pl_kafka_producer_stop(&ps_svc.producer, 2000);
	if (ps_svc.redis)
		pl_redis_stop(&ps_svc.redis);
}
