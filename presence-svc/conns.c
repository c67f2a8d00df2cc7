/* conns.c - who is connected: one Redis sorted set per user,
 * "{u:<user>}:conns", of session ids scored by the wall time (ms) they were
 * last seen, and the index "{ps}:idx" of "team|user|session" scored the same
 * way. Each step is one Lua script on one key (one hash slot), so two
 * presence-svc instances never both announce the same change:
 *
 *   touch   (connect, heartbeat)  ZADD; "active" if the set was empty
 *   drop    (disconnect)          ZREM; "away" if no live session is left
 *   expire  (the sweep)           ZREM if still older than ttl; "away" likewise
 *
 * A set whose last live session goes is deleted with any stale members, so
 * "away" is said once. A heartbeat re-adds a session Redis lost, which
 * repairs presence after a flush. When Redis fails, the step is applied to
 * the in-memory view instead (memview.c) and counted; once Redis answers
 * again a session moves back on its next heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "presence.h"
#include "redis.h"

#define PS_IDX_KEY "{ps}:idx"
#define PS_SWEEP_BATCH "256"	/* index entries per look-up */
#define PS_SWEEP_ROUNDS 8	/* look-ups per sweep at most */
#define PS_KEY_TTL_FACTOR 4	/* a set outlives ttl by this much, then Redis drops it */

/* KEYS[1] set, ARGV: now, session, pexpire -> members before */
static const char ps_lua_touch[] =
    "local n = redis.call('ZCARD', KEYS[1]) "
    "redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
    "redis.call('PEXPIRE', KEYS[1], ARGV[3]) "
    "return n";
/* KEYS[1] set, ARGV: session, cutoff -> {removed, live left} */
static const char ps_lua_drop[] =
    "if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then "
    "  return {0, redis.call('ZCARD', KEYS[1])} end "
    "local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf') "
    "if live == 0 then redis.call('DEL', KEYS[1]) end "
    "return {1, live}";
