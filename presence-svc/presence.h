/* presence.h - presence-svc's private header: settings and modules.
 *
 * Flow: gateways push reports (report.c) → typing reports are throttled per
 * (user, channel) and published (typing.c); connect / heartbeat / disconnect
 * change the user's connection set in Redis (conns.c), or in the in-memory
 * view while Redis fails (memview.c); a user's first connection publishes
 * presence "active", the last one gone (closed, or expired because its
 * gateway died) publishes "away" (publish.c). Manual away (users.setPresence)
 * is stored in PostgreSQL (store.c) with Redis as its cache; activity (a
 * connect, a sent message, users.setActive, RTM user_active) stamps the
 * user, and PARLEY_AUTO_AWAY_S without any turns them away. The RPC socket
 * (query.c) answers users.getPresence / setPresence / setActive and the
 * batch presence.query. Everything runs on the one loop thread. */
#ifndef PS_PRESENCE_H
#define PS_PRESENCE_H
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pl_kafka_producer;
struct pl_loop;
struct pl_redis;
struct pl_rpc_req;

struct ps_conf {
	char *push_url;
	int64_t ttl_ms;		/* a connection not seen for this long is gone */
	int64_t sweep_ms;	/* how often expired connections are looked for */
	int64_t typing_ms;	/* one user_typing per (user, channel) per this */
	int64_t typing_max;	/* throttle entries kept at most */
	int64_t mem_max;	/* sessions the in-memory view keeps at most */
	char *rpc_url;		/* the REP socket of queries and settings */
	int64_t grace_ms;	/* a clean last disconnect says away after this */
	int64_t auto_away_s;	/* no activity for this long: auto away */
	int64_t buckets;	/* the index is split into this many keys */
};
extern struct ps_conf ps_conf;

/* ids longer than this, or containing PS_SEP, are refused as invalid */
#define PS_ID_MAX 64
#define PS_SEP '|'

/* one report as the gateway sent it; strings borrowed for the call */
struct ps_report {
	const char *what;	/* connect | disconnect | heartbeat | poll | activity | typing */
	const char *user;
	const char *team;
	const char *session;
	const char *gateway;
	const char *channel;
};

/* svc.c - connect the dependencies, the sweep timer, readiness, teardown */
int ps_svc_init(struct event_base *base, struct pl_loop *loop);
void ps_svc_drain(void);
void ps_svc_fini(void);

/* report.c - the gateways' pushed reports: decode, check, count, dispatch */
void ps_report_init(void);
void ps_report_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg);

/* publish.c - Envelopes to parley.presence (key = team), counted on the
 * broker's acknowledgement. 0, or PL_EAGAIN / PL_ETOOBIG (counted). */
#define PS_ACTIVE "active"
#define PS_AWAY "away"
void ps_publish_init(struct pl_kafka_producer *producer);
int ps_publish_typing(const char *user, const char *team, const char *channel);
int ps_publish_presence(const char *user, const char *team, const char *presence);
int ps_publish_manual(const char *user, const char *team, int away);
void ps_publish_fini(void);

/* typing.c - the (user, channel) throttle: an expiring, bounded table */
void ps_typing_init(void);
void ps_typing_report(const struct ps_report *r, uint64_t now_ms);
void ps_typing_expire(uint64_t now_ms);
void ps_typing_fini(void);

/* conns.c - per-user connection sets in Redis: "{u:<user>}:conns" is a
 * sorted set of session ids scored by last-seen wall time (ms), and
 * "{u:<user>}:st" the user's state (team, manual, act, shown); the index
 * buckets "{ps:<b>}:idx" score "team|user|session" and "{ps:<b>}:act"
 * score "team|user" by last activity so that any presence-svc finds
 * expired sessions and idle users without a key scan. */
