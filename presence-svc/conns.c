/* conns.c - who is connected and what they show. Per user, in one hash slot
 * ("{u:<user>}"):
 *
 *   {u:<user>}:conns  sorted set: session id -> wall ms last seen
 *   {u:<user>}:st     hash: team, manual ("1" away | "0"), act (wall ms of
 *                     the last activity), shown (the presence last published)
 *
 * and two bucketed indexes, bucket = FNV-1a(user) % PARLEY_PRESENCE_BUCKETS,
 * so a Redis Cluster spreads them and a sweep reads only what expired:
 *
 *   {ps:<b>}:idx  "team|user|session" -> wall ms last seen
 *   {ps:<b>}:act  "team|user" -> wall ms of the last activity
 *
 * Every step is one Lua script on the user's two keys (one slot), which
 * applies the step and then settles: the presence the user should show is
 * "active" when a live session is there, manual away is off and the last
 * activity is within auto-away, else "away"; when it differs from "shown"
 * the script writes it and returns it, and only then is it published. So
 * two presence-svc instances never both announce the same change.
 *
 *   touch   (connect)             ZADD the session; activity now
 *   beat    (heartbeat, poll)     ZADD; activity only if none was known
 *   drop    (disconnect)          ZREM; the last live one leaves a "~" ghost
 *                                 for PARLEY_PRESENCE_GRACE_MS (no flap),
 *                                 expired when the grace ends (this process'
 *                                 grace table; the sweep if it is lost)
 *   expire  (the sweep)           ZREM if still older than ttl
 *   active  (activity)            act = now
 *   manual  (users.setPresence)   manual = 1 | 0
 *   settle  (auto-away sweep, the manual flag loaded)
 *
 * The manual flag is a cache of store.c: when the hash has none (first sight,
 * expired, Redis flushed), the script says so, the flag is loaded from
 * PostgreSQL and the step settles again with it. A heartbeat re-adds a
 * session Redis lost, so a flushed Redis repairs itself within a heartbeat.
 * When Redis fails, connect / heartbeat / disconnect are applied to the
 * in-memory view (memview.c) instead and counted; once Redis answers again
 * a session moves back on its next heartbeat. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <hiredis/hiredis.h>
#include <openssl/sha.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "presence.h"
#include "redis.h"
#include "shard.h"

#define PS_SWEEP_BATCH "256"	/* index entries per look-up */
#define PS_SWEEP_ROUNDS 8	/* look-ups per bucket and sweep at most */
#define PS_KEY_TTL_FACTOR 4	/* a set outlives ttl by this much, then Redis drops it */
#define PS_ST_TTL_MS "86400000"	/* the state hash of a user not seen for a day goes */
#define PS_GHOST "~"		/* the grace member of a cleanly disconnected user */
#define PS_SCRIPT_ARGV 16	/* EVALSHA, sha, numkeys, keys and args at most */
#define PS_SCRIPTS 8
#define PS_STEP_ANSWER 7	/* elements of ps_lua_step's answer */

/* KEYS: conns, st. ARGV: op, now, cutoff, session, pexpire, auto cutoff,
 * ghost score, manual ("1" | "0" cache it, "0?" use it uncached, "" none),
 * team, st pexpire -> {changed, live, known, removed (touch, beat: a ghost,
 * i.e. a reconnect within the grace), ghost, actset, idle (away though
 * online and not manually: auto-away)} */
