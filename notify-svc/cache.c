/* cache.c - hot counts: client.counts answers cached in Redis.
 *
 * PostgreSQL stays the truth; a lost or flushed Redis costs a query, never
 * a wrong count. Keys (hash-tagged per user or team):
 *
 *   {n:U<user>}:counts  "<epoch>|<gen>|<ugen>|<fp>\n<json>", PX counts-ttl-ms
 *   {n:U<user>}:gen     a unique value, replaced by conversations.mark once
 *                       the marker commits, before it answers
 *   {n:T<team>}:gen     a unique value, replaced after every committed batch
 *                       with an event of the team (consume.c)
 *   {n}:epoch           a unique value, replaced after a committed batch with
 *                       an event whose team is not known
 *
 * An entry is served only while the epoch and the team's generation still
 * hold the values read before its counts were computed, and fp (a hash of
 * the caller's channel list, read from the directory on every request)
 * matches. Because an entry names the generations read before its counts
 * were computed, a batch or mark committing meanwhile leaves it unmatched
 * (never served). A generation or epoch that is missing (never
 * set, flushed, expired) is set to a fresh unique value and nothing is
 * stored that time: values never repeat, so an old entry never matches a
 * new generation. Staleness is bounded by the TTL only in one case: a crash
 * between a batch's commit and its generation's replacement. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "notify.h"
#include "redis.h"

#define NS_GEN_TTL_MS 86400000	/* a team's generation lives a day unbumped */

static struct {
	struct pl_metric *m_hits, *m_misses;
	unsigned seq;
} ncache;

/* one look-up: four GETs, answered in order */
struct cache_get {
	struct ns_cache_tok *tok;
	char user[NS_ID_MAX + 1], team[NS_ID_MAX + 1];
	char *val[4];			/* epoch, team gen, user gen, entry; NULL: nil */
	int left, failed;
	ns_cache_fn fn;
	void *arg;
};

/* ns_cache_init - the counters */
void
ns_cache_init(void)
{
	ncache.m_hits = pl_metrics_counter("parley_notify_counts_cache_hits_total",
	    "client.counts answered from Redis.", NULL);
	ncache.m_misses = pl_metrics_counter("parley_notify_counts_cache_misses_total",
	    "client.counts computed in PostgreSQL (no entry, stale, or Redis failed).",
	    NULL);
}

/* ns_cache_fp - FNV-1a 64 of s (the channel list and kinds) */
uint64_t
ns_cache_fp(const char *a, const char *b)
{
	uint64_t h = 1469598103934665603ULL;
	const char *s;

	for (s = a; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	h = (h ^ '|') * 1099511628211ULL;
	for (s = b; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

/* cache_unique - a value never used before (wall us, pid, sequence) */
static void
cache_unique(char *out, size_t size)
{
	snprintf(out, size, "%llx.%x.%x", (unsigned long long)pl_clock_wall_us(),
	    (unsigned)getpid(), ++ncache.seq);
}

/* cache_got_all - the three answers are in: hit or miss */
static void
cache_got_all(struct cache_get *g)
{
	struct ns_cache_tok *tok = g->tok;
	char want[NS_CACHE_TOK_MAX * 3 + 40], fresh[NS_CACHE_TOK_MAX];
	const char *json = NULL;
	size_t n;
	int i;

	tok->ok = 0;
	if (!g->failed && (g->val[0] == NULL || g->val[1] == NULL || g->val[2] == NULL)) {
		/* set what is missing; store nothing this time */
		cache_unique(fresh, sizeof(fresh));
		if (g->val[0] == NULL)
			(void)pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n}:epoch %s NX", fresh);
		if (g->val[1] == NULL)
			(void)pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n:T%s}:gen %s NX PX %d",
			    g->team, fresh, NS_GEN_TTL_MS);
		if (g->val[2] == NULL)
			(void)pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n:U%s}:gen %s NX PX %d",
			    g->user, fresh, NS_GEN_TTL_MS);
	} else if (!g->failed && strlen(g->val[0]) < NS_CACHE_TOK_MAX &&
	    strlen(g->val[1]) < NS_CACHE_TOK_MAX && strlen(g->val[2]) < NS_CACHE_TOK_MAX) {
		snprintf(tok->epoch, sizeof(tok->epoch), "%s", g->val[0]);
		snprintf(tok->gen, sizeof(tok->gen), "%s", g->val[1]);
		snprintf(tok->ugen, sizeof(tok->ugen), "%s", g->val[2]);
		tok->ok = 1;
		snprintf(want, sizeof(want), "%s|%s|%s|%016llx\n", tok->epoch, tok->gen,
		    tok->ugen, (unsigned long long)tok->fp);
		n = strlen(want);
		if (g->val[3] != NULL && strncmp(g->val[3], want, n) == 0)
			json = g->val[3] + n;
	}
	pl_metrics_inc(json ? ncache.m_hits : ncache.m_misses);
	g->fn(json, g->arg);
	for (i = 0; i < 4; i++)
		free(g->val[i]);
	free(g);
}

