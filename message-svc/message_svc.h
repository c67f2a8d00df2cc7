/* message_svc.h - message-svc's private header: the shard's state and the
 * functions its modules share. One loop thread owns everything here.
 *
 * Modules (file = prefix):
 *   main.c        config table + pl_daemon_main
 *   state.c       ms_state_*: settings, process state, metrics; readiness, directory pick
 *   svc.c         ms_svc_*: init/fini, drain, health checks (fills the state)
 *   migrations.c  ms_migrations_*: numbered SQL, applied at start-up
 *   call.c        ms_call_*: one request in flight, its reply
 *   methods.c     ms_methods_*: the dispatch table
 *   seq.c         ms_seq_*: ts formatting and ordering (pure)
 *   chan.c        ms_chan_*: the channel table (directory cache + seq state)
 *   directory.c   ms_dir_*: teams, users, auth, session.boot, listings
 *   members.c     ms_members_*: create, join, leave, invite, kick, info, members
 *   tokens.c      ms_tokens_*: user tokens (HS256)
 *   send.c        ms_send_*: append an event to a channel (seq, ts, produce)
 *   post.c        ms_post_*: chat.postMessage
 *   dedupe.c      ms_dedupe_*: client_msg_id / request idempotency
 *   persist.c     ms_persist_*: the consumer writing PostgreSQL
 *   cache.c       ms_cache_*: the Redis recent cache and channel meta
 *   replay.c      ms_replay_*: channel.replay
 *   history.c     ms_history_*: conversations.history / replies
 *   tail.c        ms_tail_*: events not yet in PostgreSQL (per channel)
 *   target.c      ms_target_*: one message's current state (PostgreSQL + tail)
 *   edit.c        ms_edit_*: chat.update, chat.delete
 *   react.c       ms_react_*: reactions.add / remove / get
 *   render.c      ms_render_*: Slack objects, cursors, type filters (pure)
 *   page.c        ms_page_*: a history/replies page: rows, tail merge, objects (pure)
 *   listing.c     ms_list_*: conversations.list, users.*, team.info
 *   open.c        ms_open_*: conversations.open (DMs), conversations.archive
 */
#ifndef MS_MESSAGE_SVC_H
#define MS_MESSAGE_SVC_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "ids.h"
#include "strmap.h"
#include "parley.pb-c.h"

struct event_base;
struct pl_loop;
struct pl_rpc_req;
struct pg_result;

#define MS_DIR_CONNS_MAX 16

/* settings (main.c's table) */
struct ms_conf {
	int64_t shard_index;
	int64_t shard_count;
	char *pg_dsn;
	char *pg_dir_dsn;
	int64_t dir_conns;		/* directory connections (pool) */
	char *redis_addr;
	char *kafka_brokers;
	char *kafka_brokers_file;
	int64_t fetch_wait_ms;		/* the persistence consumer's */
	int64_t fetch_min_bytes;
	int64_t linger_ms;
	char *run_dir;
	char *rpc_url;
	int64_t rpc_workers;
	char *token_secret;
	char *token_secret_file;	/* PL_CONF_FILE path */
	int64_t token_ttl_s;
	int64_t batch_max;
	int64_t recent_max;
	char *kafka_extra;
	int64_t dedupe_max;
	int64_t drain_wait_ms;
	int64_t page_max_bytes;		/* a page's JSON (history, lists, members) */
	int64_t chan_max;		/* channel table entries before LRU eviction */
	int64_t chan_idle_s;		/* an unused entry is evicted after this */
	int64_t rx_emoji_max;		/* distinct emoji per message */
	int64_t rx_max;			/* reactions per message (all users) */
};
extern struct ms_conf ms_conf;

/* the shard's runtime state (state.c; filled by svc.c) */
struct ms_state {
	struct event_base *base;
	struct pl_loop *loop;
	struct pl_rpc_server *rpc;
	struct pl_kafka_producer *prod;
	struct pl_kafka_consumer *cons;
	struct pl_pg *pg;		/* this shard's database */
	struct pl_pg *dir[MS_DIR_CONNS_MAX];	/* the directory database: a pool */
	int ndir;
	struct pl_redis *redis;
	char *brokers;
	int partitions;			/* of parley.messages */
	int caught_up;			/* consumer reached the end of its partitions */
	int warm;			/* the producer's first record was answered */
	int draining;			/* SIGTERM: no new sends */
};
extern struct ms_state ms;

