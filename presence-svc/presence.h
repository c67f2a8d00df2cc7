/* presence.h - presence-svc's private header: settings and modules. */
#ifndef PS_PRESENCE_H
#define PS_PRESENCE_H
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct pl_loop;
struct pl_rpc_req;

struct ps_conf {
	char *push_url;
};
extern struct ps_conf ps_conf;

/* svc.c - connect the dependencies, readiness, teardown */
int ps_svc_init(struct event_base *base, struct pl_loop *loop);
void ps_svc_drain(void);
void ps_svc_fini(void);

/* report.c - the gateways' pushed reports: decode and count */
void ps_report_init(void);
void ps_report_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg);

#endif