static const char ps_lua_step[] =
    "local c, st, op, now, cut = KEYS[1], KEYS[2], ARGV[1], ARGV[2], ARGV[3] "
    "local rm, ghost, actset = 0, 0, 0 "
    "if op == 'touch' or op == 'beat' then "
    "  local was = redis.call('ZCOUNT', c, '(' .. cut, '+inf') "
    "  rm = redis.call('ZREM', c, '" PS_GHOST "') "
    "  redis.call('ZADD', c, now, ARGV[4]) "
    "  redis.call('PEXPIRE', c, ARGV[5]) "
    "  if op == 'touch' or was == 0 or redis.call('HEXISTS', st, 'act') == 0 then "
    "    redis.call('HSET', st, 'act', now) actset = 1 end "
    "  redis.call('HSET', st, 'team', ARGV[9]) "
    "elseif op == 'drop' then "
    "  if redis.call('ZREM', c, ARGV[4]) == 1 then rm = 1 "
    "    if tonumber(ARGV[7]) > tonumber(cut) and "
    "        redis.call('ZCOUNT', c, '(' .. cut, '+inf') == 0 then "
    "      redis.call('ZADD', c, ARGV[7], '" PS_GHOST "') "
    "      redis.call('PEXPIRE', c, ARGV[5]) ghost = 1 end end "
    "elseif op == 'expire' then "
    "  local s = redis.call('ZSCORE', c, ARGV[4]) "
    "  if s and tonumber(s) <= tonumber(cut) then redis.call('ZREM', c, ARGV[4]) rm = 1 end "
    "elseif op == 'active' then "
    "  redis.call('HSET', st, 'act', now, 'team', ARGV[9]) actset = 1 "
    "elseif op == 'manual' then "
    "  redis.call('HSET', st, 'manual', ARGV[8], 'team', ARGV[9]) "
    "end "
    "local live = redis.call('ZCOUNT', c, '(' .. cut, '+inf') "
    "if live == 0 then redis.call('DEL', c) end "
    /* the last session gone while Redis had lost the user (a flush before
     * the next heartbeat): nothing says what was shown, so say away */
    "if op == 'drop' and live == 0 and redis.call('HEXISTS', st, 'shown') == 0 then "
    "  redis.call('HSET', st, 'shown', 'away', 'team', ARGV[9]) "
    "  redis.call('PEXPIRE', st, ARGV[10]) "
    "  return {'away', 0, 1, rm, ghost, actset, 0} end "
    "local m = redis.call('HGET', st, 'manual') "
    "if not m and ARGV[8] ~= '' then m = string.sub(ARGV[8], 1, 1) "
    "  if string.len(ARGV[8]) == 1 then redis.call('HSET', st, 'manual', m) end end "
    "if not m then return {'', live, 0, rm, ghost, actset, 0} end "
    "local act = tonumber(redis.call('HGET', st, 'act') or '0') "
    "local want = 'away' "
    "if live > 0 and m == '0' and act > tonumber(ARGV[6]) then want = 'active' end "
    "local ch = '' "
    "if want ~= (redis.call('HGET', st, 'shown') or 'away') then "
    "  redis.call('HSET', st, 'shown', want) ch = want end "
    "if redis.call('EXISTS', st) == 1 then redis.call('PEXPIRE', st, ARGV[10]) end "
    "return {ch, live, 1, rm, ghost, actset, "
    "  (want == 'away' and live > 0 and m == '0') and 1 or 0}";

/* KEYS: conns, st. ARGV: cutoff -> {live, ghost live, manual, act, team},
 * read only */
static const char ps_lua_get[] =
    "local c, st, cut = KEYS[1], KEYS[2], ARGV[1] "
    "local live = redis.call('ZCOUNT', KEYS[1], '(' .. cut, '+inf') "
    "local g = redis.call('ZSCORE', c, '" PS_GHOST "') "
    "local v = redis.call('HMGET', st, 'manual', 'act', 'team') "
    "return {live, (g and tonumber(g) > tonumber(cut)) and 1 or 0, v[1] or '0', "
    "  v[2] or '0', v[3] or ''}";

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
	char st[PS_ID_MAX + 16];	/* {u:<user>}:st */
	char idx[32], act[32];		/* {ps:<b>}:idx, {ps:<b>}:act */
	char member[3 * PS_ID_MAX + 3];	/* team|user|session */
	char umember[2 * PS_ID_MAX + 2];	/* team|user */
	char now[24], cutoff[24], auto_cutoff[24], ghost[24];
	const char *step;
	uint64_t mono_ms;
	ps_done_fn done;
	void *arg;
	ps_state_fn state_fn;
};

/* one index look-up of a sweep: which bucket, which kind, how far */
struct ps_scan {
	uint32_t bucket;
	int activity;		/* the {ps:<b>}:act index, else :idx */
	int rounds;
	char key[32];
	char cutoff[24];
};

static struct {
	struct pl_redis *redis;
	int sweeping;		/* look-ups in flight */
	struct pl_metric *redis_errors;
	struct pl_metric *fallback;
	struct pl_metric *expired;
	struct pl_metric *auto_away;
	struct pl_metric *ghosts;
	struct pl_metric *reconnects;
	struct pl_metric *graces_ended;
	struct ps_table *graced;	/* "team|user" in grace, by mono ms */
	struct ps_table *active;	/* users whose activity was stamped lately */
	struct pl_metric *coalesced;
} ps_conns;