int ms_svc_init(struct event_base *base, struct pl_loop *loop);
void ms_svc_drain(void);
void ms_svc_fini(void);
/* ms_state_ready - 1 when sends may be served (caught up, producer up) */
int ms_state_ready(void);
/* ms_state_dir - the directory connection with the fewest queries queued.
 * Every directory query is autocommit and its caller waits for the answer
 * before the next step, so any connection of the pool may run it. */
struct pl_pg *ms_state_dir(void);

/* metrics (state.c; registered by svc.c) */
struct ms_metrics {
	struct pl_metric *sends, *send_errors, *produce_latency, *events_persisted;
	struct pl_metric *batch_size, *pg_latency, *cache_hits, *cache_misses, *cache_batch;
	struct pl_metric *bad_input, *requests, *pg_errors, *dedupe_hits;
	struct pl_metric *err_internal, *err_client, *err_not_ready;
	struct pl_metric *quarantined, *persist_splits;
	struct pl_metric *too_large;
};
extern struct ms_metrics ms_m;
void ms_svc_metrics(void);	/* register them (ms_svc_start does) */

/* ---- seq.c (pure) */
#define MS_TS_MAX 32
/* ms_seq_next_ts_us - a ts strictly after last_us, as close to now_us as that allows */
uint64_t ms_seq_next_ts_us(uint64_t last_us, uint64_t now_us);
void ms_seq_ts_format(uint64_t ts_us, char out[MS_TS_MAX]);
/* ms_seq_ts_parse - "<s>.<6 digits>" (fewer digits allowed) to us; PL_EINVAL */
int ms_seq_ts_parse(const char *s, uint64_t *us_r);


/* ---- call.c: one request in flight; every path ends in exactly one reply */
struct ms_call {
	struct pl_rpc_req *rpc;
	Parley__Request *req;
	const char *user;		/* caller (borrowed from req) */
	const char *team;
	int admin;
	int user_admin;			/* the caller is a team admin (user_admin_known) */
	int user_admin_known;		/* looked up (ms_members_may_manage) */
	int (*admin_again)(struct ms_call *c);	/* runs once it is known */
	uint64_t start_us;
	void *state;			/* the handler's, freed with state_free */
	void (*state_free)(void *);
	struct ms_call *prev, *next;	/* calls in flight, oldest first */
};
/* ms_call_oldest_us - start of the oldest call in flight, or UINT64_MAX:
 * a channel entry last used before it is held by no call (chan.c) */
uint64_t ms_call_oldest_us(void);
struct ms_call *ms_call_create(struct pl_rpc_req *rpc, Parley__Request *req);
/* ms_param - a request parameter, "" when missing */
const char *ms_param(const struct ms_call *c, const char *key);
/* ms_call_reply - send r (ok/error already set) and free the call */
void ms_call_reply(struct ms_call **c, Parley__Reply *r);
void ms_call_error(struct ms_call **c, const char *code);
/* ms_call_json - ok with json = the Slack members other than "ok" */
void ms_call_json(struct ms_call **c, const char *json);
/* ms_call_rv_error - reply with the Slack code for a PL_E* */
void ms_call_rv_error(struct ms_call **c, int rv);

/* ---- methods.c */
void ms_methods_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg);
struct ms_method;
const struct ms_method *ms_methods_check(const struct ms_call *c, const char **why_r);

/* ---- migrations.c */
int ms_migrations_apply(const char *dsn, int directory);
struct pl_migration;
const struct pl_migration *ms_migrations(int directory, size_t *n);

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

/* ---- post.c: message methods */
int ms_post_message(struct ms_call *c);
void ms_post_message_json(const Parley__Message *m, struct pl_buf *b);

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

/* ---- tokens.c */
int ms_tokens_issue(const char *user, const char *team, char **token_r);

