/* chan.c - the channel table of this shard: for every channel it owns, the
 * directory facts (kind, team, archived, members) and the ordering state
 * (next seq, last ts, epoch).
 *
 * Every change to a channel's membership or state goes through the shard that
 * owns the channel (requests with a "channel" param are routed there), so the
 * cached directory part is authoritative once loaded; "not found" is never
 * cached (a channel created through another shard appears on next use).
 *
 * Seq recovery: next seq = max(seq in PostgreSQL, seq seen in the log) + 1.
 * The consumer reports every event of our partitions (ms_chan_log_seen) from
 * the committed offset on, so together with PostgreSQL nothing is missed.
 *
 * Bounded. Any client may name any channel id, so an entry whose channel
 * does not exist is dropped as soon as the directory says so, and the
 * others are evicted when unused for chan_idle_s, or least recently used
 * first when the table holds more than chan_max. Only an entry that nothing
 * needs is evicted (chan_evictable): no load in progress, no queued cache
 * write or Redis answer pending (held), no event in the tail and every seq
 * it handed out committed (so PostgreSQL alone gives its next seq again on
 * reload; a channel whose last send failed stays), the consumer caught up (every
 * earlier event of the log is in the tail or in PostgreSQL), and not used
 * since the oldest call in flight started: calls keep the pointer that
 * ms_chan_get gave them until they reply, and a call only gets it after it
 * started. Everything evicted is reloaded from the directory on next use. */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "ms_pure.h"
#include "pg.h"
#include "shard.h"

struct ms_chan_wait {
	struct ms_chan_wait *next;
	ms_chan_fn fn;
	void *arg;
};

static struct pl_strmap *ms_chans;
static struct ms_chan *chan_lru_head, *chan_lru_tail;	/* most recent first */
static struct {
	struct pl_metric *not_found, *idle, *full;
} chan_m;

/* chan_count_fn - the table's size, for /metrics */
static double
chan_count_fn(void *arg)
{
	(void)arg;
	return (double)ms_chan_count();
}

void
ms_chan_init(void)
{
	ms_chans = pl_strmap_create();
	chan_lru_head = chan_lru_tail = NULL;
	pl_metrics_gauge_fn("parley_ms_channels", "channel table entries of this shard",
	    NULL, chan_count_fn, NULL);
	chan_m.not_found = pl_metrics_counter("parley_ms_channel_evictions_total",
	    "channel table entries dropped, by reason", "reason=\"not_found\"");
	chan_m.idle = pl_metrics_counter("parley_ms_channel_evictions_total",
	    "channel table entries dropped, by reason", "reason=\"idle\"");
	chan_m.full = pl_metrics_counter("parley_ms_channel_evictions_total",
	    "channel table entries dropped, by reason", "reason=\"full\"");
}

/* ms_chan_count - entries in the table */
size_t
ms_chan_count(void)
{
	return ms_chans ? pl_strmap_count(ms_chans) : 0;
}

/* chan_lru_unlink - take ch off the recency list */
static void
chan_lru_unlink(struct ms_chan *ch)
{
	if (ch->lru_prev != NULL)
		ch->lru_prev->lru_next = ch->lru_next;
	else if (chan_lru_head == ch)
		chan_lru_head = ch->lru_next;
	if (ch->lru_next != NULL)
		ch->lru_next->lru_prev = ch->lru_prev;
	else if (chan_lru_tail == ch)
		chan_lru_tail = ch->lru_prev;
	ch->lru_prev = ch->lru_next = NULL;
}

/* chan_touch - ch was used now: to the front */
static void
chan_touch(struct ms_chan *ch)
{
	ch->used_us = pl_clock_mono_us();
	if (chan_lru_head == ch)
		return;
	chan_lru_unlink(ch);
	ch->lru_next = chan_lru_head;
	if (chan_lru_head != NULL)
		chan_lru_head->lru_prev = ch;
	chan_lru_head = ch;
	if (chan_lru_tail == NULL)
		chan_lru_tail = ch;
}

/* ms_chan_free - one entry (waiters are gone by then: fini at exit) */
static void
ms_chan_free(void *p)
{
	struct ms_chan *ch = p;
	struct ms_chan_wait *w;

	while ((w = ch->waiters) != NULL) {
		ch->waiters = w->next;
		free(w);
	}
	pl_strmap_free(&ch->members, NULL);
	pl_buf_fini(&ch->cache_q);
	free(ch->name);
	free(ch);
}

