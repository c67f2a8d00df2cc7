/* notify.h - notify-svc's private header: settings and modules.
 *
 * Modules: svc.c (dependencies, readiness, teardown), schema.c (its own
 * PostgreSQL schema), mention.c (who a message mentions), consume.c (the log
 * -> ns_apply_batch writer with offsets), methods.c (the nng RPC methods),
 * cache.c (client.counts in Redis), online.c (presence-svc: who is
 * connected), push.c, digest.c, http.c. */
#ifndef NS_NOTIFY_H
#define NS_NOTIFY_H
#include <stddef.h>
#include <stdint.h>
#include "parley.pb-c.h"

struct event_base;
struct pl_loop;
struct pl_pg;
struct pl_rpc_req;
struct pl_kafka_producer;
struct pl_redis;

struct ns_conf {
	char *pg_dsn;			/* notify-svc's own database */
	char *rpc_url;			/* "" = ipc://<run>/notify.ipc */
	int64_t rpc_workers;
	int64_t ordinal;		/* this replica i of N: partitions p % N == i */
	int64_t replicas;
	int64_t batch_max;		/* events per ns_apply_batch */
	int64_t count_cap;		/* counts stop at this (bounded work) */
	int64_t counts_ttl_ms;		/* client.counts entries in Redis */
	/* push (push.c) */
	char *push_url;			/* "" = push off */
	int64_t push_delay_ms;
	int64_t push_timeout_ms;
	int64_t push_max_inflight;
	int64_t push_scan_ms;
	int64_t push_breaker_threshold;
	int64_t push_breaker_open_ms;
	int64_t push_backoff_base_ms;
	int64_t push_backoff_cap_ms;
	char *presence_rpc_url;		/* "" = ipc://<run>/presence-rpc.ipc */
	int64_t presence_timeout_ms;	/* presence.query; then: offline */
	/* email digests (digest.c) */
	char *smtp_url;			/* "" = digests off */
	char *digest_from;
	int64_t digest_delay_s;
	int64_t digest_interval_s;
	int64_t digest_scan_ms;
};
#define NS_DIGEST_TEXT_MAX 280	/* bytes of a message's text kept for a digest */
extern struct ns_conf ns_conf;

/* the shared handles (svc.c) */
struct ns {
	struct pl_loop *loop;
	struct pl_pg *db;		/* own database */
	struct pl_pg *dir;		/* the directory (read only) */
	struct pl_kafka_producer *prod;
	struct pl_redis *redis;		/* the hot counts cache (cache.c) */
	char *brokers;
};
extern struct ns ns;

/* svc.c */
int ns_svc_init(struct event_base *base, struct pl_loop *loop);
void ns_svc_drain(void);
void ns_svc_fini(void);

/* schema.c - create or upgrade the schema (blocking, at start-up) */
int ns_schema_migrate(const char *dsn);
struct pl_migration;
const struct pl_migration *ns_schema_migrations(size_t *n);

/* mention.c - who a message's text mentions */
#define NS_MENTION_MAX 32	/* distinct users kept per message */
#define NS_ID_MAX 32
struct ns_mentions {
	char users[NS_MENTION_MAX][NS_ID_MAX + 1];
	int n;
	int broadcast;		/* <!channel> | <!everyone> | <!here> */
	int here;		/* <!here> (active members only: never pushes) */
	int channel;		/* <!channel> | <!everyone> */
};
void ns_mention_parse(const char *text, const char *author, struct ns_mentions *m);
/* ns_id_ok - an id or ts safe to store: [A-Za-z0-9._-], 1..NS_ID_MAX bytes */
int ns_id_ok(const char *s);

/* consume.c */
int ns_consume_start(void);
void ns_consume_stop(void);
int ns_consume_ready(void);
int64_t ns_consume_lag(void);

/* http.c - POSTs with libcurl multi on the loop */
typedef void (*ns_http_fn)(int status, int rv, void *arg);
int ns_http_init(struct pl_loop *loop);
int ns_http_post(const char *url, const char *body, const char *const *headers, int nh,
    long timeout_ms, ns_http_fn fn, void *arg);
int ns_http_inflight(void);
void ns_http_fini(void);

/* push.c - the outbox -> ns_push expansion and the sender */
int ns_push_start(void);
void ns_push_stop(void);

/* digest.c - email digests of unread mentions and DMs */
int ns_digest_start(void);
void ns_digest_stop(void);
/* push.c's expander runs for push or digests */
int ns_push_expander_on(void);

/* http.c - mail: payload is a whole RFC 5322 message (CRLF lines) */
int ns_http_mail(const char *url, const char *from, const char *rcpt,
    const char *payload, long timeout_ms, ns_http_fn fn, void *arg);

/* online.c - who of users (all of team) has a live connection, asked of
 * presence-svc: online[i] set to 1/0; done(0, arg) runs once (users
 * presence-svc did not answer for count as offline); PL_EINVAL (n == 0 or no
 * client): done is not called */
typedef void (*ns_online_fn)(int rv, void *arg);
int ns_online_init(struct pl_loop *loop);
void ns_online_fini(void);
int ns_online(const char *team, char (*users)[NS_ID_MAX + 1], int n, int *online,
    ns_online_fn done, void *arg);

/* cache.c - client.counts answers in Redis (PostgreSQL is the truth) */
#define NS_CACHE_TOK_MAX 48
struct ns_cache_tok {
	char epoch[NS_CACHE_TOK_MAX], gen[NS_CACHE_TOK_MAX], ugen[NS_CACHE_TOK_MAX];
	uint64_t fp;			/* the channel list's hash (set by the caller) */
	int ok;				/* generations read: a put may store */
};
typedef void (*ns_cache_fn)(const char *json, void *arg);	/* NULL: miss */
typedef void (*ns_cache_done_fn)(void *arg);
void ns_cache_init(void);
uint64_t ns_cache_fp(const char *a, const char *b);
void ns_cache_counts_get(const char *user, const char *team, struct ns_cache_tok *tok,
    ns_cache_fn fn, void *arg);
void ns_cache_counts_put(const struct ns_cache_tok *tok, const char *user,
    const char *json);
void ns_cache_counts_drop(const char *user, ns_cache_done_fn done, void *arg);
void ns_cache_bump(char (*teams)[NS_ID_MAX + 1], int n, int unknown);

/* methods.c */
void ns_methods_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg);
void ns_methods_init(void);

#endif
