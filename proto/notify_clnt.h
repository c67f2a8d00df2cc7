/* notify_clnt.h - the client stub of notify-svc (like Postfix global/).
 *
 * One nng REQ client to notify-svc's endpoint (ipc:// or tcp://: any
 * replica answers any request, they share one database), a circuit breaker
 * (timeouts and transport errors open it; while open calls fail fast with
 * PL_EUNAVAIL), Request encoding and Reply decoding. Methods: see
 * notify-svc/methods.c (conversations.mark, client.counts, notify.channel).
 *
 * done runs once on the loop thread: rv 0 with the decoded reply (borrowed:
 * freed after done returns), or rv PL_ETIMEDOUT / PL_ECLOSED / PL_EPROTO
 * with reply NULL. */
#ifndef PL_NOTIFY_CLNT_H
#define PL_NOTIFY_CLNT_H
#include "loop.h"
#include "message_clnt.h"
#include "parley.pb-c.h"

struct pl_notify_clnt;

struct pl_notify_clnt_conf {
	const char *run_dir;		/* for the default ipc:// endpoint */
	const char *url;		/* optional: "tcp://host:port" or "ipc:///path" */
	int timeout_ms;
	int breaker_threshold;
	int breaker_open_ms;
};

int pl_notify_clnt_start(struct pl_loop *l, const struct pl_notify_clnt_conf *conf,
    struct pl_notify_clnt **r);
/* 0 when done will run; non-zero (PL_EUNAVAIL: breaker open) it will not */
int pl_notify_clnt_call(struct pl_notify_clnt *c, const Parley__Request *req,
    pl_message_done done, void *arg);
int pl_notify_clnt_breaker_state(const struct pl_notify_clnt *c);
void pl_notify_clnt_stop(struct pl_notify_clnt **c);

#endif