void
ms_chan_fini(void)
{
	ms_cache_fini();
	pl_strmap_free(&ms_chans, ms_chan_free);
	chan_lru_head = chan_lru_tail = NULL;
}

/* chan_evictable - nothing needs ch (see the file comment); oldest_us is
 * the start of the oldest call in flight */
static int
chan_evictable(const struct ms_chan *ch, uint64_t oldest_us)
{
	size_t n = 0;

	if (ch->waiters != NULL || ch->dir_state == MS_CHAN_LOADING || ch->held > 0 ||
	    ch->cache_qn > 0 || ch->cache_dirty || ch->used_us >= oldest_us)
		return 0;
	if (ch->seq_state == MS_CHAN_READY || ch->log_seq > 0) {
		/* every seq handed out or seen must be in PostgreSQL: a failed
		 * send's seq may still be in the log (a timed-out produce), and
		 * a reload must not hand it out again */
		if (!ms.caught_up || (ch->next_seq - 1 > ch->pg_seq &&
		    ch->next_seq - 1 > ms_tail_committed(ch->id)))
			return 0;
		ms_tail_events(ch->id, &n);
	}
	return n == 0;
}

/* chan_evict - drop ch from the table and free it */
static void
chan_evict(struct ms_chan *ch, struct pl_metric *why)
{
	pl_metrics_inc(why);
	chan_lru_unlink(ch);
	pl_strmap_del(ms_chans, ch->id);
	ms_chan_free(ch);
}

/* ms_chan_sweep - evict from the least recently used end: idle entries,
 * and any evictable one while the table is over chan_max */
void
ms_chan_sweep(uint64_t now_us, int budget)
{
	uint64_t oldest = ms_call_oldest_us();
	uint64_t idle_us = (uint64_t)ms_conf.chan_idle_s * 1000000u;
	struct ms_chan *ch, *prev;
	int full;

	for (ch = chan_lru_tail; ch != NULL && budget-- > 0; ch = prev) {
		prev = ch->lru_prev;
		full = ms_chan_count() > (size_t)ms_conf.chan_max;
		if (!full && now_us - ch->used_us < idle_us)
			break;		/* the rest were used more recently */
		if (chan_evictable(ch, oldest))
			chan_evict(ch, full ? chan_m.full : chan_m.idle);
	}
}

/* ms_chan_entry - the entry of id, created empty if needed */
static struct ms_chan *
ms_chan_entry(const char *id)
{
	struct ms_chan *ch = pl_strmap_get(ms_chans, id);

	if (ch != NULL) {
		chan_touch(ch);
		return ch;
	}
	if (ms_chan_count() >= (size_t)ms_conf.chan_max)
		ms_chan_sweep(pl_clock_mono_us(), 64);
	ch = pl_calloc(1, sizeof(*ch));
	snprintf(ch->id, sizeof(ch->id), "%s", id);
	ch->members = pl_strmap_create();
	ch->next_seq = 1;
	pl_strmap_put(ms_chans, id, ch);
	chan_touch(ch);
	return ch;
}

struct ms_chan *
ms_chan_peek(const char *id)
{
	return ms_chans ? pl_strmap_get(ms_chans, id) : NULL;
}

/* ms_chan_log_seen - the log holds seq/ts of id: never assign them again */
void
ms_chan_log_seen(const char *id, int64_t seq, uint64_t ts_us)
{
	struct ms_chan *ch = ms_chan_entry(id);

	if (seq > ch->log_seq)
		ch->log_seq = seq;
	if (ts_us > ch->log_ts_us)
		ch->log_ts_us = ts_us;
	if (seq >= ch->next_seq)
		ch->next_seq = seq + 1;
	if (ts_us > ch->last_ts_us)
		ch->last_ts_us = ts_us;
}

/* ms_chan_done - run and drop every waiter */
static void
ms_chan_done(struct ms_chan *ch, int rv)
{
	struct ms_chan_wait *w = ch->waiters;

	ch->waiters = NULL;
	while (w != NULL) {
		struct ms_chan_wait *next = w->next;

		w->fn(rv, rv == 0 ? ch : NULL, w->arg);
		free(w);
		w = next;
	}
}

