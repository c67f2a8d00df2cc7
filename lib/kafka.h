/* kafka.h - librdkafka producer and consumer on the loop.
 *
 * Queues are put on the loop with rd_kafka_queue_io_event_enable, so delivery
 * reports and messages are served by the loop thread. Errors are translated
 * to PL_E* here and logged once.
 *
 * extra_conf: "key=value,key=value" librdkafka properties applied last. */
#ifndef PL_KAFKA_H
#define PL_KAFKA_H
#include <stddef.h>
#include <stdint.h>
#include "loop.h"

#define PL_KAFKA_OFFSET_BEGINNING (-2)
#define PL_KAFKA_OFFSET_END (-1)

struct pl_kafka_producer;
struct pl_kafka_consumer;

/* delivery report: rv 0 once the broker acknowledged (acks=all) */
typedef void (*pl_kafka_dr_fn)(int rv, int32_t partition, int64_t offset,
    void *opaque);

/* idempotent producer, acks=all, linger from extra_conf (default 0) */
int pl_kafka_producer_start(struct pl_loop *l, const char *brokers,
    const char *extra_conf, struct pl_kafka_producer **r);
/* partition -1: partitioned by key. Copies key and value. PL_EAGAIN when the
 * local queue is full. cb runs exactly once per accepted message. */
int pl_kafka_produce(struct pl_kafka_producer *p, const char *topic,
    int32_t partition, const void *key, size_t klen, const void *val,
    size_t vlen, pl_kafka_dr_fn cb, void *opaque);
/* fn(arg) on the loop after the delivery reports of each wake-up */
void pl_kafka_producer_on_drained(struct pl_kafka_producer *p, pl_loop_fn fn,
    void *arg);
int pl_kafka_producer_outq(const struct pl_kafka_producer *p);
/* pl_kafka_producer_stop - flush up to timeout_ms, then destroy; reports of
 * unflushed messages fire with PL_ECLOSED. */
void pl_kafka_producer_stop(struct pl_kafka_producer **p, int timeout_ms);

struct pl_kafka_msg {
	const char *topic;
	int32_t partition;
	int64_t offset;
	int64_t timestamp_ms;	/* broker/create time, -1 if none */
	const void *key;
	size_t key_len;
	const void *payload;
	size_t len;
};
typedef void (*pl_kafka_msg_fn)(const struct pl_kafka_msg *m, void *arg);
/* called when a partition reaches its end (the high watermark) */
typedef void (*pl_kafka_eof_fn)(const char *topic, int32_t partition,
    int64_t offset, void *arg);

/* A consumer that is assigned partitions explicitly: no group rebalancing,
 * positions are the caller's (stored in PostgreSQL, or start at the end). */
int pl_kafka_consumer_start(struct pl_loop *l, const char *brokers,
    const char *extra_conf, pl_kafka_msg_fn fn, pl_kafka_eof_fn eof,
    void *arg, struct pl_kafka_consumer **r);
/* add partitions of topic; partitions NULL = all; offsets NULL = every one
 * starts at start_offset (PL_KAFKA_OFFSET_END / _BEGINNING / an offset).
 * PL_KAFKA_OFFSET_END is resolved to each partition's high watermark before
 * this returns (blocking, up to 5 s; PL_EIO if the brokers do not answer):
 * every message produced after the return is consumed. */
int pl_kafka_consumer_assign(struct pl_kafka_consumer *c, const char *topic,
    const int32_t *partitions, const int64_t *offsets, int n,
    int64_t start_offset);
/* pl_kafka_partition_count - metadata look-up (blocking up to timeout_ms) */
int pl_kafka_partition_count(struct pl_kafka_consumer *c, const char *topic,
    int timeout_ms);
/* pl_kafka_consumer_seek - next message of topic/partition comes from offset */
int pl_kafka_consumer_seek(struct pl_kafka_consumer *c, const char *topic,
    int32_t partition, int64_t offset);
/* pause/resume every assigned partition (backpressure) */
int pl_kafka_consumer_pause(struct pl_kafka_consumer *c, int pause);
/* sum over assigned partitions of high watermark - position (cached, updated
 * by stats), -1 if unknown */
int64_t pl_kafka_consumer_lag(const struct pl_kafka_consumer *c);
void pl_kafka_consumer_stop(struct pl_kafka_consumer **c);

#endif
