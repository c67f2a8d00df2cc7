/* presence.h - presence-svc's private header: settings and modules.
 *
 * Flow: gateways push reports (report.c) → typing reports are throttled per
 * (user, channel) and published (typing.c); connect / heartbeat / disconnect
 * change the user's connection set in Redis (conns.c), or in the in-memory
 * view while Redis fails (memview.c); a user's first connection publishes
 * presence "active", the last one gone (closed, or expired because its
 * gateway died) publishes "away" (publish.c). Everything runs on the one
 * loop thread. */
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
};
extern struct ps_conf ps_conf;

/* ids longer than this, or containing PS_SEP, are refused as invalid */
#define PS_ID_MAX 64
#define PS_SEP '|'

/* one report as the gateway sent it; strings borrowed for the call */
struct ps_report {
	const char *what;	/* connect | disconnect | heartbeat | typing */
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
void ps_publish_fini(void);

/* typing.c - the (user, channel) throttle: an expiring, bounded table */
void ps_typing_init(void);
void ps_typing_report(const struct ps_report *r, uint64_t now_ms);
void ps_typing_expire(uint64_t now_ms);
void ps_typing_fini(void);

/* conns.c - per-user connection sets in Redis: "{u:<user>}:conns" is a
 * sorted set of session ids scored by last-seen wall time (ms), and
 * "{ps}:idx" scores "team|user|session" the same way so that any
 * presence-svc finds expired sessions without a key scan. */
void ps_conns_init(struct pl_redis *redis);
void ps_conns_touch(const struct ps_report *r);	/* connect, heartbeat */
void ps_conns_drop(const struct ps_report *r);	/* disconnect */
void ps_conns_sweep(void);			/* timer: expire the silent */
void ps_conns_fini(void);

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
	uint32_t hash;
	struct ps_entry *chain, *prev, *next;
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