/* ms_chan_seq_loaded - max(seq), max(ts_us) of the channel in PostgreSQL */
static void
ms_chan_seq_loaded(int rv, struct pg_result *res, void *arg)
{
	struct ms_chan *ch = arg;
	int64_t seq;
	uint64_t ts;

	if (rv != 0) {
		ch->dir_state = MS_CHAN_NONE;
		ms_chan_done(ch, PL_EUNAVAIL);
		return;
	}
	seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	ts = strtoull(PQgetvalue(res, 0, 1), NULL, 10);
	ch->pg_seq = seq;
	ms_chan_log_seen(ch->id, seq, ts);
	ch->seq_state = MS_CHAN_READY;
	ch->dir_state = MS_CHAN_READY;
	ms_cache_load_epoch(ch);
	ms_chan_done(ch, 0);
}

/* ms_chan_members_fill - members from "U1,U2" */
static void
ms_chan_members_fill(struct ms_chan *ch, const char *list)
{
	char *copy = pl_strdup(list), *save = NULL, *u;

	for (u = strtok_r(copy, ",", &save); u; u = strtok_r(NULL, ",", &save))
		pl_strmap_put(ch->members, u, (void *)1);
	free(copy);
}

/* ms_chan_dir_loaded - the directory row; then the seq state if needed */
static void
ms_chan_dir_loaded(int rv, struct pg_result *res, void *arg)
{
	struct ms_chan *ch = arg;
	const char *p[1] = { ch->id };

	if (rv != 0 || PQntuples(res) == 0) {
		ch->dir_state = MS_CHAN_NONE;
		ms_chan_done(ch, rv != 0 ? PL_EUNAVAIL : PL_ENOTFOUND);
		/* no such channel: nobody got the pointer (waiters got NULL) */
		if (rv == 0 && ch->dir_state == MS_CHAN_NONE && ch->seq_state != MS_CHAN_READY &&
		    ch->log_seq == 0 && ch->waiters == NULL && ch->held == 0 &&
		    ch->cache_qn == 0 && !ch->cache_dirty)
			chan_evict(ch, chan_m.not_found);
		return;
	}
	snprintf(ch->team, sizeof(ch->team), "%s", PQgetvalue(res, 0, 0));
	snprintf(ch->kind, sizeof(ch->kind), "%s", PQgetvalue(res, 0, 1));
	free(ch->name);
	ch->name = pl_strdup(PQgetvalue(res, 0, 2));
	snprintf(ch->creator, sizeof(ch->creator), "%s", PQgetvalue(res, 0, 3));
	ch->created = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	ch->archived = PQgetvalue(res, 0, 5)[0] == 't';
	pl_strmap_free(&ch->members, NULL);
	ch->members = pl_strmap_create();
	ms_chan_members_fill(ch, PQgetvalue(res, 0, 6));
	ch->is_general = PQgetvalue(res, 0, 7)[0] == 't';
	if (ch->seq_state == MS_CHAN_READY) {
		ch->dir_state = MS_CHAN_READY;
		ms_chan_done(ch, 0);
		return;
	}
	/* the last event of the log: the later of the last message and the
	 * last other event (ts grows with seq in a channel) */
	rv = pl_pg_query(ms.pg, "SELECT coalesce(max(s), 0), coalesce(max(t), 0) FROM ("
	    "(SELECT seq, ts_us FROM channel_events WHERE channel_id = $1"
	    " ORDER BY seq DESC LIMIT 1) UNION ALL"
	    " (SELECT seq, ts_us FROM messages WHERE channel_id = $1"
	    " ORDER BY seq DESC LIMIT 1)) AS last(s, t)", 1, p, ms_chan_seq_loaded, ch);
	if (rv != 0) {
		ch->dir_state = MS_CHAN_NONE;
		ms_chan_done(ch, rv);
	}
}