static void ps_conns_run(struct ps_op *op, const char *step, const char *manual);

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
	ps_conns.auto_away = pl_metrics_counter("parley_presence_auto_away_total",
	    "Users turned away by the auto-away sweep (no activity).", NULL);
	ps_conns.ghosts = pl_metrics_counter("parley_presence_grace_total",
	    "Clean last disconnects held for the reconnect grace instead of away.", NULL);
	ps_conns.reconnects = pl_metrics_counter("parley_presence_grace_reconnects_total",
	    "Users who came back within the reconnect grace (no change said).", NULL);
	ps_conns.graces_ended = pl_metrics_counter("parley_presence_grace_ended_total",
	    "Reconnect graces over: checked at their end (away if no one came back), "
	    "restarted, or left to the sweep.",
	    NULL);
	ps_conns.coalesced = pl_metrics_counter("parley_presence_activity_coalesced_total",
	    "Activity reports within auto-away/60 of the user's last stamp here: "
	    "not written again.", NULL);
	ps_memview_init();
	ps_conns.graced = ps_table_create((size_t)ps_conf.mem_max);
	ps_conns.active = ps_table_create((size_t)ps_conf.mem_max);
}

/* ps_conns_bucket - the index bucket of user */
uint32_t
ps_conns_bucket(const char *user)
{
	return pl_shard_hash(user) % (uint32_t)(ps_conf.buckets > 0 ? ps_conf.buckets : 1);
}

/* ps_conns_op - a step about (user, team, session), stamped now */
static struct ps_op *
ps_conns_op(const char *user, const char *team, const char *session)
{
	struct ps_op *op = pl_calloc(1, sizeof(*op));
	uint64_t now = pl_clock_wall_ms();
	uint32_t b = ps_conns_bucket(user);

	snprintf(op->user, sizeof(op->user), "%s", user);
	snprintf(op->team, sizeof(op->team), "%s", team);
	snprintf(op->session, sizeof(op->session), "%s", session);
	snprintf(op->key, sizeof(op->key), "{u:%s}:conns", user);
	snprintf(op->st, sizeof(op->st), "{u:%s}:st", user);
	snprintf(op->idx, sizeof(op->idx), "{ps:%u}:idx", b);
	snprintf(op->act, sizeof(op->act), "{ps:%u}:act", b);
	snprintf(op->member, sizeof(op->member), "%s%c%s%c%s", team, PS_SEP, user,
	    PS_SEP, session);
	snprintf(op->umember, sizeof(op->umember), "%s%c%s", team, PS_SEP, user);
	snprintf(op->now, sizeof(op->now), "%llu", (unsigned long long)now);
	snprintf(op->cutoff, sizeof(op->cutoff), "%llu",
	    (unsigned long long)(now - (uint64_t)ps_conf.ttl_ms));
	snprintf(op->auto_cutoff, sizeof(op->auto_cutoff), "%llu",
	    (unsigned long long)(now - (uint64_t)ps_conf.auto_away_s * 1000));
	snprintf(op->ghost, sizeof(op->ghost), "%llu", (unsigned long long)(now -
	    (uint64_t)ps_conf.ttl_ms + (uint64_t)ps_conf.grace_ms));
	op->mono_ms = pl_clock_mono_ms();
	return op;
}

/* ps_conns_free - the op is done: tell its caller, then free it */
static void
ps_conns_free(struct ps_op *op, int rv)
{
	if (op->done != NULL)
		op->done(rv, op->arg);
	free(op);
}

/* the SHA1 of each script, computed once: scripts go as EVALSHA (Redis
 * does not hash and parse the body again per call), and as EVAL when Redis
 * answers NOSCRIPT (restarted, SCRIPT FLUSH), which loads it again */
static struct {
	const char *text;
	char sha[2 * SHA_DIGEST_LENGTH + 1];
} ps_shas[PS_SCRIPTS];

/* one script call in flight: its argv (copied) and whom to answer */
struct ps_script_call {
	const char *text;
	pl_redis_fn cb;
	void *arg;
	int argc;
	char *argv[PS_SCRIPT_ARGV];
};

