/* presence_clnt.h - the client stub of presence-svc (like Postfix global/).
 *
 * Gateways report connects, disconnects, heartbeats and typing to
 * presence-svc over an nng push socket, as Envelopes (PRESENCE_CHANGE with
 * presence "connect" | "disconnect" | "heartbeat" | "poll" (an events.poll
 * client's session) | "activity" (no session); USER_TYPING with the
 * channel). Reports are best effort: presence is soft state, a report that
 * cannot be queued (PL_EAGAIN) is repaired by the next heartbeat.
 *
 * Queries and settings go over presence-svc's own REQ/REP socket
 * (PL_EP_PRESENCE_RPC_FMT) as Request/Reply: users.getPresence,
 * users.setPresence, users.setActive and presence.query (the batch form:
 * param "users", comma-separated ids, at most PL_PRESENCE_QUERY_MAX; the
 * reply's json is {"users":[{"id","presence","connected","connection_count"},…]}
 * in the asked order, connected = a live session or a reconnect grace;
 * users not known to be of the caller's team are left out: they are away
 * and not connected). notify-svc asks presence.query who is connected
 * (notify-svc/online.c). docs/presence.md has the rest. */
#ifndef PL_PRESENCE_CLNT_H
#define PL_PRESENCE_CLNT_H
#include <stddef.h>
#include <stdint.h>
#include "loop.h"
#include "parley.pb-c.h"

#define PL_PRESENCE_QUERY_MAX 500	/* users per presence.query */

struct pl_presence_clnt;

struct pl_presence_report {
	const char *what;	/* connect | disconnect | heartbeat | poll | activity | typing */
	const char *user;
	const char *team;
	const char *session;
	const char *gateway;
	const char *channel;	/* typing only, else NULL */
};

/* url: "ipc://<run>/presence.ipc" (pl_endpoint(PL_EP_PRESENCE_PUSH_FMT, …)) */
int pl_presence_clnt_start(struct pl_loop *l, const char *url,
    struct pl_presence_clnt **r);
/* pl_presence_report - encode and push; 0, PL_EAGAIN or PL_ETOOBIG */
int pl_presence_report(struct pl_presence_clnt *c, const struct pl_presence_report *r);
void pl_presence_clnt_stop(struct pl_presence_clnt **c);

/* pl_presence_clnt_rpc - also open the REQ client of presence-svc's RPC
 * socket (rpc_url: pl_endpoint(PL_EP_PRESENCE_RPC_FMT, …)); calls time out
 * after timeout_ms */
int pl_presence_clnt_rpc(struct pl_presence_clnt *c, const char *rpc_url,
    int timeout_ms);
/* done runs once on the loop thread: rv 0 with the decoded reply (borrowed),
 * or PL_ETIMEDOUT / PL_ECLOSED / PL_EPROTO with reply NULL */
typedef void (*pl_presence_done)(int rv, Parley__Reply *reply, void *arg);
/* pl_presence_call - send req; 0 when done will run, else (PL_EUNAVAIL: no
 * RPC client, or pl_rpc_call's error) done is NOT called */
int pl_presence_call(struct pl_presence_clnt *c, const Parley__Request *req,
    pl_presence_done done, void *arg);

/* pl_presence_connected - read presence.query's answer json for ids[0..n)
 * (the ids asked, in order): connected[i] = 1 if ids[i] is in it with
 * "connected":true, else 0; 0, or PL_EPROTO if json is not such an answer */
int pl_presence_connected(const char *json, const char *const *ids, size_t n,
    int *connected);

/* pl_presence_encode - the Envelope of a report into buf (for tests and
 * other transports); returns its length, or 0 if it does not fit */
size_t pl_presence_encode(const struct pl_presence_report *r, int64_t now_us,
    uint8_t *buf, size_t size);

#endif
