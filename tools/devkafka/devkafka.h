/* devkafka.h - the dev broker's private interface (tools/devkafka). */
#ifndef DK_DEVKAFKA_H
#define DK_DEVKAFKA_H
#include <stdint.h>

struct event_base;
struct pl_loop;

/* settings, filled by the config table in main.c */
struct dk_conf {
	int64_t brokers;
	int64_t partitions_messages;
	int64_t partitions_events;
	int64_t partitions_presence;
	char *brokers_file;
};
extern struct dk_conf dk_conf;

/* dk_cluster_init - start the mock cluster, create topics, write the file */
int dk_cluster_init(struct event_base *base, struct pl_loop *loop);
/* dk_cluster_fini - remove the file, destroy the cluster (safe after a
 * partial init) */
void dk_cluster_fini(void);
/* dk_cluster_drain - SIGTERM: nothing to drain, stop at once */
void dk_cluster_drain(void);

#endif