/* KEYS[1] set, ARGV: session, cutoff -> {removed, live left} */
static const char ps_lua_expire[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
    "if not s or tonumber(s) > tonumber(ARGV[2]) then return {0, 1} end "
    "redis.call('ZREM', KEYS[1], ARGV[1]) "
    "local live = redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[2], '+inf') "
    "if live == 0 then redis.call('DEL', KEYS[1]) end "
    "return {1, live}";
/* KEYS[1] index, ARGV: member, cutoff: remove it if still stale */
static const char ps_lua_unindex[] =
    "local s = redis.call('ZSCORE', KEYS[1], ARGV[1]) "
    "if s and tonumber(s) <= tonumber(ARGV[2]) then redis.call('ZREM', KEYS[1], ARGV[1]) end "
    "return 0";

/* KEYS[1] set, ARGV: cutoff -> {1, live sessions} */
static const char ps_lua_live[] =
    "return {1, redis.call('ZCOUNT', KEYS[1], '(' .. ARGV[1], '+inf')}";

/* one step in flight: what it is about, copied */
struct ps_op {
	char user[PS_ID_MAX + 1];
	char team[PS_ID_MAX + 1];
	char session[PS_ID_MAX + 1];
	char key[PS_ID_MAX + 16];	/* {u:<user>}:conns */
	char member[3 * PS_ID_MAX + 3];	/* team|user|session */
	char now[24], cutoff[24];
	uint64_t mono_ms;
};

static struct {
	struct pl_redis *redis;
	int sweeping, rounds;
	struct pl_metric *redis_errors;
	struct pl_metric *fallback;
	struct pl_metric *expired;
} ps_conns;

/* ps_conns_init - the Redis connection and the counters */
void
ps_conns_init(struct pl_redis *redis)
{
	ps_conns.redis = redis;
	ps_conns.redis_errors = pl_metrics_counter("parley_presence_redis_errors_total",
	    "Redis commands of presence-svc that failed.", NULL);
	ps_conns.fallback = pl_metrics_counter("parley_presence_fallback_total",
	    "Reports applied to the in-memory view because Redis failed.", NULL);
	ps_conns.expired = pl_metrics_counter("parley_presence_expired_total",
	    "Sessions removed because they were not seen for ttl (dead gateway).", NULL);
	ps_memview_init();
}

/* ps_conns_op - a step about (user, team, session), stamped now */
static struct ps_op *
ps_conns_op(const char *user, const char *team, const char *session)
{
	struct ps_op *op = pl_calloc(1, sizeof(*op));
	uint64_t now = pl_clock_wall_ms();

	snprintf(op->user, sizeof(op->user), "%s", user);
	snprintf(op->team, sizeof(op->team), "%s", team);
	snprintf(op->session, sizeof(op->session), "%s", session);
	snprintf(op->key, sizeof(op->key), "{u:%s}:conns", user);
	snprintf(op->member, sizeof(op->member), "%s%c%s%c%s", team, PS_SEP, user,
	    PS_SEP, session);
	snprintf(op->now, sizeof(op->now), "%llu", (unsigned long long)now);
	snprintf(op->cutoff, sizeof(op->cutoff), "%llu",
	    (unsigned long long)(now - (uint64_t)ps_conf.ttl_ms));
	op->mono_ms = pl_clock_mono_ms();
	return op;
}

/* ps_conns_eval - run script on key with up to 3 args; cb gets rv always */
static void
ps_conns_eval(const char *script, const char *key, const char *a1,
    const char *a2, const char *a3, pl_redis_fn cb, void *arg)
{
	const char *argv[] = { "EVAL", script, "1", key, a1, a2, a3 };
	int argc = a3 ? 7 : a2 ? 6 : 5, rv;

	if ((rv = pl_redis_cmd(ps_conns.redis, cb, arg, argc, argv, NULL)) != 0 && cb)
		cb(rv, NULL, arg);
}

/* ps_conns_failed - count a failed command; 1 if it should fall back */
static int
ps_conns_failed(int rv, const struct redisReply *reply, int want_type)
{
	if (rv == PL_ECLOSED)
		return 0;	/* shutting down */
	if (rv == 0 && reply != NULL && (int)reply->type == want_type &&
	    (want_type != REDIS_REPLY_ARRAY || reply->elements == 2))
		return 0;
	pl_metrics_inc(ps_conns.redis_errors);
	pl_metrics_inc(ps_conns.fallback);
	pl_log_debug("PS-REDIS-FAILED", "err=%s", pl_err_str(rv ? rv : PL_EPROTO));
	return 1;
}

/* ps_conns_touched - the touch's answer: announce a first connection */
static void
ps_conns_touched(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;
	int first;

	if (ps_conns_failed(rv, reply, REDIS_REPLY_INTEGER))
		first = ps_memview_touch(op->user, op->team, op->session, op->mono_ms) == 1;
	else if (rv != 0)
		first = 0;
	else	/* known here while Redis failed: announced already */
		first = reply->integer == 0 &&
		    ps_memview_forget(op->user, op->session) == 0;
	if (first)
		(void)ps_publish_presence(op->user, op->team, PS_ACTIVE);
	free(op);
}

/* ps_conns_touch - connect or heartbeat: the session is alive now */
void
ps_conns_touch(const struct ps_report *r)
{
	struct ps_op *op = ps_conns_op(r->user, r->team, r->session);
	const char *argv[] = { "ZADD", PS_IDX_KEY, op->now, op->member };
	char pexpire[24];

	snprintf(pexpire, sizeof(pexpire), "%lld",
	    (long long)(ps_conf.ttl_ms * PS_KEY_TTL_FACTOR));
	(void)pl_redis_cmd(ps_conns.redis, NULL, NULL, 4, argv, NULL);
	ps_conns_eval(ps_lua_touch, op->key, op->now, op->session, pexpire,
	    ps_conns_touched, op);
}

/* ps_conns_gone - announce away if removed and nothing live is left */
static void
ps_conns_gone(struct ps_op *op, int removed, int64_t live)
{
	if (removed && live == 0)
		(void)ps_publish_presence(op->user, op->team, PS_AWAY);
}

/* ps_conns_dropped - the drop's answer, merged with the in-memory view */
static void
ps_conns_dropped(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;
	int64_t mem_left;
	int mem_removed = ps_memview_drop(op->user, op->session, &mem_left);

	if (ps_conns_failed(rv, reply, REDIS_REPLY_ARRAY))
		ps_conns_gone(op, mem_removed, mem_left);
	else if (rv == 0)
		ps_conns_gone(op, mem_removed || reply->element[0]->integer == 1,
		    reply->element[1]->integer + mem_left);
	free(op);
}

/* ps_conns_drop - disconnect: the session is gone */
void
ps_conns_drop(const struct ps_report *r)
{
	struct ps_op *op = ps_conns_op(r->user, r->team, r->session);
	const char *argv[] = { "ZREM", PS_IDX_KEY, op->member };

	(void)pl_redis_cmd(ps_conns.redis, NULL, NULL, 3, argv, NULL);
	ps_conns_eval(ps_lua_drop, op->key, op->session, op->cutoff, NULL,
	    ps_conns_dropped, op);
}

/* ps_conns_expired - the expire step's answer for one session */
static void
ps_conns_expired(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;

	if (rv == 0 && reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 2) {
		if (reply->element[0]->integer == 1) {
			pl_metrics_inc(ps_conns.expired);
			pl_log_info("PS-EXPIRED", "user=%s session=%s", op->user, op->session);
		}
		ps_conns_gone(op, reply->element[0]->integer == 1, reply->element[1]->integer);
	} else if (rv != PL_ECLOSED) {
		pl_metrics_inc(ps_conns.redis_errors);
	}
	free(op);
}

/* ps_conns_expire_member - expire one "team|user|session" of the index */
static void
ps_conns_expire_member(const char *member, size_t len, const char *cutoff)
{
	char buf[3 * PS_ID_MAX + 3], *user, *session;
	struct ps_op *op;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, member, len);
	buf[len] = '\0';
	if ((user = strchr(buf, PS_SEP)) == NULL ||
	    (session = strchr(user + 1, PS_SEP)) == NULL)
		return;
	*user++ = '\0';
	*session++ = '\0';
	op = ps_conns_op(user, buf, session);
	snprintf(op->cutoff, sizeof(op->cutoff), "%s", cutoff);
	ps_conns_eval(ps_lua_expire, op->key, op->session, op->cutoff, NULL,
	    ps_conns_expired, op);
	ps_conns_eval(ps_lua_unindex, PS_IDX_KEY, op->member, op->cutoff, NULL,
	    NULL, NULL);
}