/* ms_chan_get - the channel, loaded if needed (fn may run before return) */
void
ms_chan_get(const char *id, ms_chan_fn fn, void *arg)
{
	struct ms_chan_wait *w;
	struct ms_chan *ch;
	const char *p[1] = { id };
	int rv;

	if (!pl_id_valid(id, "CGD")) {
		fn(PL_ENOTFOUND, NULL, arg);
		return;
	}
	if (pl_shard_of_channel(id, ms.partitions, (int)ms_conf.shard_count) !=
	    (int)ms_conf.shard_index) {
		pl_log_warn("MS-CHAN-MISROUTED", "channel=%s", id);
		fn(PL_EPROTO, NULL, arg);
		return;
	}
	ch = ms_chan_entry(id);
	if (ch->dir_state == MS_CHAN_READY) {
		fn(0, ch, arg);
		return;
	}
	w = pl_calloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->next = ch->waiters;
	ch->waiters = w;
	if (ch->dir_state == MS_CHAN_LOADING)
		return;
	ch->dir_state = MS_CHAN_LOADING;
	rv = pl_pg_query(ms_state_dir(), "SELECT team_id, kind, name, creator, created, archived,"
	    " coalesce((SELECT string_agg(user_id, ',') FROM channel_members"
	    " WHERE channel_id = c.id), ''), is_general FROM channels c WHERE id = $1", 1, p,
	    ms_chan_dir_loaded, ch);
	if (rv != 0) {
		ch->dir_state = MS_CHAN_NONE;
		ms_chan_done(ch, rv);
	}
}

int
ms_chan_is_member(const struct ms_chan *ch, const char *user)
{
	return pl_strmap_get(ch->members, user) != NULL;
}

/* ms_chan_visible - user of team may see ch: the same team, and public or
 * a member (a private channel or a DM is not found by anyone else) */
int
ms_chan_visible(const struct ms_chan *ch, const char *team, const char *user)
{
	if (strcmp(ch->team, team) != 0)
		return 0;
	return strcmp(ch->kind, "public") == 0 || ms_chan_is_member(ch, user);
}

void
ms_chan_member_set(struct ms_chan *ch, const char *user, int on)
{
	if (on)
		pl_strmap_put(ch->members, user, (void *)1);
	else
		pl_strmap_del(ch->members, user);
}

/* ms_chan_forget - reload the directory part on next use */
void
ms_chan_forget(const char *id)
{
	struct ms_chan *ch = ms_chan_peek(id);

	if (ch != NULL && ch->dir_state == MS_CHAN_READY)
		ch->dir_state = MS_CHAN_NONE;
}

/* ms_chan_kind_prefix - the id letter of a kind */
int
ms_chan_kind_prefix(const char *kind)
{
	if (strcmp(kind, "public") == 0)
		return 'C';
	if (strcmp(kind, "dm") == 0)
		return 'D';
	return 'G';
}

/* chan_other - the first member other than user (a DM's "user") */
static void
chan_other(const char *key, void *val, void *arg)
{
	const char **r = arg;

	if (strcmp(key, r[0]) != 0 && r[1] == r[0])
		r[1] = key;
}

/* ms_chan_obj_json - Slack's conversation object; a DM's "user" is the
 * member other than the caller (the caller for a self-DM) */
void
ms_chan_obj_json(const struct ms_chan *ch, const char *user, struct pl_buf *b)
{
	struct ms_chan_view v;

	memset(&v, 0, sizeof(v));
	v.id = ch->id;
	v.name = ch->name;
	v.kind = ch->kind;
	v.team = ch->team;
	v.creator = ch->creator;
	v.created = ch->created;
	v.archived = ch->archived;
	v.is_general = ch->is_general;
	v.is_member = user && ms_chan_is_member(ch, user);
	v.num_members = (int64_t)pl_strmap_count(ch->members);
	v.last_seq = ch->next_seq - 1;
	v.epoch = ch->epoch;
	if (user != NULL && strcmp(ch->kind, "dm") == 0 && ch->members != NULL) {
		const char *r[2] = { user, user };

		pl_strmap_each(ch->members, chan_other, (void *)r);
		v.user = r[1];
	}
	ms_render_chan(&v, b);
}

/* ms_chan_to_proto - fill pc (strings borrowed from ch) */
void
ms_chan_to_proto(const struct ms_chan *ch, Parley__Channel *pc)
{
	parley__channel__init(pc);
	pc->id = (char *)ch->id;
	pc->team = (char *)ch->team;
	pc->kind = (char *)ch->kind;
	pc->name = ch->name ? ch->name : (char *)"";
	pc->last_seq = ch->next_seq - 1;
	pc->archived = ch->archived;
	pc->creator = (char *)ch->creator;
	pc->created = ch->created;
	pc->epoch = ch->epoch;
}
