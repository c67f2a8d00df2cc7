/* limits.c - protection: the connection limit per process, the accept token
 * bucket against reconnect storms (both answered 503 with a jittered
 * Retry-After, before the upgrade), the connection budget per user and per
 * client address, and the per-connection send rate.
 * PARLEY_RATE_LIMITS=0 turns the per-user rates off; connection and frame
 * limits stay on. */
#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backoff.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_limits.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "strmap.h"
#include "tbucket.h"

static struct pl_tbucket gw_accept;

static int gw_limits_retry(int lo, int hi);

/* ---- the connection budget ----
 *
 * Per client address: every socket we accept (HTTP or WebSocket) takes one
 * from its address's entry, and lws's destroy of the socket gives it back,
 * so one address can never hold more than PARLEY_MAX_CONNS_IP sockets (nor,
 * below that, all of lws's header slots). Loopback (unless
 * PARLEY_CONN_LOOPBACK_EXEMPT=0) and trusted proxies are counted but not
 * refused; behind a trusted proxy the address is the PROXY header's.
 * Per user: WebSockets of a user on this process, counted from ESTABLISHED
 * to CLOSED, checked before the 101 (after the token). */
#define GW_TRUSTED_MAX 64

struct gw_peer {
	char addr[GW_ADDR_MAX];
	size_t n;
	int exempt;
};

static struct {
	struct pl_strmap *peers;		/* addr -> struct gw_peer */
	struct pl_strmap *users;		/* user -> count (intptr_t) */
	struct { uint32_t net, mask; } trusted[GW_TRUSTED_MAX];
	size_t ntrusted;
} gw_budget;

/* gw_limits_cidr - parse "a.b.c.d" or "a.b.c.d/n" into net and mask */
static int
gw_limits_cidr(const char *s, uint32_t *net_r, uint32_t *mask_r)
{
	char ip[32], *slash, *end;
	struct in_addr a;
	long bits = 32;

	if (strlen(s) >= sizeof(ip))
		return PL_EINVAL;
	snprintf(ip, sizeof(ip), "%s", s);
	if ((slash = strchr(ip, '/')) != NULL) {
		*slash++ = 0;
		bits = strtol(slash, &end, 10);
		if (*slash == 0 || *end != 0 || bits < 0 || bits > 32)
			return PL_EINVAL;
	}
	if (inet_pton(AF_INET, ip, &a) != 1)
		return PL_EINVAL;
	*mask_r = bits == 0 ? 0 : 0xffffffffu << (32 - bits);
	*net_r = ntohl(a.s_addr) & *mask_r;
	return 0;
}

/* gw_limits_trusted_parse - PARLEY_TRUSTED_PROXIES: comma-separated */
static int
gw_limits_trusted_parse(const char *list)
{
	char *copy = pl_strdup(list ? list : ""), *tok, *save = NULL;
	int rv = 0;

	gw_budget.ntrusted = 0;
	for (tok = strtok_r(copy, ", ", &save); tok != NULL && rv == 0;
	    tok = strtok_r(NULL, ", ", &save)) {
		if (gw_budget.ntrusted == GW_TRUSTED_MAX) {
			rv = PL_ETOOBIG;
			break;
		}
		rv = gw_limits_cidr(tok, &gw_budget.trusted[gw_budget.ntrusted].net,
		    &gw_budget.trusted[gw_budget.ntrusted].mask);
		if (rv == 0)
			gw_budget.ntrusted++;
		else
			pl_log_error("GW-TRUSTED-PROXIES", "bad=%s", tok);
	}
	free(copy);
	return rv;
}

/* gw_limits_trusted - is addr one of the trusted proxies */
int
gw_limits_trusted(const char *addr)
{
	struct in_addr a;
	uint32_t ip;
	size_t i;

	if (gw_budget.ntrusted == 0 || inet_pton(AF_INET, addr, &a) != 1)
		return 0;
	ip = ntohl(a.s_addr);
	for (i = 0; i < gw_budget.ntrusted; i++)
		if ((ip & gw_budget.trusted[i].mask) == gw_budget.trusted[i].net)
			return 1;
	return 0;
}

/* gw_limits_loopback - 127.0.0.0/8 or ::1 */
static int
gw_limits_loopback(const char *addr)
{
	return strncmp(addr, "127.", 4) == 0 || strcmp(addr, "::1") == 0;
}

/* gw_limits_init - fill the accept bucket, the budget maps */
int
gw_limits_init(void)
{
	pl_tbucket_init(&gw_accept, (double)gw_conf.rate_accept_per_s,
	    (double)gw_conf.rate_accept_burst, pl_clock_mono_us());
	gw_budget.peers = pl_strmap_create();
	gw_budget.users = pl_strmap_create();
	return gw_limits_trusted_parse(gw_conf.trusted_proxies);
}

/* gw_limits_free_peer - free one peer entry at exit */
static void
gw_limits_free_peer(const char *key, void *val, void *arg)
{
	(void)key;
	(void)arg;
	free(val);
}

/* gw_limits_fini - the budget maps (lws has destroyed every socket) */
void
gw_limits_fini(void)
{
	if (gw_budget.peers != NULL)
		pl_strmap_each(gw_budget.peers, gw_limits_free_peer, NULL);
	pl_strmap_free(&gw_budget.peers, NULL);
	pl_strmap_free(&gw_budget.users, NULL);
}

