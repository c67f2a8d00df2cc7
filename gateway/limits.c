/* limits.c - protection: the connection limit per process, the accept token
 * bucket against reconnect storms (both answered 503 with a jittered
 * Retry-After, before the upgrade), and the per-connection send rate.
 * PARLEY_RATE_LIMITS=0 turns the per-user rates off; connection and frame
 * limits stay on. */
#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "gateway.h"
#include "tbucket.h"

static struct pl_tbucket gw_accept;

/* gw_limits_init - fill the accept bucket */
int
gw_limits_init(void)
{
	pl_tbucket_init(&gw_accept, (double)gw_conf.rate_accept_per_s,
	    (double)gw_conf.rate_accept_burst, pl_clock_mono_us());
	return 0;
}

/* gw_limits_retry - a jittered Retry-After in seconds, so refused clients
 * do not come back together */
static int
gw_limits_retry(int lo, int hi)
{
	return (int)pl_jitter_ms((uint64_t)lo, (uint64_t)hi);
}

/* gw_limits_admit - may one more WebSocket be accepted now */
int
gw_limits_admit(int *retry_after_r)
{
	uint64_t now = pl_clock_mono_us();

	if ((int64_t)gw_conn_count() >= gw_conf.max_conns) {
		*retry_after_r = gw_limits_retry(2, 10);
		return PL_EAGAIN;
	}
	if (!pl_tbucket_take(&gw_accept, 1, now)) {
		*retry_after_r = 1 + gw_limits_retry(0, 3);
		return PL_EAGAIN;
	}
	return 0;
}

/* gw_limits_send - the RTM send rate of one connection */
int
gw_limits_send(struct gw_conn *c, double *retry_after_s)
{
	uint64_t now = pl_clock_mono_us();

	if (!gw_conf.rate_limits)
		return 1;
	if (pl_tbucket_take(&c->rate, 1, now))
		return 1;
	*retry_after_s = (double)pl_tbucket_wait_us(&c->rate, 1, now) / 1e6;
	return 0;
}