struct ps_state {
	char team[PS_ID_MAX + 1];	/* "" if never seen (or the cache expired) */
	const char *presence;		/* PS_ACTIVE | PS_AWAY */
	int online;			/* live sessions (or a reconnect grace) */
	int auto_away;			/* online, but idle past auto-away */
	int manual_away;
	int64_t connection_count;	/* live sessions, without the grace */
	int64_t last_activity_ms;	/* wall ms, 0 unknown */
};
/* rv 0 and the state, or a PL_E* (Redis failed) with s NULL */
typedef void (*ps_state_fn)(int rv, const struct ps_state *s, void *arg);
/* done of a setting: rv 0 once Redis holds it and the change is published */
typedef void (*ps_done_fn)(int rv, void *arg);
void ps_conns_init(struct pl_redis *redis);
void ps_conns_touch(const struct ps_report *r);	/* connect: also activity */
void ps_conns_beat(const struct ps_report *r);	/* heartbeat, poll */
void ps_conns_drop(const struct ps_report *r);	/* disconnect */
void ps_conns_activity(const struct ps_report *r);	/* user activity */
void ps_conns_active(const char *user, const char *team, ps_done_fn done, void *arg);
void ps_conns_manual(const char *user, const char *team, int away,
    ps_done_fn done, void *arg);
int ps_conns_get(const char *user, ps_state_fn fn, void *arg);
uint32_t ps_conns_bucket(const char *user);
void ps_conns_sweep(void);			/* timer: expire the silent */
void ps_conns_grace_tick(uint64_t now_mono_ms);	/* timer: graces that ended */
void ps_conns_fini(void);

/* store.c - manual away in PostgreSQL (the directory database, table
 * presence_manual, created by presence-svc itself); Redis is its cache.
 * Without a DSN nothing is durable and loads answer "not away". */
typedef void (*ps_store_fn)(int rv, int away, void *arg);
int ps_store_init(struct pl_loop *loop, const char *dsn);
int ps_store_load(const char *user, ps_store_fn fn, void *arg);	/* 0: fn runs */
int ps_store_save(const char *user, const char *team, int away, ps_store_fn fn,
    void *arg);
int ps_store_ready(void);
void ps_store_tick(void);	/* retry the schema until it is there */
void ps_store_fini(void);

/* query.c - the RPC socket: users.getPresence, users.setPresence,
 * users.setActive and presence.query (batch) */
void ps_query_init(void);
void ps_query_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg);

/* memview.c - the in-memory view of connection sets while Redis fails
 * (Redis is a cache). Times are monotonic ms. */
typedef void (*ps_memview_gone_fn)(const char *user, const char *team);
void ps_memview_init(void);
/* 1 if this is the user's first session here, 0 if not, PL_ETOOBIG if full */
int ps_memview_touch(const char *user, const char *team, const char *session,
    uint64_t now_ms);
/* 1 if the session was here, 0 if not; *left_r: the user's sessions left */
int ps_memview_drop(const char *user, const char *session, int64_t *left_r);
/* forget a session Redis now holds; returns the user's sessions before */
int64_t ps_memview_forget(const char *user, const char *session);
/* drop sessions older than ttl; gone(user, team) for each emptied user */
void ps_memview_expire(uint64_t now_ms, uint64_t ttl_ms, ps_memview_gone_fn gone);
void ps_memview_fini(void);

/* table.c - string keys in the order they were last stamped, bounded.
 * Stamp with one clock and one lifetime per table: the oldest entry is then
 * the next to expire. aux is the owner's heap string, freed with the entry. */
struct ps_entry {
	char *key;
	char *aux;
	uint64_t at_ms;
	int64_t n;
	struct ps_entry *prev, *next;
};
struct ps_table;
struct ps_table *ps_table_create(size_t max);
struct ps_entry *ps_table_get(const struct ps_table *t, const char *key);
int ps_table_put(struct ps_table *t, const char *key, uint64_t at_ms,
    struct ps_entry **r, int *created_r);
void ps_table_del(struct ps_table *t, struct ps_entry *e);
struct ps_entry *ps_table_oldest(const struct ps_table *t);
size_t ps_table_count(const struct ps_table *t);
void ps_table_free(struct ps_table **t);

#endif