static void ps_conns_scan(void);

/* ps_conns_scanned - a batch of stale index entries: expire each */
static void
ps_conns_scanned(int rv, struct redisReply *reply, void *arg)
{
	char *cutoff = arg;
	size_t i;

	ps_conns.sweeping = 0;
	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		if (rv != PL_ECLOSED)
			pl_metrics_inc(ps_conns.redis_errors);
		free(cutoff);
		return;
	}
	for (i = 0; i < reply->elements; i++)
		if (reply->element[i]->type == REDIS_REPLY_STRING)
			ps_conns_expire_member(reply->element[i]->str,
			    reply->element[i]->len, cutoff);
	free(cutoff);
	/* a full batch: more may wait, look again (bounded per sweep) */
	if (reply->elements == (size_t)atoi(PS_SWEEP_BATCH) &&
	    ++ps_conns.rounds < PS_SWEEP_ROUNDS)
		ps_conns_scan();
}

/* ps_conns_scan - one look-up of index entries older than ttl */
static void
ps_conns_scan(void)
{
	char *cutoff = pl_malloc(24);
	const char *argv[] = { "ZRANGEBYSCORE", PS_IDX_KEY, "-inf", cutoff,
	    "LIMIT", "0", PS_SWEEP_BATCH };
	int rv;

	snprintf(cutoff, 24, "%llu",
	    (unsigned long long)(pl_clock_wall_ms() - (uint64_t)ps_conf.ttl_ms));
	ps_conns.sweeping = 1;
	if ((rv = pl_redis_cmd(ps_conns.redis, ps_conns_scanned, cutoff, 7, argv, NULL)) != 0)
		ps_conns_scanned(rv, NULL, cutoff);
}

/* ps_conns_mem_checked - Redis' live count of a user the in-memory view
 * lost; when Redis fails too, the in-memory view was the truth: away */
static void
ps_conns_mem_checked(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;

	if (rv == PL_ECLOSED) {
		free(op);
		return;
	}
	if (rv == 0 && reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == 2)
		ps_conns_gone(op, 1, reply->element[1]->integer);
	else
		ps_conns_gone(op, 1, 0);
	free(op);
}

/* ps_conns_mem_gone - a user emptied from the in-memory view by expiry:
 * away unless Redis (when it answers) still holds a live session */
static void
ps_conns_mem_gone(const char *user, const char *team)
{
	struct ps_op *op = ps_conns_op(user, team, "");

	pl_metrics_inc(ps_conns.expired);
	ps_conns_eval(ps_lua_live, op->key, op->cutoff, NULL, NULL,
	    ps_conns_mem_checked, op);
}

/* ps_conns_sweep - the timer: expire the silent, here and in Redis */
void
ps_conns_sweep(void)
{
	ps_memview_expire(pl_clock_mono_ms(), (uint64_t)ps_conf.ttl_ms, ps_conns_mem_gone);
	if (ps_conns.sweeping || !pl_redis_connected(ps_conns.redis))
		return;
	ps_conns.rounds = 0;
	ps_conns_scan();
}

/* ps_conns_fini - the in-memory view goes; Redis is the caller's */
void
ps_conns_fini(void)
{
	ps_memview_fini();
	ps_conns.redis = NULL;
}
