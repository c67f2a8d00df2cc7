/* ms_chan.h - message-svc's channel state: the channel table (chan.c), the
 * ordered append (send.c), idempotency (dedupe.c), the persister
 * (persist.c), the recent cache (cache.c), the unpersisted tail (tail.c),
 * one message's current state (target.c) and a history page's rows
 * (page.c). Knows nothing of calls: the method handlers sit above it. */
#ifndef MS_CHAN_H
#define MS_CHAN_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ids.h"
#include "parley.pb-c.h"
#include "strmap.h"

/* ---- chan.c: one entry per channel this shard has seen */
struct ms_chan {
	char id[PL_ID_MAX + 1];
	/* directory (valid when dir_state == MS_CHAN_READY) */
	int dir_state;
	char team[PL_ID_MAX + 1];
	char kind[8];
	char *name;
	char creator[PL_ID_MAX + 1];
	int64_t created;
	int archived;
	int is_general;			/* the team's #general */
	struct pl_strmap *members;		/* user id -> (void *)1 */
	/* ordering (always valid on the owner shard once seq_state is ready) */
	int seq_state;
	int64_t next_seq;		/* the next seq to assign */
	uint64_t last_ts_us;		/* last assigned or seen ts */
	int64_t log_seq;		/* highest seq seen in the log */
	uint64_t log_ts_us;
	uint32_t epoch;
	int epoch_known;
	struct ms_chan_wait *waiters;
	/* cache.c: acknowledged events queued for the recent cache */
	struct pl_buf cache_q;		/* (int64 seq, uint32 len, Envelope)... */
	uint32_t cache_qn;
	int cache_dirty;		/* on the list that ms_cache_flush writes */
	/* eviction (chan.c): least recently used last */
	int held;			/* async operations holding this pointer (cache.c) */
	int64_t pg_seq;			/* the last seq PostgreSQL had at load */
	uint64_t used_us;
	struct ms_chan *lru_prev, *lru_next;
};
enum { MS_CHAN_NONE = 0, MS_CHAN_LOADING, MS_CHAN_READY };
typedef void (*ms_chan_fn)(int rv, struct ms_chan *ch, void *arg);
void ms_chan_init(void);
void ms_chan_fini(void);
/* ms_chan_get - load (directory + seq) if needed; fn(0, ch) or fn(PL_ENOTFOUND / PL_EUNAVAIL, NULL) */
void ms_chan_get(const char *id, ms_chan_fn fn, void *arg);
struct ms_chan *ms_chan_peek(const char *id);	/* no load, may be NULL */
/* ms_chan_log_seen - the consumer saw seq/ts of channel in the log */
void ms_chan_log_seen(const char *id, int64_t seq, uint64_t ts_us);
int ms_chan_is_member(const struct ms_chan *ch, const char *user);
int ms_chan_visible(const struct ms_chan *ch, const char *team, const char *user);
void ms_chan_member_set(struct ms_chan *ch, const char *user, int on);
/* ms_chan_forget - drop the directory part (reloaded on next use) */
void ms_chan_forget(const char *id);
int ms_chan_kind_prefix(const char *kind);	/* 'C' 'G' 'D' */
/* ms_chan_sweep - evict idle entries (and the least recently used beyond
 * chan_max) that nothing holds: no waiters, no queued cache writes, nothing
 * in the tail (so PostgreSQL knows its seq), untouched since before the
 * oldest call in flight started. At most `budget` entries are looked at. */
void ms_chan_sweep(uint64_t now_us, int budget);
size_t ms_chan_count(void);
/* ms_chan_obj_json - Slack channel object of ch for user */
void ms_chan_obj_json(const struct ms_chan *ch, const char *user, struct pl_buf *b);
void ms_chan_to_proto(const struct ms_chan *ch, Parley__Channel *pc);

/* ---- send.c: append one event to a channel's ordered log */
typedef void (*ms_send_fn)(int rv, Parley__Message *m, void *arg);
/* ms_send_append - assign seq/ts to m (channel, user, text… filled by the
 * caller), produce the Envelope of type t to parley.messages and call fn once
 * the broker acknowledged (rv 0) or failed. m stays the caller's and must
 * live until fn; m->seq, m->ts (heap, freed by the caller) are set. */
int ms_send_append(struct ms_chan *ch, Parley__EventType t, Parley__Message *m,
    const char *idem, ms_send_fn fn, void *arg);
extern int ms_send_inflight;	/* appends waiting for their delivery report */
/* ms_send_event - produce a directory event on parley.events (key = team) */
int ms_send_event(Parley__Envelope *env, ms_send_fn fn, void *arg);
void ms_send_env_init(Parley__Envelope *env, Parley__EventType t, const char *team,
    const char *idem);

/* ---- dedupe.c: idempotency of sends */
void ms_dedupe_init(void);
void ms_dedupe_fini(void);
void ms_dedupe_key(const char *channel, const char *user, const char *cmid,
    const char *idem, struct pl_buf *key_r);
/* an entry: NULL = unknown; pending (waiters) or done (the message) */
struct ms_dedupe_entry {
	int pending;
	Parley__Message *msg;		/* done: the original (heap, packed copy) */
	uint64_t at_s;
	struct ms_dedupe_wait *waiters;
};
struct ms_dedupe_entry *ms_dedupe_get(const char *key);
struct ms_dedupe_entry *ms_dedupe_begin(const char *key);
void ms_dedupe_wait(struct ms_dedupe_entry *e, void (*fn)(int rv, const Parley__Message *m, void *arg), void *arg);
/* ms_dedupe_finish - rv 0: remember m (copied); else forget; runs waiters */
void ms_dedupe_finish(const char *key, int rv, const Parley__Message *m);
size_t ms_dedupe_count(void);
/* ms_dedupe_seen - the log showed m (consumer): remember it */
void ms_dedupe_seen(const Parley__Message *m);