/* ps_conns_sha - the hex SHA1 of a script's text */
static const char *
ps_conns_sha(const char *text)
{
	unsigned char d[SHA_DIGEST_LENGTH];
	int i, k;

	for (i = 0; i < PS_SCRIPTS && ps_shas[i].text != NULL; i++)
		if (ps_shas[i].text == text)
			return ps_shas[i].sha;
	if (i == PS_SCRIPTS)
		pl_panic("PS-SCRIPTS", "more than %d scripts", PS_SCRIPTS);
	SHA1((const unsigned char *)text, strlen(text), d);
	for (k = 0; k < SHA_DIGEST_LENGTH; k++)
		snprintf(ps_shas[i].sha + 2 * k, 3, "%02x", d[k]);
	ps_shas[i].text = text;
	return ps_shas[i].sha;
}

/* ps_conns_script_free - the call's copies */
static void
ps_conns_script_free(struct ps_script_call *sc)
{
	int i;

	for (i = 0; i < sc->argc; i++)
		free(sc->argv[i]);
	free(sc);
}

/* ps_conns_script_done - the answer; NOSCRIPT: send the text once */
static void
ps_conns_script_done(int rv, struct redisReply *reply, void *arg)
{
	struct ps_script_call *sc = arg;

	if (rv == PL_EIO && reply != NULL && reply->type == REDIS_REPLY_ERROR &&
	    reply->str != NULL && strncmp(reply->str, "NOSCRIPT", 8) == 0 &&
	    strcmp(sc->argv[0], "EVALSHA") == 0) {
		free(sc->argv[0]);
		free(sc->argv[1]);
		sc->argv[0] = pl_strdup("EVAL");
		sc->argv[1] = pl_strdup(sc->text);
		if ((rv = pl_redis_cmd(ps_conns.redis, ps_conns_script_done, sc, sc->argc,
		    (const char **)sc->argv, NULL)) == 0)
			return;
		reply = NULL;
	}
	if (sc->cb != NULL)
		sc->cb(rv, reply, sc->arg);
	ps_conns_script_free(sc);
}

/* ps_conns_script - run script with argc strings of argv (numkeys, keys,
 * args); cb (may be NULL) gets the answer, always exactly once */
static void
ps_conns_script(const char *script, int argc, const char *const *argv,
    pl_redis_fn cb, void *arg)
{
	struct ps_script_call *sc = pl_calloc(1, sizeof(*sc));
	int i, rv;

	if (argc + 2 > PS_SCRIPT_ARGV)
		pl_panic("PS-SCRIPT-ARGV", "argc=%d", argc);
	sc->text = script;
	sc->cb = cb;
	sc->arg = arg;
	sc->argv[0] = pl_strdup("EVALSHA");
	sc->argv[1] = pl_strdup(ps_conns_sha(script));
	for (i = 0; i < argc; i++)
		sc->argv[i + 2] = pl_strdup(argv[i]);
	sc->argc = argc + 2;
	if ((rv = pl_redis_cmd(ps_conns.redis, ps_conns_script_done, sc, sc->argc,
	    (const char **)sc->argv, NULL)) != 0) {
		if (cb != NULL)
			cb(rv, NULL, arg);
		ps_conns_script_free(sc);
	}
}

/* ps_conns_eval - run script on key with up to 3 args; cb gets rv always */
static void
ps_conns_eval(const char *script, const char *key, const char *a1,
    const char *a2, const char *a3, pl_redis_fn cb, void *arg)
{
	const char *argv[] = { "1", key, a1, a2, a3 };

	ps_conns_script(script, a3 ? 5 : a2 ? 4 : 3, argv, cb, arg);
}

/* ps_conns_index - ZADD member at score to an index key, no answer needed */
static void
ps_conns_index(const char *key, const char *score, const char *member)
{
	const char *argv[] = { "ZADD", key, score, member };

	(void)pl_redis_cmd(ps_conns.redis, NULL, NULL, 4, argv, NULL);
}

/* ps_conns_failed - count a failed command; 1 if it should fall back */
static int
ps_conns_failed(int rv, const struct redisReply *reply)
{
	if (rv == PL_ECLOSED)
		return 0;	/* shutting down */
	if (rv == 0 && reply != NULL && reply->type == REDIS_REPLY_ARRAY &&
	    reply->elements == PS_STEP_ANSWER)
		return 0;
	pl_metrics_inc(ps_conns.redis_errors);
	pl_log_debug("PS-REDIS-FAILED", "err=%s", pl_err_str(rv ? rv : PL_EPROTO));
	return 1;
}