/* cache_got - one GET answered */
static void
cache_got(int rv, struct redisReply *reply, void *arg, int i)
{
	struct cache_get *g = arg;

	if (rv != 0 || reply == NULL)
		g->failed = 1;
	else if (reply->type == REDIS_REPLY_STRING)
		g->val[i] = pl_strndup(reply->str, reply->len);
	else if (reply->type != REDIS_REPLY_NIL)
		g->failed = 1;
	if (--g->left == 0)
		cache_got_all(g);
}

static void cache_got0(int rv, struct redisReply *r, void *a) { cache_got(rv, r, a, 0); }
static void cache_got1(int rv, struct redisReply *r, void *a) { cache_got(rv, r, a, 1); }
static void cache_got2(int rv, struct redisReply *r, void *a) { cache_got(rv, r, a, 2); }
static void cache_got3(int rv, struct redisReply *r, void *a) { cache_got(rv, r, a, 3); }

/* ns_cache_counts_get - look up user's entry; fn(json or NULL) runs once,
 * maybe at once (Redis not connected: a miss) */
void
ns_cache_counts_get(const char *user, const char *team, struct ns_cache_tok *tok,
    ns_cache_fn fn, void *arg)
{
	struct cache_get *g;

	tok->ok = 0;
	if (ns.redis == NULL || !pl_redis_connected(ns.redis)) {
		pl_metrics_inc(ncache.m_misses);
		fn(NULL, arg);
		return;
	}
	g = pl_calloc(1, sizeof(*g));
	g->tok = tok;
	snprintf(g->user, sizeof(g->user), "%s", user);
	snprintf(g->team, sizeof(g->team), "%s", team);
	g->fn = fn;
	g->arg = arg;
	g->left = 4;
	/* in order on one connection; a refused command counts as failed */
	if (pl_redis_cmdf(ns.redis, cache_got0, g, "GET {n}:epoch") != 0)
		cache_got(PL_EUNAVAIL, NULL, g, 0);
	if (pl_redis_cmdf(ns.redis, cache_got1, g, "GET {n:T%s}:gen", team) != 0)
		cache_got(PL_EUNAVAIL, NULL, g, 1);
	if (pl_redis_cmdf(ns.redis, cache_got2, g, "GET {n:U%s}:gen", user) != 0)
		cache_got(PL_EUNAVAIL, NULL, g, 2);
	if (pl_redis_cmdf(ns.redis, cache_got3, g, "GET {n:U%s}:counts", user) != 0)
		cache_got(PL_EUNAVAIL, NULL, g, 3);
}

/* ns_cache_counts_put - store json as user's entry under tok (from the get
 * before the counts were computed); nothing if tok is not usable */
void
ns_cache_counts_put(const struct ns_cache_tok *tok, const char *user, const char *json)
{
	char head[NS_CACHE_TOK_MAX * 3 + 40];
	int n;

	if (!tok->ok || ns.redis == NULL || !pl_redis_connected(ns.redis))
		return;
	n = snprintf(head, sizeof(head), "%s|%s|%s|%016llx\n", tok->epoch, tok->gen,
	    tok->ugen, (unsigned long long)tok->fp);
	(void)pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n:U%s}:counts %b%s PX %lld", user,
	    head, (size_t)n, json, (long long)ns_conf.counts_ttl_ms);
}

/* one user generation being replaced */
struct cache_drop {
	ns_cache_done_fn done;
	void *arg;
};

/* cache_dropped - SET answered (or not: the entry expires with its TTL) */
static void
cache_dropped(int rv, struct redisReply *reply, void *arg)
{
	struct cache_drop *d = arg;

	(void)reply;
	if (rv != 0)
		pl_log_warn("NS-CACHE-DROP-FAIL", "err=%s", pl_err_str(rv));
	d->done(d->arg);
	free(d);
}

/* ns_cache_counts_drop - user's counts changed (a mark): replace the user's
 * generation; done(arg) runs once after Redis answered (maybe at once) */
void
ns_cache_counts_drop(const char *user, ns_cache_done_fn done, void *arg)
{
	struct cache_drop *d;
	char fresh[NS_CACHE_TOK_MAX];

	if (ns.redis == NULL || !pl_redis_connected(ns.redis)) {
		done(arg);
		return;
	}
	d = pl_calloc(1, sizeof(*d));
	d->done = done;
	d->arg = arg;
	cache_unique(fresh, sizeof(fresh));
	if (pl_redis_cmdf(ns.redis, cache_dropped, d, "SET {n:U%s}:gen %s PX %d", user,
	    fresh, NS_GEN_TTL_MS) != 0)
		cache_dropped(PL_EUNAVAIL, NULL, d);
}

/* ns_cache_bump - a batch with events of teams[0..n) (and of unknown teams
 * if unknown) committed: their entries stop matching */
void
ns_cache_bump(char (*teams)[NS_ID_MAX + 1], int n, int unknown)
{
	char fresh[NS_CACHE_TOK_MAX];
	int i;

	if (ns.redis == NULL)
		return;
	cache_unique(fresh, sizeof(fresh));
	for (i = 0; i < n; i++)
		if (pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n:T%s}:gen %s PX %d", teams[i],
		    fresh, NS_GEN_TTL_MS) != 0)
			unknown = 1;
	if (unknown && pl_redis_cmdf(ns.redis, NULL, NULL, "SET {n}:epoch %s", fresh) != 0)
		pl_log_warn("NS-CACHE-BUMP-FAIL", "teams=%d", n);
}