/* ---- directory.c */
int ms_dir_team_create(struct ms_call *c);
int ms_dir_user_create(struct ms_call *c);
int ms_dir_auth_test(struct ms_call *c);
int ms_dir_boot(struct ms_call *c);
int ms_dir_user_remove(struct ms_call *c);
int ms_dir_check(struct ms_call *c);

/* ---- members.c */
int ms_members_create(struct ms_call *c);
int ms_members_join(struct ms_call *c);
int ms_members_invite(struct ms_call *c);
int ms_members_leave(struct ms_call *c);
int ms_members_kick(struct ms_call *c);
int ms_members_info(struct ms_call *c);
int ms_members_members(struct ms_call *c);
/* ms_members_join_as - join user to channel (owned by this shard) for the
 * call, announced like conversations.join, then answer json (copied) */
void ms_members_join_as(struct ms_call *c, const char *channel, const char *user,
    const char *json);
/* ms_members_may_manage - the caller may kick from / archive ch: its
 * creator, or a team admin. PL_EAGAIN: not known yet, the caller's admin
 * flag is being looked up and again(c) will run the method once more */
int ms_members_may_manage(struct ms_call *c, const struct ms_chan *ch,
    int (*again)(struct ms_call *c));

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

/* ---- replay.c / history.c */
int ms_replay(struct ms_call *c);
int ms_history(struct ms_call *c);
int ms_history_replies(struct ms_call *c);
/* cursor: "seq:<n>" base64url-free, opaque to clients */
void ms_history_cursor(int64_t seq, char out[32]);
int ms_history_cursor_parse(const char *s, int64_t *seq_r);


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

/* ---- edit.c / react.c */
int ms_edit_update(struct ms_call *c);
int ms_edit_delete(struct ms_call *c);
int ms_react_add(struct ms_call *c);
int ms_react_remove(struct ms_call *c);
int ms_react_get(struct ms_call *c);

/* ---- render.c (pure) */
struct ms_chan_view {
	const char *id, *name, *kind, *team, *creator, *user;	/* user: the DM's other */
	int64_t created;
	int archived, is_member;
	int64_t num_members;
	int64_t last_seq;		/* < 0: leave out */
	uint32_t epoch;
	int is_general;			/* the team's #general */
};
void ms_render_chan(const struct ms_chan_view *v, struct pl_buf *b);
struct ms_user_view {
	const char *id, *team, *name, *real_name;
	int deleted, is_admin;
	int64_t updated;
	const char *email;		/* "" or NULL: none */
};
void ms_render_user(const struct ms_user_view *v, struct pl_buf *b);
/* ms_render_cursor - base64url("<tag>:<value>"); _parse: PL_EINVAL if foreign */
char *ms_render_cursor(const char *tag, const char *value);
int ms_render_cursor_parse(const char *cursor, const char *tag, char *out, size_t n);
/* ms_render_kinds - Slack's types= list to a text[] literal of kinds
 * (default public_channel); PL_EINVAL on an unknown type */
int ms_render_kinds(const char *types, struct pl_buf *arr_r);
/* ms_render_limit - limit= within [1, max], default def; PL_EINVAL if junk */
int ms_render_limit(const char *s, int def, int max, int *r);
/* ms_render_user_set - caller + "U1,U2" sorted, unique, into v (heap strings);
 * returns the count, or PL_EINVAL for a bad id */
int ms_render_user_set(const char *caller, const char *users, char ***v_r);
/* ms_render_reaction_ok - Slack's emoji names: [a-z0-9_+'-], 1..100, colons stripped */
int ms_render_reaction_name(const char *in, char *out, size_t n);

/* ---- listing.c / open.c */
int ms_list_conversations(struct ms_call *c);
int ms_list_user_conversations(struct ms_call *c);
int ms_list_users(struct ms_call *c);
int ms_list_user_info(struct ms_call *c);
int ms_list_team_info(struct ms_call *c);
int ms_list_search_scope(struct ms_call *c);
int ms_open_conversation(struct ms_call *c);
int ms_open_archive(struct ms_call *c);

#endif