/* gw_limits_peer_take - one more socket from addr */
int
gw_limits_peer_take(const char *addr, struct gw_peer **peer_r)
{
	struct gw_peer *p = pl_strmap_get(gw_budget.peers, addr);

	*peer_r = NULL;
	if (p == NULL) {
		p = pl_calloc(1, sizeof(*p));
		snprintf(p->addr, sizeof(p->addr), "%s", addr);
		p->exempt = gw_limits_trusted(addr) ||
		    (gw_conf.conn_loopback_exempt && gw_limits_loopback(addr));
		pl_strmap_put(gw_budget.peers, p->addr, p);
	}
	if (!p->exempt && p->n >= (size_t)gw_conf.max_conns_ip) {
		if (p->n == 0) {
			pl_strmap_del(gw_budget.peers, p->addr);
			free(p);
		}
		return PL_EAGAIN;
	}
	p->n++;
	*peer_r = p;
	return 0;
}

/* gw_limits_peer_put - a socket of the address is gone */
void
gw_limits_peer_put(struct gw_peer **pp)
{
	struct gw_peer *p = *pp;

	if (p == NULL)
		return;
	*pp = NULL;
	if (gw_budget.peers == NULL)
		return;		/* after gw_limits_fini: lws frees its last sockets late */
	if (--p->n == 0) {
		pl_strmap_del(gw_budget.peers, p->addr);
		free(p);
	}
}

/* gw_limits_peer_count - sockets held by addr (tests, logs) */
size_t
gw_limits_peer_count(const char *addr)
{
	struct gw_peer *p = gw_budget.peers ? pl_strmap_get(gw_budget.peers, addr) : NULL;

	return p != NULL ? p->n : 0;
}

/* gw_limits_user_admit - may user open one more WebSocket here */
int
gw_limits_user_admit(const char *user, int *retry_after_r)
{
	intptr_t n = (intptr_t)pl_strmap_get(gw_budget.users, user);

	if (n < gw_conf.max_conns_user)
		return 0;
	*retry_after_r = gw_limits_retry(5, 30);
	return PL_EAGAIN;
}

/* gw_limits_user_add - c's WebSocket is established */
void
gw_limits_user_add(struct gw_conn *c)
{
	intptr_t n = (intptr_t)pl_strmap_get(gw_budget.users, c->user);

	pl_strmap_put(gw_budget.users, c->user, (void *)(n + 1));
	c->user_counted = 1;
}

/* gw_limits_user_del - c's WebSocket is closed */
void
gw_limits_user_del(struct gw_conn *c)
{
	intptr_t n;

	if (!c->user_counted || gw_budget.users == NULL)
		return;
	n = (intptr_t)pl_strmap_get(gw_budget.users, c->user);
	c->user_counted = 0;
	if (n <= 1)
		pl_strmap_del(gw_budget.users, c->user);
	else
		pl_strmap_put(gw_budget.users, c->user, (void *)(n - 1));
}

/* gw_limits_retry - a jittered Retry-After in seconds, so refused clients
 * do not come back together */
static int
gw_limits_retry(int lo, int hi)
{
	return (int)pl_jitter_ms((uint64_t)lo, (uint64_t)hi);
}

/* gw_limits_admit - may one more WebSocket be accepted now, with conns open */
int
gw_limits_admit(size_t conns, int *retry_after_r)
{
	uint64_t now = pl_clock_mono_us();

	if ((int64_t)conns >= gw_conf.max_conns) {
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
	struct pl_strmap *m;
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
	pl_strmap_each(gw_api_lim.m, gw_limits_api_idle, NULL);
	for (i = 0; i < gw_api_lim.ndoomed; i++) {
		free(pl_strmap_get(gw_api_lim.m, gw_api_lim.doomed[i]));
		pl_strmap_del(gw_api_lim.m, gw_api_lim.doomed[i]);
		free(gw_api_lim.doomed[i]);
	}
	gw_api_lim.ndoomed = 0;
}

/* gw_limits_api_gauge - Web API rate-limit buckets held, at scrape time */
static double
gw_limits_api_gauge(void *arg)
{
	(void)arg;
	return (double)gw_limits_api_buckets();
}

/* gw_limits_api_init - the bucket map, its gauge and its sweep */
int
gw_limits_api_init(void)
{
	gw_api_lim.m = pl_strmap_create();
	pl_metrics_gauge_fn("parley_gateway_api_buckets", "Web API rate-limit buckets in memory.",
	    NULL, gw_limits_api_gauge, NULL);
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
		pl_strmap_each(gw_api_lim.m, gw_limits_api_free_one, NULL);
	pl_strmap_free(&gw_api_lim.m, NULL);
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
	if ((ab = pl_strmap_get(gw_api_lim.m, key)) == NULL) {
		if ((int64_t)pl_strmap_count(gw_api_lim.m) >= gw_conf.api_buckets)
			gw_limits_api_sweep(NULL);
		if ((int64_t)pl_strmap_count(gw_api_lim.m) >= gw_conf.api_buckets) {
			*retry_after_r = 1;
			return PL_EAGAIN;
		}
		ab = pl_calloc(1, sizeof(*ab));
		pl_tbucket_init(&ab->b, per_min / 60.0, burst, now);
		pl_strmap_put(gw_api_lim.m, key, ab);
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
	return gw_api_lim.m ? pl_strmap_count(gw_api_lim.m) : 0;
}
