/* dk_log.h - the native broker's data: topics, partitions and their
 * in-memory logs of record batches (tools/devkafka).
 *
 * A partition's log is a ring of record batches (Kafka message format v2)
 * kept exactly as the producer sent them, with the base offset written in.
 * Finding the batch of an offset is a binary search, so a fetch costs the
 * same whether the log holds ten batches or a million. Retention drops the
 * oldest batches beyond --retention-bytes per partition; the log start offset
 * moves with them (a reader below it gets OFFSET_OUT_OF_RANGE).
 *
 * Idempotent producers: per (producer id, partition) the last sequence and
 * the five newest batches, so a resent batch is answered with its original
 * offset and never appended twice, and a gap is OUT_OF_ORDER_SEQUENCE_NUMBER. */
#ifndef DK_LOG_H
#define DK_LOG_H
#include <stddef.h>
#include <stdint.h>

/* Kafka error codes the broker answers with */
enum {
	DK_ERR_NONE = 0,
	DK_ERR_OFFSET_OUT_OF_RANGE = 1,
	DK_ERR_CORRUPT_MESSAGE = 2,
	DK_ERR_UNKNOWN_TOPIC_OR_PART = 3,
	DK_ERR_NOT_LEADER = 6,
	DK_ERR_MESSAGE_TOO_LARGE = 10,
	DK_ERR_UNSUPPORTED_VERSION = 35,
	DK_ERR_INVALID_REQUEST = 42,
	DK_ERR_OUT_OF_ORDER_SEQUENCE = 45,
	DK_ERR_INVALID_PRODUCER_EPOCH = 47,
};

#define DK_BATCH_HEADER 61	/* bytes of a v2 record batch before its records */
#define DK_RECENT 5		/* batches remembered per producer and partition */

struct dk_batch {
	int64_t base, last;	/* first and last offset */
	int64_t max_ts;		/* maxTimestamp of the batch */
	uint32_t len;
	uint8_t *data;		/* the whole batch, base offset written in */
};

struct dk_producer {
	int64_t pid;
	int16_t epoch;
	int32_t last_seq;
	struct { int32_t first, last; int64_t base; } recent[DK_RECENT];
	int nrecent, pos;
	uint64_t used;		/* append counter when last used (eviction) */
};

struct dk_part {
	int32_t index;
	int32_t leader;		/* broker id */
	int64_t start, end;	/* log start offset; next offset (high watermark) */
	struct dk_batch *ring;
	size_t head, n, cap;
	size_t bytes;
	struct dk_producer *prod;
	int nprod;
	uint64_t appends;
};

struct dk_topic {
	char *name;
	int32_t nparts;
	struct dk_part *parts;
};

/* dk_log_init - max bytes kept per partition (at least the newest batch) */
void dk_log_init(size_t retention_bytes);
void dk_log_fini(void);
/* dk_log_topic_add - a topic with nparts partitions; leaders spread over
 * brokers 1..nbrokers starting at the topic's index */
struct dk_topic *dk_log_topic_add(const char *name, int32_t nparts,
    int32_t nbrokers);
int dk_log_ntopics(void);
struct dk_topic *dk_log_topic_at(int i);
struct dk_topic *dk_log_topic(const char *name, int32_t len);
/* dk_log_part - the partition or NULL */
struct dk_part *dk_log_part(const char *topic, int32_t len, int32_t index);

/* dk_part_append - validate and append the batches of one Produce partition
 * entry (records, len). Returns a DK_ERR_* code; *base_r is the first offset
 * of the batches (for a duplicate: of the original). Nothing is appended on
 * an error in the first batch. */
int dk_part_append(struct dk_part *p, const uint8_t *records, size_t len,
    int64_t *base_r);
/* dk_part_find - logical index of the first batch whose last offset is at or
 * after off (p->n if none) */
size_t dk_part_find(const struct dk_part *p, int64_t off);
/* dk_part_batch - the batch at logical index i (0 = oldest kept) */
const struct dk_batch *dk_part_batch(const struct dk_part *p, size_t i);
/* dk_part_offset_for_ts - first offset of the first batch with a timestamp
 * at or after ts, -1 if none (ListOffsets by time, batch granularity) */
int64_t dk_part_offset_for_ts(const struct dk_part *p, int64_t ts);
/* dk_log_bytes - bytes held by every partition of every topic */
size_t dk_log_bytes(void);

#endif
