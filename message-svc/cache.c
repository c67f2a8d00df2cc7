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
#include "ms_chan.h"
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

	ch->held--;
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
 * (its answer tells a lost cache), ZADD of every queued event, the cap, the
 * last seq. ARGV: epoch, recent-max, last seq, then score/member pairs. */
static const char cache_append_lua[] =
	"local fresh = redis.call('HSETNX', KEYS[2], 'epoch', ARGV[1]) "
	"redis.call('ZADD', KEYS[1], unpack(ARGV, 4)) "
	"redis.call('ZREMRANGEBYRANK', KEYS[1], 0, -(tonumber(ARGV[2]) + 1)) "
	"redis.call('HSET', KEYS[2], 'seq', ARGV[3]) "
	"return fresh";

/* Appends are queued per channel and written when the delivery reports of
 * one wake-up have all been served (ms_cache_flush, hooked to the
 * producer): one script per channel per batch of acknowledgements instead of
 * one per message. The reports of a wake-up come in bursts per partition, so
 * a busy channel's batch is tens of events; Redis ran one script per message
 * at ~8 us each before. Each queued event: int64 seq, uint32 length, the
 * Envelope's bytes. */
#define CACHE_BATCH_MAX 256	/* events per script (Lua's unpack limit is ~8000 values) */
#define CACHE_ARGV_FIXED 8	/* EVAL script numkeys rkey mkey epoch keep last */

static struct {
	struct ms_chan **dirty;		/* channels with a queue, in order of their first event */
	size_t n, cap;
	const char *argv[CACHE_ARGV_FIXED + 2 * CACHE_BATCH_MAX];
	size_t argvlen[CACHE_ARGV_FIXED + 2 * CACHE_BATCH_MAX];
	char seqs[CACHE_BATCH_MAX][24];
} cache_q;

/* cache_write - one script with the queued events of ch, then an empty queue */
static void
cache_write(struct ms_chan *ch)
{
	static char keep[24];		/* recent-max, a setting: once */
	char rkey[64], mkey[64], last[24], epoch[16];
	const char *p = ch->cache_q.data, *end = p + ch->cache_q.len;
	int64_t seq, max = 0;
	uint32_t len;
	int argc = CACHE_ARGV_FIXED;

	if (ch->cache_qn == 0)
		return;
	if (ms.redis == NULL || !pl_redis_connected(ms.redis))
		goto out;
	if (keep[0] == '\0')
		snprintf(keep, sizeof(keep), "%lld", (long long)ms_conf.recent_max);
	while (p < end) {
		int i = (argc - CACHE_ARGV_FIXED) / 2;

		memcpy(&seq, p, sizeof(seq));
		memcpy(&len, p + sizeof(seq), sizeof(len));
		p += sizeof(seq) + sizeof(len);
		cache_q.argvlen[argc] = (size_t)snprintf(cache_q.seqs[i],
		    sizeof(cache_q.seqs[i]), "%lld", (long long)seq);
		cache_q.argv[argc++] = cache_q.seqs[i];
		cache_q.argv[argc] = p;
		cache_q.argvlen[argc++] = len;
		p += len;
		if (seq > max)
			max = seq;
	}
	cache_key(rkey, sizeof(rkey), ch->id, "recent");
	cache_key(mkey, sizeof(mkey), ch->id, "meta");
	snprintf(last, sizeof(last), "%lld", (long long)max);
	snprintf(epoch, sizeof(epoch), "%u", ch->epoch);
	cache_q.argv[0] = "EVAL";
	cache_q.argvlen[0] = 4;
	cache_q.argv[1] = cache_append_lua;
	cache_q.argvlen[1] = sizeof(cache_append_lua) - 1;
	cache_q.argv[2] = "2";
	cache_q.argvlen[2] = 1;
	cache_q.argv[3] = rkey;
	cache_q.argvlen[3] = strlen(rkey);
	cache_q.argv[4] = mkey;
	cache_q.argvlen[4] = strlen(mkey);
	cache_q.argv[5] = epoch;
	cache_q.argvlen[5] = strlen(epoch);
	cache_q.argv[6] = keep;
	cache_q.argvlen[6] = strlen(keep);
	cache_q.argv[7] = last;
	cache_q.argvlen[7] = strlen(last);
	pl_metrics_observe(ms_m.cache_batch, (double)ch->cache_qn);
	if (pl_redis_cmd(ms.redis, cache_epoch_set, ch, argc, cache_q.argv,
	    cache_q.argvlen) == 0)
		ch->held++;	/* the callback runs exactly once (redis.h) */
out:
	pl_buf_reset(&ch->cache_q);
	ch->cache_qn = 0;
}

/* ms_cache_append - queue an acknowledged event for the recent cache */
void
ms_cache_append(struct ms_chan *ch, const Parley__Message *m, const void *env, size_t len)
{
	int64_t seq = m->seq;
	uint32_t n = (uint32_t)len;

	if (ms.redis == NULL || !pl_redis_connected(ms.redis))
		return;
	if (!ch->cache_dirty) {
		cache_q.dirty = pl_grow(cache_q.dirty, &cache_q.cap, cache_q.n + 1, 64,
		    sizeof(*cache_q.dirty));
		cache_q.dirty[cache_q.n++] = ch;
		ch->cache_dirty = 1;
	}
	pl_buf_append(&ch->cache_q, &seq, sizeof(seq));
	pl_buf_append(&ch->cache_q, &n, sizeof(n));
	pl_buf_append(&ch->cache_q, env, len);
	if (++ch->cache_qn == CACHE_BATCH_MAX)
		cache_write(ch);	/* stays on the dirty list, with an empty queue */
}

/* ms_cache_flush - write every queued append (the producer's drain hook) */
void
ms_cache_flush(void *arg)
{
	size_t i;

	(void)arg;
	for (i = 0; i < cache_q.n; i++) {
		cache_q.dirty[i]->cache_dirty = 0;
		cache_write(cache_q.dirty[i]);
	}
	cache_q.n = 0;
}

/* ms_cache_fini - forget the queue (at exit, before the channels are freed) */
void
ms_cache_fini(void)
{
	free(cache_q.dirty);
	memset(&cache_q, 0, sizeof(cache_q));
}

/* cache_epoch_loaded - HGET meta epoch at channel load */
static void
cache_epoch_loaded(int rv, struct redisReply *r, void *arg)
{
	struct ms_chan *ch = arg;
	char key[64];

	ch->held--;
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
	if (pl_redis_cmdf(ms.redis, cache_epoch_loaded, ch, "HGET %s epoch", key) == 0)
		ch->held++;
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