/* ---- persist.c */
int ms_persist_start(void);
void ms_persist_stop(void);
int64_t ms_persist_lag(void);

/* ---- cache.c */
void ms_cache_append(struct ms_chan *ch, const Parley__Message *m, const void *env, size_t len);
/* ms_cache_flush - write the queued appends (after each batch of reports) */
void ms_cache_flush(void *arg);
void ms_cache_fini(void);
void ms_cache_load_epoch(struct ms_chan *ch);
/* ms_cache_range - envelopes of channel with seq > after (up to limit) */
typedef void (*ms_cache_fn)(int rv, Parley__Envelope **envs, int n, void *arg);
void ms_cache_range(const char *channel, int64_t after, int limit, ms_cache_fn fn, void *arg);

/* ---- tail.c: events of a channel not yet committed to PostgreSQL */
struct ms_tail_ev {
	int type;			/* Parley__EventType */
	int pending;			/* appended, not yet acknowledged */
	Parley__Message *m;		/* heap copy */
};
void ms_tail_init(void);
void ms_tail_fini(void);
void ms_tail_add(int type, const Parley__Message *m, int pending);
void ms_tail_settle(const char *channel, int64_t seq, int ok);
void ms_tail_persisted(const char *channel, int64_t seq);
int64_t ms_tail_committed(const char *channel);
const struct ms_tail_ev *ms_tail_events(const char *channel, size_t *n_r);
size_t ms_tail_count(void);

/* ---- target.c: the current state of one message of a channel */
struct ms_target {
	int found;
	int deleted;
	int64_t seq;
	char *ts, *user, *text, *thread_ts, *subtype, *edited_ts, *cmid;	/* heap */
	int reply_count;
	/* reactions: emoji in order of first use, each with its users in
	 * order added (NULL: removed); rx_idx finds an emoji ("name") or one
	 * user's reaction ("name user") in O(1), so n reactions cost O(n) */
	struct ms_rx *rx;
	int nrx_emoji, cap_rx;		/* entries (a fully removed one: name NULL) */
	int nrx;			/* live reactions */
	int nemoji;			/* emoji with at least one live reaction */
	struct pl_strmap *rx_idx;
};
struct ms_rx {
	char *name;
	char **users;
	int n, cap, live;
};
typedef void (*ms_target_fn)(int rv, struct ms_target *t, void *arg);
/* ms_target_get - PostgreSQL's row with the tail applied; fn(0, t) (t->found
 * 0 when there is no such message), or fn(PL_EUNAVAIL, NULL) when PostgreSQL
 * is down and the tail does not know it. t is valid during fn. */
void ms_target_get(const struct ms_chan *ch, const char *ts, ms_target_fn fn, void *arg);
/* ms_target_apply - apply one event to t (pure; used by tests) */
void ms_target_apply(struct ms_target *t, int type, const Parley__Message *m);
int ms_target_has_rx(const struct ms_target *t, const char *name, const char *user);
void ms_target_rx_add(struct ms_target *t, const char *name, const char *user);
void ms_target_rx_del(struct ms_target *t, const char *name, const char *user);
void ms_target_fini(struct ms_target *t);
/* ms_target_rx_json - ,"reactions":[{"name","users","count"}] of t (nothing if none) */
void ms_target_rx_json(const struct ms_target *t, struct pl_buf *b);

/* ---- page.c (pure): the message objects of a history / replies page */
struct ms_page_row {
	Parley__Message m;		/* strings borrowed (PostgreSQL result, tail) */
	int drop;			/* deleted by a tail event */
	struct ms_target rx;		/* reactions (only rx_* used) */
	char **reply_users;		/* heap; a root's repliers, first reply first */
	int nreply_users;
	const char *latest_reply;	/* borrowed; "" when none */
	const char *parent_user;	/* borrowed; a reply's parent_user_id or "" */
};
struct ms_page {
	struct ms_page_row *v;
	int n;				/* bounded by the page's limit */
	size_t cap;
};
struct ms_page_row *ms_page_add(struct ms_page *pg, const Parley__Message *m);
void ms_page_reply_user(struct ms_page_row *r, const char *user);
/* ms_page_apply - an acknowledged tail event (newer than every row's own
 * state) applied to the rows: edits, deletes, new replies, reactions */
void ms_page_apply(struct ms_page *pg, int type, const Parley__Message *m);
void ms_page_row_json(const struct ms_page_row *r, struct pl_buf *b);
void ms_page_fini(struct ms_page *pg);
/* ms_page_fits - an item was appended to b at mark after `kept` items: 1 if
 * b is still within max bytes; else b is cut back to mark and 0 (the item
 * opens the next page). A page's first item always fits, so every page
 * makes progress. Shared by every paged reply (history, lists, members). */
int ms_page_fits(struct pl_buf *b, size_t mark, int kept, size_t max);
/* ms_target_rx_has_emoji - name has a live reaction on t (t->nemoji and
 * t->nrx count the emoji and the reactions) */
int ms_target_rx_has_emoji(const struct ms_target *t, const char *name);

#endif