/* ps_conns_int - element i of a step's answer as an integer */
static long long
ps_conns_int(const struct redisReply *reply, size_t i)
{
	return reply->element[i]->type == REDIS_REPLY_INTEGER ?
	    reply->element[i]->integer : 0;
}

/* ps_conns_changed - the presence the step published, or NULL */
static const char *
ps_conns_changed(const struct redisReply *reply)
{
	const struct redisReply *e = reply->element[0];

	if (e->type != REDIS_REPLY_STRING || e->len == 0)
		return NULL;
	return strcmp(e->str, PS_ACTIVE) == 0 ? PS_ACTIVE : PS_AWAY;
}

/* ps_conns_loaded - the manual flag from PostgreSQL: settle with it
 * (uncached after a failure, so a later step loads it again) */
static void
ps_conns_loaded(int rv, int away, void *arg)
{
	struct ps_op *op = arg;

	if (rv == PL_ECLOSED) {
		ps_conns_free(op, rv);
		return;
	}
	ps_conns_run(op, "settle", rv != 0 ? "0?" : away ? "1" : "0");
}

/* ps_conns_settled - the answer of any step: the indexes, the manual flag
 * when unknown, the change to publish. 1 if op is kept (loading). */
static int
ps_conns_settled(struct ps_op *op, const struct redisReply *reply, int announce)
{
	const char *changed = ps_conns_changed(reply);
	struct ps_entry *e;
	int created;

	if (ps_conns_int(reply, 5) == 1)
		ps_conns_index(op->act, op->now, op->umember);
	if (ps_conns_int(reply, 4) == 1) {
		pl_metrics_inc(ps_conns.ghosts);
		snprintf(op->member, sizeof(op->member), "%s%c%s%c" PS_GHOST, op->team,
		    PS_SEP, op->user, PS_SEP);
		ps_conns_index(op->idx, op->ghost, op->member);
		/* full: the sweep expires it (ttl later at worst); a grace of the
		 * user already here is restarted: the earlier one is over */
		if (ps_table_put(ps_conns.graced, op->umember, op->mono_ms, &e,
		    &created) != 0 || !created)
			pl_metrics_inc(ps_conns.graces_ended);
	}
	if (ps_conns_int(reply, 2) == 0) {	/* manual flag not cached */
		if (ps_store_load(op->user, ps_conns_loaded, op) == 0)
			return 1;
		ps_conns_run(op, "settle", "0?");
		return 1;
	}
	if (changed != NULL && announce) {
		if (strcmp(changed, PS_AWAY) == 0 && ps_conns_int(reply, 6) == 1) {
			pl_metrics_inc(ps_conns.auto_away);
			pl_log_info("PS-AUTO-AWAY", "user=%s team=%s", op->user, op->team);
		}
		(void)ps_publish_presence(op->user, op->team, changed);
	}
	return 0;
}

/* ps_conns_stepped - a plain step's answer (settle, active, manual,
 * expire); Redis errors are counted, nothing falls back */
static void
ps_conns_stepped(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;

	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != PS_STEP_ANSWER) {
		if (rv != PL_ECLOSED)
			pl_metrics_inc(ps_conns.redis_errors);
		ps_conns_free(op, rv ? rv : PL_EPROTO);
		return;
	}
	if (strcmp(op->step, "expire") == 0 && ps_conns_int(reply, 3) == 1) {
		pl_metrics_inc(ps_conns.expired);
		pl_log_info("PS-EXPIRED", "user=%s session=%s", op->user, op->session);
	}
	if (ps_conns_settled(op, reply, 1))
		return;
	ps_conns_free(op, 0);
}

/* ps_conns_run_cb - the step script for op; its answer goes to cb */
static void
ps_conns_run_cb(struct ps_op *op, const char *step, const char *manual,
    pl_redis_fn cb)
{
	char pexpire[24];
	const char *argv[] = { "2", op->key, op->st, step, op->now, op->cutoff,
	    op->session, pexpire, op->auto_cutoff, op->ghost, manual, op->team,
	    PS_ST_TTL_MS };

	op->step = step;
	snprintf(pexpire, sizeof(pexpire), "%lld",
	    (long long)(ps_conf.ttl_ms * PS_KEY_TTL_FACTOR + ps_conf.grace_ms));
	ps_conns_script(ps_lua_step, (int)(sizeof(argv) / sizeof(argv[0])), argv, cb, op);
}

