/* limits.c - protection: the connection limit per process, the accept token
 * bucket against reconnect storms (both answered 503 with a jittered
 * Retry-After, before the upgrade), and the per-connection send rate.
 * PARLEY_RATE_LIMITS=0 turns the per-user rates off; connection and frame
 * limits stay on. */
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "gateway.h"
#include "loop.h"
#include "mem.h"
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

/* ---- Web API rate limits: per (caller, method) token buckets ----
 *
 * Buckets live in one map keyed "<caller>|<method>" (chat.postMessage:
 * "#<channel>|chat.postMessage"). A bucket that has refilled to its burst is
 * the same as a new one, so it can be dropped without changing any answer:
 * a sweep every GW_API_SWEEP_MS drops those, and when the map is at
 * PARLEY_API_BUCKETS the sweep runs at once; a call that still finds no room
 * is refused (429) rather than letting memory grow. */
#define GW_API_SWEEP_MS 10000

struct gw_api_bucket {
	struct pl_tbucket b;
};

static struct {
	struct gw_map *m;
	struct pl_timer *sweep;
	char **doomed;
	size_t ndoomed, capdoomed;
	uint64_t now;
} gw_api_lim;

/* gw_limits_api_idle - collect a bucket that has refilled */
static void
gw_limits_api_idle(const char *key, void *val, void *arg)
{
	struct gw_api_bucket *ab = val;

	(void)arg;
	if (pl_tbucket_wait_us(&ab->b, ab->b.burst, gw_api_lim.now) != 0)
		return;
	gw_api_lim.doomed = pl_grow(gw_api_lim.doomed, &gw_api_lim.capdoomed,
	    gw_api_lim.ndoomed + 1, 64, sizeof(char *));
	gw_api_lim.doomed[gw_api_lim.ndoomed++] = pl_strdup(key);
}

/* gw_limits_api_sweep - drop every refilled bucket */
static void
gw_limits_api_sweep(void *arg)
{
	size_t i;

	(void)arg;
	if (gw_api_lim.m == NULL)
		return;
	gw_api_lim.now = pl_clock_mono_us();
	gw_api_lim.ndoomed = 0;
	gw_map_each(gw_api_lim.m, gw_limits_api_idle, NULL);
	for (i = 0; i < gw_api_lim.ndoomed; i++) {
		free(gw_map_get(gw_api_lim.m, gw_api_lim.doomed[i]));
		gw_map_del(gw_api_lim.m, gw_api_lim.doomed[i]);
		free(gw_api_lim.doomed[i]);
	}
	gw_api_lim.ndoomed = 0;
}

/* gw_limits_api_init - the bucket map and its sweep */
int
gw_limits_api_init(void)
{
	gw_api_lim.m = gw_map_create();
	return pl_loop_timer(gw.loop, GW_API_SWEEP_MS, 1, gw_limits_api_sweep, NULL,
	    &gw_api_lim.sweep);
}

/* gw_limits_api_free_one - free a bucket at exit */
static void
gw_limits_api_free_one(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

/* gw_limits_api_fini - stop the sweep, free every bucket */
void
gw_limits_api_fini(void)
{
	pl_loop_timer_stop(&gw_api_lim.sweep);
	if (gw_api_lim.m != NULL)
		gw_map_each(gw_api_lim.m, gw_limits_api_free_one, NULL);
	gw_map_free(&gw_api_lim.m);
	free(gw_api_lim.doomed);
	memset(&gw_api_lim, 0, sizeof(gw_api_lim));
}

/* gw_limits_api - take one call from key's bucket (per_min a minute, burst);
 * 0, or PL_EAGAIN with *retry_after_r whole seconds */
int
gw_limits_api(const char *key, double per_min, double burst, int *retry_after_r)
{
	struct gw_api_bucket *ab;
	uint64_t now = pl_clock_mono_us(), wait;

	if (!gw_conf.rate_limits || per_min <= 0 || gw_api_lim.m == NULL)
		return 0;
	if ((ab = gw_map_get(gw_api_lim.m, key)) == NULL) {
		if ((int64_t)gw_map_count(gw_api_lim.m) >= gw_conf.api_buckets)
			gw_limits_api_sweep(NULL);
		if ((int64_t)gw_map_count(gw_api_lim.m) >= gw_conf.api_buckets) {
			*retry_after_r = 1;
			return PL_EAGAIN;
		}
		ab = pl_calloc(1, sizeof(*ab));
		pl_tbucket_init(&ab->b, per_min / 60.0, burst, now);
		gw_map_put(gw_api_lim.m, key, ab);
	}
	if (pl_tbucket_take(&ab->b, 1, now))
		return 0;
	wait = pl_tbucket_wait_us(&ab->b, 1, now);
	*retry_after_r = (int)((wait + 999999) / 1000000);
	if (*retry_after_r < 1)
		*retry_after_r = 1;
	return PL_EAGAIN;
}

/* gw_limits_api_buckets - buckets held (tests, metrics) */
size_t
gw_limits_api_buckets(void)
{
	return gw_api_lim.m ? gw_map_count(gw_api_lim.m) : 0;
}
