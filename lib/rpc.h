/* rpc.h - request/reply between daemons over nng (req0/rep0), on the loop.
 *
 * Server: `workers` nng contexts receive concurrently; each request (each
 * item of a batch frame) is handed to the loop thread as
 * handler(req, data, len, arg). The handler (now or
 * later, from any loop callback) must call pl_rpc_reply exactly once; the
 * request object is freed by that call. Because REQ resends after its resend
 * time, every handler must be idempotent.
 *
 * Client: pl_rpc_call sends one request on a fresh context and calls done on
 * the loop thread with the reply (rv 0), PL_ETIMEDOUT or PL_ECLOSED. The
 * reply bytes are valid only during the callback. Calls are sent when the
 * loop comes back (one flush per loop turn). pl_rpc_call_batch calls of the
 * same turn share one nng request (a batch frame, rpc_batch.h; the server
 * hands each item to its handler and sends the replies back together), which
 * saves nng's per-message thread hand-offs under load; the price is that
 * they complete together, with the slowest of them, so use it only for
 * requests that take about the same time. */
#ifndef PL_RPC_H
#define PL_RPC_H
#include <stddef.h>
#include "loop.h"

/* PL_RPC_MSG_MAX - the largest nng message either side takes (a request, a
 * reply, or a batch frame of replies). PL_RPC_REPLY_MAX - the largest reply
 * a handler may give. The layer never sends what the peer would drop: a
 * reply over PL_RPC_REPLY_MAX, or an item that would push a batch frame of
 * replies past PL_RPC_MSG_MAX, travels as a "too big" marker and the
 * caller's done gets PL_ETOOBIG - a clean error instead of a request that
 * times out. Handlers that can do better (a Slack error code, a shorter
 * page) check the size themselves. */
#define PL_RPC_MSG_MAX (64u << 20)
#define PL_RPC_REPLY_MAX (PL_RPC_MSG_MAX - 4096u)

struct pl_rpc_server;
struct pl_rpc_req;
struct pl_rpc_client;

typedef void (*pl_rpc_handler)(struct pl_rpc_req *req, const void *data,
    size_t len, void *arg);
typedef void (*pl_rpc_done)(int rv, const void *data, size_t len, void *arg);

/* url: "ipc:///path" or "tcp://127.0.0.1:7001" */
int pl_rpc_server_start(struct pl_loop *l, const char *url, int workers,
    pl_rpc_handler fn, void *arg, struct pl_rpc_server **r);
/* pl_rpc_reply - send data (copied) and free req; over PL_RPC_REPLY_MAX
 * the caller gets PL_ETOOBIG instead. */
void pl_rpc_reply(struct pl_rpc_req *req, const void *data, size_t len);
/* pl_rpc_server_stop - stop receiving; replies still pending are dropped. */
void pl_rpc_server_stop(struct pl_rpc_server **s);

/* resend_ms: nng REQ resend time (0 = nng default 60 s) */
int pl_rpc_client_start(struct pl_loop *l, const char *url, int resend_ms,
    struct pl_rpc_client **r);
int pl_rpc_call(struct pl_rpc_client *c, const void *data, size_t len,
    int timeout_ms, pl_rpc_done done, void *arg);
int pl_rpc_call_batch(struct pl_rpc_client *c, const void *data, size_t len,
    int timeout_ms, pl_rpc_done done, void *arg);
/* pl_rpc_client_stop - pending calls complete with PL_ECLOSED first. */
void pl_rpc_client_stop(struct pl_rpc_client **c);
int pl_rpc_client_pending(const struct pl_rpc_client *c);

/* Fire-and-forget (push0/pull0), for presence reports. */
struct pl_rpc_pull;
struct pl_rpc_push;
int pl_rpc_pull_start(struct pl_loop *l, const char *url, pl_rpc_handler fn,
    void *arg, struct pl_rpc_pull **r);	/* fn's req is NULL; no reply */
void pl_rpc_pull_stop(struct pl_rpc_pull **p);
int pl_rpc_push_start(struct pl_loop *l, const char *url, struct pl_rpc_push **r);
/* pl_rpc_push - non-blocking; PL_EAGAIN when the peer is not keeping up */
int pl_rpc_push(struct pl_rpc_push *p, const void *data, size_t len);
void pl_rpc_push_stop(struct pl_rpc_push **p);

/* Every listener (server and pull) is probed: every interval_ms a fresh
 * socket dials it and sends a probe the receive path answers; no answer
 * within deadline_ms and the listener is re-created (nng 1.5.2 can stop
 * accepting after a peer dies mid-handshake, nanomsg/nng#1518; rpc.c).
 * Counted parley_rpc_listener_restarts_total, logged PL-RPC-LISTENER-RESTART.
 * Defaults 1000 and 10000; pl_rpc_probe_set changes them for servers started
 * afterwards (tests). */
void pl_rpc_probe_set(int interval_ms, int deadline_ms);

#endif
