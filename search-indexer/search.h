/* search.h - search-indexer's private header: settings and modules. */
#ifndef SI_SEARCH_H
#define SI_SEARCH_H
#include <stdint.h>

struct event_base;
struct pl_loop;

struct si_conf {
	char *run_dir;
	char *kafka_brokers;
	char *kafka_brokers_file;
	int64_t fetch_wait_ms;
	char *pg_dsn;
};
extern struct si_conf si_conf;

/* svc.c - connect the dependencies, readiness, teardown */
int si_svc_init(struct event_base *base, struct pl_loop *loop);
void si_svc_drain(void);
void si_svc_fini(void);

#endif
