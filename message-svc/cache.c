/* cache.c - the Redis side of a channel: {ch:ID}:recent, a sorted set of the
 * channel's last Envelopes scored by seq (capped at recent-max), and
 * {ch:ID}:meta, a hash with the last seq and the channel's epoch.
 *
 * Redis is only a cache: every write here is fire-and-forget and every read
 * falls back to PostgreSQL. When the cache of a channel is lost (flush,
 * eviction, a new Redis) the meta hash is gone; the next append notices
 * (HSETNX answers 1) and moves the channel to a new epoch, so resumes
 * against the old epoch get resync_required. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "redis.h"

/* cache_key - "{ch:ID}:suffix" */
static void
cache_key(char *out, size_t n, const char *channel, const char *suffix)
{
	snprintf(out, n, "{ch:%s}:%s", channel, suffix);
}

/* cache_new_epoch - a random non-zero epoch different from old */
static uint32_t
cache_new_epoch(uint32_t old)
{
	uint32_t e = 0;

	while (e == 0 || e == old)
		pl_random_bytes(&e, sizeof(e));
	return e & 0x7fffffff ? e & 0x7fffffff : 1;
}

/* cache_epoch_set - the append's answer: 1 when HSETNX created the epoch */
static void
cache_epoch_set(int rv, struct redisReply *r, void *arg)
{
	struct ms_chan *ch = arg;
	char key[64];

	if (rv != 0 || r == NULL || r->type != REDIS_REPLY_INTEGER)
		return;
	if (r->integer == 1 && ch->epoch_known) {
		uint32_t old = ch->epoch;

		ch->epoch = cache_new_epoch(old);
		cache_key(key, sizeof(key), ch->id, "meta");
		pl_redis_cmdf(ms.redis, NULL, NULL, "HSET %s epoch %u", key, ch->epoch);
		pl_log_warn("MS-CACHE-LOST", "channel=%s old_epoch=%u epoch=%u", ch->id,
		    old, ch->epoch);
	}
	ch->epoch_known = 1;
}

/* the append as one script (both keys share the {ch:ID} hash tag, so it
 * stays a single-slot command under Redis Cluster): HSETNX of the epoch
 * (its answer tells a lost cache), ZADD, the cap, the last seq. One command
 * and one reply per message instead of four: the formatting and reply
 * parsing of four commands were an eighth of message-svc's CPU. */
static const char cache_append_lua[] =
	"local fresh = redis.call('HSETNX', KEYS[2], 'epoch', ARGV[3]) "
	"redis.call('ZADD', KEYS[1], ARGV[1], ARGV[2]) "
	"redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[4]) + 1)) "
	"redis.call('HSET', KEYS[2], 'seq', ARGV[1]) "
	"return fresh";

/* ms_cache_append - add an acknowledged event to the recent cache */
void
ms_cache_append(struct ms_chan *ch, const Parley__Message *m, const void *env, size_t len)
{
	static char keep[24];		/* recent-max, a setting: once */
	char rkey[64], mkey[64], seq[24], epoch[16];
	const char *argv[9];
	size_t argvlen[9];
	int i;

	if (ms.redis == NULL || !pl_redis_connected(ms.redis))
		return;
	if (keep[0] == '\0')
		snprintf(keep, sizeof(keep), "%lld", (long long)ms_conf.recent_max);
	cache_key(rkey, sizeof(rkey), ch->id, "recent");
	cache_key(mkey, sizeof(mkey), ch->id, "meta");
	snprintf(seq, sizeof(seq), "%lld", (long long)m->seq);
	snprintf(epoch, sizeof(epoch), "%u", ch->epoch);
	argv[0] = "EVAL";
	argv[1] = cache_append_lua;
	argv[2] = "2";
	argv[3] = rkey;
	argv[4] = mkey;
	argv[5] = seq;
	argv[6] = env;
	argv[7] = epoch;
	argv[8] = keep;
	for (i = 0; i < 9; i++)
		argvlen[i] = i == 6 ? len : i == 1 ? sizeof(cache_append_lua) - 1 :
		    strlen(argv[i]);
	pl_redis_cmd(ms.redis, cache_epoch_set, ch, 9, argv, argvlen);
}

/* cache_epoch_loaded - HGET meta epoch at channel load */
static void
cache_epoch_loaded(int rv, struct redisReply *r, void *arg)
{
	struct ms_chan *ch = arg;
	char key[64];

	if (rv != 0 || r == NULL)
		return;
	if (r->type == REDIS_REPLY_STRING) {
		ch->epoch = (uint32_t)strtoul(r->str, NULL, 10);
		ch->epoch_known = 1;
		return;
	}
	/* no meta: a new channel, or its cache was lost while we were away */
	ch->epoch = cache_new_epoch(ch->epoch);
	cache_key(key, sizeof(key), ch->id, "meta");
	pl_redis_cmdf(ms.redis, NULL, NULL, "HSET %s epoch %u", key, ch->epoch);
	ch->epoch_known = 1;
}

/* ms_cache_load_epoch - learn the channel's epoch (async) */
void
ms_cache_load_epoch(struct ms_chan *ch)
{
	char key[64];

	if (ch->epoch == 0)
		ch->epoch = cache_new_epoch(0);
	if (ms.redis == NULL)
		return;
	cache_key(key, sizeof(key), ch->id, "meta");
	pl_redis_cmdf(ms.redis, cache_epoch_loaded, ch, "HGET %s epoch", key);
}

struct cache_range {
	ms_cache_fn fn;
	void *arg;
};

/* cache_range_done - decode the envelopes of ZRANGEBYSCORE */
static void
cache_range_done(int rv, struct redisReply *r, void *arg)
{
	struct cache_range *op = arg;
	Parley__Envelope **envs = NULL;
	int i, n = 0;

	if (rv == 0 && (r == NULL || r->type != REDIS_REPLY_ARRAY))
		rv = PL_EIO;
	if (rv == 0) {
		envs = pl_calloc(r->elements + 1, sizeof(*envs));
		for (i = 0; i < (int)r->elements; i++) {
			Parley__Envelope *e = NULL;

			if (r->element[i]->type == REDIS_REPLY_STRING)
				e = parley__envelope__unpack(NULL, r->element[i]->len,
				    (const uint8_t *)r->element[i]->str);
			if (e == NULL || e->body_case != PARLEY__ENVELOPE__BODY_MESSAGE) {
				if (e)
					parley__envelope__free_unpacked(e, NULL);
				pl_metrics_inc(ms_m.bad_input);
				continue;
			}
			envs[n++] = e;
		}
	}
	op->fn(rv, envs, n, op->arg);
	for (i = 0; i < n; i++)
		parley__envelope__free_unpacked(envs[i], NULL);
	free(envs);
	free(op);
}

/* ms_cache_range - cached envelopes with seq > after, ascending, up to limit */
void
ms_cache_range(const char *channel, int64_t after, int limit, ms_cache_fn fn, void *arg)
{
	struct cache_range *op;
	char key[64];
	int rv;

	if (ms.redis == NULL || !pl_redis_connected(ms.redis)) {
		fn(PL_EUNAVAIL, NULL, 0, arg);
		return;
	}
	op = pl_calloc(1, sizeof(*op));
	op->fn = fn;
	op->arg = arg;
	cache_key(key, sizeof(key), channel, "recent");
	rv = pl_redis_cmdf(ms.redis, cache_range_done, op,
	    "ZRANGEBYSCORE %s (%lld +inf LIMIT 0 %d", key, (long long)after, limit);
	if (rv != 0) {
		free(op);
		fn(rv, NULL, 0, arg);
	}
}
