/* devkafka.h - the dev broker's private interface (tools/devkafka).
 *
 * Two engines behind one daemon: "native" (dk_broker.c, dk_api.c, dk_log.c:
 * our own in-memory broker speaking the Kafka protocol, the default) and
 * "mock" (dk_cluster.c: librdkafka's mock cluster). main.c picks one. */
#ifndef DK_DEVKAFKA_H
#define DK_DEVKAFKA_H
#include <stdint.h>

struct event_base;
struct pl_loop;

/* settings, filled by the config table in main.c */
struct dk_conf {
	char *engine;
	int64_t brokers;
	int64_t partitions_messages;
	int64_t partitions_events;
	int64_t partitions_presence;
	int64_t retention_bytes;
	char *brokers_file;
};
extern struct dk_conf dk_conf;

/* the Parley topics and where their partition counts are set */
struct dk_topic_spec {
	const char *name;
	const int64_t *partitions;
};
extern const struct dk_topic_spec dk_topics[];
#define DK_NTOPICS 3

/* the native engine (dk_broker.c) */
int dk_broker_init(struct event_base *base, struct pl_loop *loop);
void dk_broker_drain(void);
void dk_broker_fini(void);

/* the mock engine (dk_cluster.c): start the mock cluster, create topics,
 * write the file; fini is safe after a partial init */
int dk_cluster_init(struct event_base *base, struct pl_loop *loop);
void dk_cluster_fini(void);
void dk_cluster_drain(void);

#endif
