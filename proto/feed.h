/* feed.h - a daemon's view of Parley's event topics.
 *
 * Every partition of each named topic is assigned explicitly from the end (no
 * consumer group, no rebalancing). Partition counts need broker metadata,
 * which may not be there when a daemon starts: topics not yet assigned are
 * retried on a timer and pl_feed_ready is false until all are assigned.
 * Each payload is decoded as an Envelope and counted as
 * <prefix>_events_total{topic,type}; undecodable payloads are counted as
 * <prefix>_undecodable_total{topic}, logged and dropped (never a crash). A
 * decoded envelope is handed to fn (borrowed: valid during the call). */
#ifndef PL_FEED_H
#define PL_FEED_H
#include <stdint.h>
#include "kafka.h"
#include "parley.pb-c.h"

struct pl_feed;

typedef void (*pl_feed_fn)(const Parley__Envelope *env,
    const struct pl_kafka_msg *m, void *arg);

struct pl_feed_conf {
	const char *brokers;
	int64_t fetch_wait_ms;
	int64_t fetch_min_bytes;	/* 0: librdkafka's default (1) */
	const char *const *topics;
	int ntopics;			/* at most PL_FEED_MAX_TOPICS */
	const char *metric_prefix;	/* "parley_notify" */
	pl_feed_fn fn;			/* may be NULL: count only */
	void *arg;
};
#define PL_FEED_MAX_TOPICS 4

int pl_feed_start(struct pl_loop *l, const struct pl_feed_conf *conf,
    struct pl_feed **r);
int pl_feed_ready(const struct pl_feed *f);
void pl_feed_stop(struct pl_feed **f);

#endif