/* ps_conns_run - a plain step (settle, active, manual, expire) */
static void
ps_conns_run(struct ps_op *op, const char *step, const char *manual)
{
	ps_conns_run_cb(op, step, manual, ps_conns_stepped);
}

/* ps_conns_touched - connect / heartbeat answered; announce a first
 * connection unless the in-memory view announced it while Redis failed */
static void
ps_conns_touched(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;
	int known;

	if (ps_conns_failed(rv, reply)) {
		pl_metrics_inc(ps_conns.fallback);
		if (ps_memview_touch(op->user, op->team, op->session, op->mono_ms) == 1)
			(void)ps_publish_presence(op->user, op->team, PS_ACTIVE);
		ps_conns_free(op, 0);
		return;
	}
	if (rv != 0) {
		ps_conns_free(op, rv);
		return;
	}
	known = ps_memview_forget(op->user, op->session) > 0;
	if (ps_conns_int(reply, 3) == 1)
		pl_metrics_inc(ps_conns.reconnects);
	if (ps_conns_settled(op, reply, !known))
		return;
	ps_conns_free(op, 0);
}

/* ps_conns_touch_step - connect or heartbeat: the session is alive now */
static void
ps_conns_touch_step(const struct ps_report *r, const char *step)
{
	struct ps_op *op = ps_conns_op(r->user, r->team, r->session);

	ps_conns_index(op->idx, op->now, op->member);
	ps_conns_run_cb(op, step, "", ps_conns_touched);
}

/* ps_conns_touch - connect: a session, and activity now */
void
ps_conns_touch(const struct ps_report *r)
{
	ps_conns_touch_step(r, "touch");
}

/* ps_conns_beat - heartbeat or poll: the session lives, no activity */
void
ps_conns_beat(const struct ps_report *r)
{
	ps_conns_touch_step(r, "beat");
}

/* ps_conns_dropped - the drop's answer, merged with the in-memory view */
static void
ps_conns_dropped(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;
	int64_t mem_left;
	int mem_removed = ps_memview_drop(op->user, op->session, &mem_left);
	const char *changed;

	if (ps_conns_failed(rv, reply)) {
		pl_metrics_inc(ps_conns.fallback);
		if (mem_removed && mem_left == 0)
			(void)ps_publish_presence(op->user, op->team, PS_AWAY);
		ps_conns_free(op, 0);
		return;
	}
	if (rv != 0) {
		ps_conns_free(op, rv);
		return;
	}
	changed = ps_conns_changed(reply);
	/* a session only the in-memory view knew: away if Redis has none live */
	if (changed == NULL && mem_removed && mem_left == 0 &&
	    ps_conns_int(reply, 1) == 0)
		(void)ps_publish_presence(op->user, op->team, PS_AWAY);
	if (ps_conns_settled(op, reply, mem_left == 0))
		return;
	ps_conns_free(op, 0);
}

/* ps_conns_drop - disconnect: the session is gone (its last one is held
 * for the grace as a ghost, which the sweep expires) */
void
ps_conns_drop(const struct ps_report *r)
{
	struct ps_op *op = ps_conns_op(r->user, r->team, r->session);
	const char *argv[] = { "ZREM", op->idx, op->member };

	(void)pl_redis_cmd(ps_conns.redis, NULL, NULL, 3, argv, NULL);
	ps_conns_run_cb(op, "drop", "", ps_conns_dropped);
}

/* ps_conns_activity - a sent message or user_active: activity now. Every
 * message is one, so a user stamped here within auto-away/60 is not
 * written again: such a user cannot be auto-away, and the stamp is at most
 * 1/60 of auto-away late (30 s of the default 30 min). */
