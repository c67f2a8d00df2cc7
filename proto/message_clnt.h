/* message_clnt.h - the client stub of message-svc (like Postfix global/).
 *
 * One nng REQ client per shard, a circuit breaker per shard (timeouts and
 * transport errors open it; while open calls fail fast with PL_EUNAVAIL;
 * half-open probes close it), Request encoding and Reply decoding.
 * Routing: a request with a "channel" param goes to the channel's shard,
 * anything else to the caller's team's shard (pl_message_clnt_route).
 *
 * done runs once on the loop thread: rv 0 with the decoded reply (borrowed:
 * freed after done returns), or rv PL_ETIMEDOUT / PL_EUNAVAIL / PL_ECLOSED /
 * PL_EPROTO with reply NULL. */
#ifndef PL_MESSAGE_CLNT_H
#define PL_MESSAGE_CLNT_H
#include "loop.h"
#include "parley.pb-c.h"

struct pl_message_clnt;

struct pl_message_clnt_conf {
	const char *run_dir;		/* for ipc:// endpoints (names.h) */
	const char *urls;		/* optional: comma-separated URL per shard */
	int shard_count;
	int partitions;			/* of parley.messages */
	int timeout_ms;			/* per call */
	int resend_ms;			/* nng REQ resend */
	int breaker_threshold;		/* consecutive failures that open */
	int breaker_open_ms;
};

typedef void (*pl_message_done)(int rv, Parley__Reply *reply, void *arg);

int pl_message_clnt_start(struct pl_loop *l, const struct pl_message_clnt_conf *conf,
    struct pl_message_clnt **r);
int pl_message_clnt_route(const struct pl_message_clnt *c, const Parley__Request *req);
/* shard -1: route by pl_message_clnt_route. Returns 0 when done will run;
 * a non-zero return (PL_EUNAVAIL: the shard's breaker is open, or c is NULL:
 * no client started yet, as in the fuzz targets; PL_EINVAL,
 * or pl_rpc_call's error) means done will NOT be called. */
int pl_message_clnt_call(struct pl_message_clnt *c, int shard,
    const Parley__Request *req, pl_message_done done, void *arg);
/* breaker state of a shard, for metrics and tests */
int pl_message_clnt_breaker_state(const struct pl_message_clnt *c, int shard);
int pl_message_clnt_shards(const struct pl_message_clnt *c);
void pl_message_clnt_stop(struct pl_message_clnt **c);

/* helpers to build requests: params are copied into req (freed by
 * pl_request_fini) */
void pl_request_init(Parley__Request *req, const char *method);
void pl_request_param(Parley__Request *req, const char *key, const char *value);
const char *pl_request_get(const Parley__Request *req, const char *key);
void pl_request_fini(Parley__Request *req);

#endif
