/* presence_clnt.h - the client stub of presence-svc (like Postfix global/).
 *
 * Gateways report connects, disconnects, heartbeats and typing to
 * presence-svc over an nng push socket, as Envelopes (PRESENCE_CHANGE with
 * presence "connect" | "disconnect" | "heartbeat"; USER_TYPING with the
 * channel). Reports are best effort: presence is soft state, a report that
 * cannot be queued (PL_EAGAIN) is repaired by the next heartbeat. */
#ifndef PL_PRESENCE_CLNT_H
#define PL_PRESENCE_CLNT_H
#include <stddef.h>
#include <stdint.h>
#include "loop.h"

struct pl_presence_clnt;

struct pl_presence_report {
	const char *what;	/* connect | disconnect | heartbeat | typing */
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

/* pl_presence_encode - the Envelope of a report into buf (for tests and
 * other transports); returns its length, or 0 if it does not fit */
size_t pl_presence_encode(const struct pl_presence_report *r, int64_t now_us,
    uint8_t *buf, size_t size);

#endif