void
ps_conns_activity(const struct ps_report *r)
{
	uint64_t now = pl_clock_mono_ms(), every = (uint64_t)ps_conf.auto_away_s * 1000 / 60;
	struct ps_entry *e;
	int created;

	while ((e = ps_table_oldest(ps_conns.active)) != NULL && e->at_ms + every <= now)
		ps_table_del(ps_conns.active, e);
	if (ps_table_get(ps_conns.active, r->user) != NULL) {
		pl_metrics_inc(ps_conns.coalesced);
		return;
	}
	(void)ps_table_put(ps_conns.active, r->user, now, &e, &created);
	ps_conns_active(r->user, r->team, NULL, NULL);
}

/* ps_conns_active - users.setActive and activity reports */
void
ps_conns_active(const char *user, const char *team, ps_done_fn done, void *arg)
{
	struct ps_op *op = ps_conns_op(user, team, "");

	op->done = done;
	op->arg = arg;
	ps_conns_run(op, "active", "");
}

/* ps_conns_manual - users.setPresence, once store.c holds it */
void
ps_conns_manual(const char *user, const char *team, int away, ps_done_fn done,
    void *arg)
{
	struct ps_op *op = ps_conns_op(user, team, "");

	op->done = done;
	op->arg = arg;
	ps_conns_run(op, "manual", away ? "1" : "0");
}

/* ps_conns_str - element i as a string ("" if not one) */
static const char *
ps_conns_str(const struct redisReply *reply, size_t i)
{
	return reply->element[i]->type == REDIS_REPLY_STRING ? reply->element[i]->str : "";
}

/* ps_conns_got - the read-only state of one user */
static void
ps_conns_got(int rv, struct redisReply *reply, void *arg)
{
	struct ps_op *op = arg;
	struct ps_state s;
	long long live;

	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 5) {
		if (rv != PL_ECLOSED)
			pl_metrics_inc(ps_conns.redis_errors);
		op->state_fn(rv ? rv : PL_EPROTO, NULL, op->arg);
		free(op);
		return;
	}
	memset(&s, 0, sizeof(s));
	live = ps_conns_int(reply, 0);
	snprintf(s.team, sizeof(s.team), "%s", ps_conns_str(reply, 4));
	s.manual_away = strcmp(ps_conns_str(reply, 2), "1") == 0;
	s.last_activity_ms = strtoll(ps_conns_str(reply, 3), NULL, 10);
	s.online = live > 0;
	s.connection_count = live - ps_conns_int(reply, 1);
	s.auto_away = s.online && !s.manual_away &&
	    s.last_activity_ms <= strtoll(op->auto_cutoff, NULL, 10);
	s.presence = s.online && !s.manual_away && !s.auto_away ? PS_ACTIVE : PS_AWAY;
	op->state_fn(0, &s, op->arg);
	free(op);
}

/* ps_conns_get - the state of user, computed now from Redis (one script,
 * O(log n) of the user's own sessions) */
int
ps_conns_get(const char *user, ps_state_fn fn, void *arg)
{
	struct ps_op *op = ps_conns_op(user, "", "");
	const char *argv[] = { "2", op->key, op->st, op->cutoff };

	op->state_fn = fn;
	op->arg = arg;
	ps_conns_script(ps_lua_get, 4, argv, ps_conns_got, op);
	return 0;
}

/* ps_conns_expire_member - settle one "team|user[|session]" of an index */
static void
ps_conns_expire_member(const struct ps_scan *sc, const char *member, size_t len)
{
	char buf[3 * PS_ID_MAX + 3], *user, *session = NULL;
	struct ps_op *op;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, member, len);
	buf[len] = '\0';
	if ((user = strchr(buf, PS_SEP)) == NULL)
		return;
	*user++ = '\0';
	if (!sc->activity) {
		if ((session = strchr(user, PS_SEP)) == NULL)
			return;
		*session++ = '\0';
	}
	op = ps_conns_op(user, buf, session ? session : "");
	if (!sc->activity) {
		snprintf(op->cutoff, sizeof(op->cutoff), "%s", sc->cutoff);
		ps_conns_run(op, "expire", "");
	} else {
		ps_conns_run(op, "settle", "");
	}
	ps_conns_eval(ps_lua_unindex, sc->key, member, sc->cutoff, NULL, NULL, NULL);
}

static void ps_conns_scan(struct ps_scan *sc);

