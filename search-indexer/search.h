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

/* feed.c - parley.messages and parley.events from the end, every partition */
struct si_feed;
int si_feed_start(struct pl_loop *loop, const char *brokers,
    int64_t fetch_wait_ms, struct si_feed **r);
int si_feed_ready(const struct si_feed *f);
void si_feed_stop(struct si_feed **f);

#endif
