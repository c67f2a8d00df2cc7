/* notify.h - notify-svc's private header: settings and modules. */
#ifndef NS_NOTIFY_H
#define NS_NOTIFY_H
#include <stdint.h>

struct event_base;
struct pl_loop;

struct ns_conf {
	char *run_dir;
	char *kafka_brokers;
	char *kafka_brokers_file;
	int64_t fetch_wait_ms;
	char *redis_addr;
	char *pg_dir_dsn;
};
extern struct ns_conf ns_conf;

/* svc.c - connect the dependencies, readiness, teardown */
int ns_svc_init(struct event_base *base, struct pl_loop *loop);
void ns_svc_drain(void);
void ns_svc_fini(void);

#endif
