/* search.h - search-indexer's private header: settings, shared state and
 * the modules (one line each; query.h is the language's own contract).
 *
 * index.c writes this instance's partitions of parley.messages into the
 * index; answer.c answers search.messages; gather.c asks every instance
 * for its part and merges when there are several; pool.c holds the query
 * connections and reply.c sends replies, for both; schema.c owns the
 * tables; svc.c wires them up. */
#ifndef SI_SEARCH_H
#define SI_SEARCH_H
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pl_loop;
struct pl_pg;
struct pl_metric;
struct pl_message_clnt;
struct pl_search_clnt;
struct Parley__Request;
struct si_query;
struct si_query_scope;

#define SI_QUERY_CONNS_MAX 16
#define SI_INSTANCES_MAX 1024
/* Slack's count and page bounds: a page ends at most at 100 * 100 */
#define SI_COUNT_MAX 100
#define SI_PAGE_MAX 100

struct si_conf {
	char *pg_dsn;			/* the index database (this instance's own) */
	int64_t index;			/* this instance's ordinal i of count */
	int64_t count;			/* instances; partition p is indexed by p % count */
	char *rpc_url;			/* empty: ipc under run-dir */
	int64_t rpc_workers;
	char *message_urls;		/* message-svc URL per shard (as the gateway's) */
	int64_t shard_count;
	int64_t rpc_timeout_ms;
	int64_t batch_max;
	int reindex;
	char *permalink_base;
	int64_t count_cap;
	int64_t walk_probe_hours;	/* si_query_scope.probe_hours */
	int64_t query_conns;		/* connections for queries (not the writer's) */
	int64_t query_timeout_ms;	/* statement_timeout of those */
	char *search_urls;		/* every instance's RPC URL, in ordinal order */
	int64_t peer_timeout_ms;	/* an instance's part of a query, at most */
};
extern struct si_conf si_conf;

struct si_metrics {
	struct pl_metric *indexed;	/* messages written (created, changed, deleted) */
	struct pl_metric *lag;		/* message ts -> committed, seconds */
	struct pl_metric *batch_s;
	struct pl_metric *batch_size;
	struct pl_metric *queries;
	struct pl_metric *query_s;
	struct pl_metric *err_index;	/* failed batches (retried) */
	struct pl_metric *err_query;	/* internal_error, service_unavailable */
	struct pl_metric *err_client;	/* queries refused: bad input */
	struct pl_metric *bad_input;	/* undecodable requests or log records */
	struct pl_metric *partials;	/* parts of queries answered for a coordinator */
};
extern struct si_metrics si_m;

struct si_state {
	struct pl_loop *loop;
	struct pl_pg *pg;		/* the index: the writer's connection */
	struct pl_pg *qpg[SI_QUERY_CONNS_MAX];	/* the index: queries */
	int nqpg;
	struct pl_pg *dir;		/* the directory (user names) */
	struct pl_message_clnt *msg;	/* readable channels, at query time */
	struct pl_search_clnt *peers;	/* every instance (count > 1) */
	struct pl_metric *peer_err[SI_INSTANCES_MAX];	/* per instance: failed parts */
	char *brokers;
	int partitions;
};
extern struct si_state si;

/* svc.c - connect the dependencies, readiness, teardown */
int si_svc_init(struct event_base *base, struct pl_loop *loop);
void si_svc_drain(void);
void si_svc_fini(void);

/* schema.c - the index's tables, created or upgraded at start-up (blocking);
 * reindex empties the index and its offsets */
int si_schema_apply(const char *dsn, int reindex);
struct pl_migration;
/* si_schema_migrations - the migration set (lib/migrate.h), *n its length */
const struct pl_migration *si_schema_migrations(size_t *n);

/* index.c - the log -> index writer */
int si_index_start(void);
void si_index_stop(void);
int si_index_ready(void);
int64_t si_index_behind(void);

/* pool.c - the query connections (not the writer's) */
int si_pool_start(struct pl_loop *loop);
/* si_pool_pg - the least busy query connection (connected ones first) */
struct pl_pg *si_pool_pg(void);
void si_pool_stop(void);

/* reply.c - reply to rpc: ok with json, or an error code */
struct pl_rpc_req;
void si_reply_send(struct pl_rpc_req *rpc, const char *error, const char *json);

/* a row of the page */
struct si_row {
	char *channel, *ts, *user, *text;
};

/* answer.c - search.messages over nng (and the internal methods to gather.c) */
struct pl_rpc_req;
void si_answer_handle(struct pl_rpc_req *rpc, const void *data, size_t len, void *arg);

/* gather.c - a query over every instance, merged exactly. done gets an error
 * code (the whole query fails, never a partial result), or the page's rows
 * (heap, the caller's) and the total. text, q and s stay valid until done. */
typedef void (*si_gather_done)(const char *error, struct si_row *rows, int nrows,
    int64_t total, void *arg);
void si_gather_run(const char *text, const struct si_query *q,
    const struct si_query_scope *s, si_gather_done done, void *arg);
/* si_gather_handle - search.partial / search.rows (internal) from a
 * coordinator; takes req */
void si_gather_handle(struct pl_rpc_req *rpc, struct Parley__Request *req);

#endif
