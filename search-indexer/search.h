/* search.h - search-indexer's private header: settings and modules. */
#ifndef SI_SEARCH_H
#define SI_SEARCH_H
#include <stdint.h>

struct event_base;
struct pl_loop;

/* svc.c - connect the dependencies, readiness, teardown */
int si_svc_init(struct event_base *base, struct pl_loop *loop);
void si_svc_drain(void);
void si_svc_fini(void);

#endif
