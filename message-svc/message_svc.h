/* message_svc.h - message-svc's private header: the shard's state and the
 * functions its modules share. One loop thread owns everything here.
 *
 * Modules stand in layers, lowest first; a file includes the headers of
 * its own layer and of the layers below, never of a layer above, and no
 * two files call each other in a circle. tests/check/circles.py reads the
 * table below (the layer in the first column, its files and headers in
 * the second, what they do further right; this header is of the lowest
 * layer) and fails on an include of a higher layer and on a file the table
 * does not place: a new module gets its line here.
 *
 *   base     state.c       ms_state_*: settings, process state, metrics;
 *                          readiness, directory pick (this header)
 *            call.c        ms_call_*: one request in flight, its reply
 *            resend.c      ms_resend_*: the replies of recent state-changing
 *                          requests, for their nng resends (call.c uses it)
 *            migrations.c  ms_migrations_*: numbered SQL, applied at start-up
 *            tokens.c      ms_tokens_*: user tokens (HS256)
 *   pure     ms_pure.h     pure helpers; lib/ has the map and the arrays
 *            seq.c         ms_seq_*: ts formatting and ordering
 *            render.c      ms_render_*: Slack objects, cursors, parameters,
 *                          type filters
 *   chan     ms_chan.h     channel state; knows nothing of calls
 *            chan.c        ms_chan_*: the channel table (directory cache +
 *                          seq state)
 *            send.c        ms_send_*: append an event to a channel (seq, ts,
 *                          produce)
 *            dedupe.c      ms_dedupe_*: client_msg_id / request idempotency
 *            persist.c     ms_persist_*: the consumer writing PostgreSQL
 *            cache.c       ms_cache_*: the Redis recent cache and channel meta
 *            tail.c        ms_tail_*: events not yet in PostgreSQL (per
 *                          channel)
 *            target.c      ms_target_*: one message's current state
 *                          (PostgreSQL + tail)
 *            page.c        ms_page_*: a history/replies page: rows, tail
 *                          merge, objects (embeds the target's reactions)
 *   methods  ms_methods.h  the method handlers: only methods.c and the
 *                          handler files include it
 *            methods.c     ms_methods_*: the dispatch table
 *            directory.c   ms_dir_*: teams, users, auth, session.boot,
 *                          listings
 *            members.c     ms_members_*: create, join, leave, invite, kick,
 *                          info, members
 *            post.c        ms_post_*: chat.postMessage
 *            replay.c      ms_replay_*: channel.replay
 *            history.c     ms_history_*: conversations.history / replies
 *            edit.c        ms_edit_*: chat.update, chat.delete
 *            react.c       ms_react_*: reactions.add / remove / get
 *            listing.c     ms_list_*: conversations.list, users.*, team.info
 *            open.c        ms_open_*: conversations.open (DMs),
 *                          conversations.archive
 *   main     svc.c         ms_svc_*: init/fini, drain, health checks (fills
 *                          the state)
 *            main.c        config table + pl_daemon_main
 */
#ifndef MS_MESSAGE_SVC_H
#define MS_MESSAGE_SVC_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"
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
	int64_t user_chans_max;		/* conversations one user may be a member of */
	int64_t resend_max;		/* stored replies for resends (resend.c) */
	int64_t resend_max_bytes;
	int64_t resend_ttl_s;
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
	char *resend_key;		/* its reply is kept for resends (resend.c) */
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

/* ms_call_resent - for a state-changing method, before any check: a resend
 * of a request running or answered (same method, caller, idempotency key
 * and bytes data) is parked or answered with the original's reply; returns
 * 1 then (*c is NULL: resend.c owns the call until the reply), else 0 */
int ms_call_resent(struct ms_call **c, const void *data, size_t len);
/* ms_call_once - c (checked, about to run) keeps its reply for resends */
void ms_call_once(struct ms_call *c, const void *data, size_t len);

/* ---- resend.c: the replies of recent state-changing requests */
enum { MS_RESEND_NEW, MS_RESEND_WAIT, MS_RESEND_DONE, MS_RESEND_OTHER };
typedef void (*ms_resend_fn)(const void *reply, size_t len, void *arg);
void ms_resend_init(void);
void ms_resend_fini(void);
/* ms_resend_key - of req and its bytes data; "" when req has no
 * idempotency key */
void ms_resend_key(const Parley__Request *req, const void *data, size_t len,
    struct pl_buf *key_r);
/* ms_resend_find - WAIT: fn runs at the original's finish; DONE: fn has
 * run with the stored reply (fn gets borrowed bytes); NEW: no entry; OTHER:
 * no key, or another request's */
int ms_resend_find(const char *key, const void *req, size_t req_len,
    ms_resend_fn fn, void *arg);
/* ms_resend_begin - after NEW: pending now (1); ms_resend_finish it once.
 * 0: no key, or an entry already (another request's) */
int ms_resend_begin(const char *key, const void *req, size_t req_len);
/* ms_resend_finish - the original's packed reply (copied): waiters get it */
void ms_resend_finish(const char *key, const void *reply, size_t len);
/* ms_resend_expire - drop what is past its time or the bounds at now_ms */
void ms_resend_expire(uint64_t now_ms);
size_t ms_resend_count(void);
size_t ms_resend_bytes(void);

/* ---- methods.c */
void ms_methods_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg);
struct ms_method;
const struct ms_method *ms_methods_check(const struct ms_call *c, const char **why_r);

/* ---- migrations.c */
int ms_migrations_apply(const char *dsn, int directory);
struct pl_migration;
const struct pl_migration *ms_migrations(int directory, size_t *n);

/* ---- tokens.c */
int ms_tokens_issue(const char *user, const char *team, char **token_r);

#endif