/* ps_conns_scanned - a batch of stale index entries: settle each */
static void
ps_conns_scanned(int rv, struct redisReply *reply, void *arg)
{
	struct ps_scan *sc = arg;
	size_t i;

	ps_conns.sweeping--;
	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY) {
		if (rv != PL_ECLOSED)
			pl_metrics_inc(ps_conns.redis_errors);
		free(sc);
		return;
	}
	for (i = 0; i < reply->elements; i++)
		if (reply->element[i]->type == REDIS_REPLY_STRING)
			ps_conns_expire_member(sc, reply->element[i]->str,
			    reply->element[i]->len);
	/* a full batch: more may wait, look again (bounded per sweep) */
	if (reply->elements == (size_t)atoi(PS_SWEEP_BATCH) &&
	    ++sc->rounds < PS_SWEEP_ROUNDS) {
		ps_conns_scan(sc);
		return;
	}
	free(sc);
}

/* ps_conns_scan - one look-up of index entries older than the cutoff */
static void
ps_conns_scan(struct ps_scan *sc)
{
	const char *argv[] = { "ZRANGEBYSCORE", sc->key, "-inf", sc->cutoff,
	    "LIMIT", "0", PS_SWEEP_BATCH };
	int rv;

	ps_conns.sweeping++;
	if ((rv = pl_redis_cmd(ps_conns.redis, ps_conns_scanned, sc, 7, argv, NULL)) != 0)
		ps_conns_scanned(rv, NULL, sc);
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
	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_ARRAY ||
	    reply->elements != 2 || reply->element[1]->integer == 0)
		(void)ps_publish_presence(op->user, op->team, PS_AWAY);
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

/* ps_conns_sweep - the timer: expire the silent, here and in Redis, and
 * turn the idle away: one look-up per bucket and index, O(what expired) */
void
ps_conns_sweep(void)
{
	uint64_t now = pl_clock_wall_ms();
	struct ps_scan *sc;
	uint32_t b;
	int activity;

	ps_memview_expire(pl_clock_mono_ms(), (uint64_t)ps_conf.ttl_ms, ps_conns_mem_gone);
	if (ps_conns.sweeping || !pl_redis_connected(ps_conns.redis))
		return;
	for (b = 0; b < (uint32_t)ps_conf.buckets; b++) {
		for (activity = 0; activity <= 1; activity++) {
			sc = pl_calloc(1, sizeof(*sc));
			sc->bucket = b;
			sc->activity = activity;
			snprintf(sc->key, sizeof(sc->key), "{ps:%u}:%s", b,
			    activity ? "act" : "idx");
			snprintf(sc->cutoff, sizeof(sc->cutoff), "%llu", (unsigned long long)
			    (now - (uint64_t)(activity ? ps_conf.auto_away_s * 1000 :
			    ps_conf.ttl_ms)));
			ps_conns_scan(sc);
		}
	}
	/* the one index key of before the buckets, until it is empty (an
	 * upgrade leaves sessions there whose gateway may never beat again) */
	sc = pl_calloc(1, sizeof(*sc));
	snprintf(sc->key, sizeof(sc->key), "{ps}:idx");
	snprintf(sc->cutoff, sizeof(sc->cutoff), "%llu",
	    (unsigned long long)(now - (uint64_t)ps_conf.ttl_ms));
	ps_conns_scan(sc);
}

/* ps_conns_grace_tick - the timer: expire the ghosts whose grace is over
 * (a reconnect removed the ghost already: the step then changes nothing) */
void
ps_conns_grace_tick(uint64_t now_mono_ms)
{
	char key[2 * PS_ID_MAX + 2], *user;
	struct ps_entry *e;

	while ((e = ps_table_oldest(ps_conns.graced)) != NULL &&
	    e->at_ms + (uint64_t)ps_conf.grace_ms <= now_mono_ms) {
		snprintf(key, sizeof(key), "%s", e->key);
		ps_table_del(ps_conns.graced, e);
		pl_metrics_inc(ps_conns.graces_ended);
		if ((user = strchr(key, PS_SEP)) == NULL)
			continue;
		*user++ = '\0';
		ps_conns_run(ps_conns_op(user, key, PS_GHOST), "expire", "");
	}
}

/* ps_conns_fini - the in-memory view goes; Redis is the caller's */
void
ps_conns_fini(void)
{
	ps_table_free(&ps_conns.graced);
	ps_table_free(&ps_conns.active);
	ps_memview_fini();
	ps_conns.redis = NULL;
}
