/* notify.h - notify-svc's private header: settings and modules. */
#ifndef NS_NOTIFY_H
#define NS_NOTIFY_H
#include <stdint.h>

struct event_base;
struct pl_loop;

/* svc.c - connect the dependencies, readiness, teardown */
int ns_svc_init(struct event_base *base, struct pl_loop *loop);
void ns_svc_drain(void);
void ns_svc_fini(void);

#endif
