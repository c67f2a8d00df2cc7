/* shard.h - the one channel -> partition -> shard function.
 *
 * A channel's Kafka partition is fnv1a32(channel id) % partitions; the
 * message-svc shard that owns it is partition % shard_count. So a shard owns
 * whole partitions, consumes exactly those, and a channel keeps its partition
 * (and its log) when the shard count changes. The gateway routes with the
 * same function. The partition count of a live topic never changes. */
#ifndef PL_SHARD_H
#define PL_SHARD_H
#include <stdint.h>

uint32_t pl_shard_hash(const char *s);
int pl_shard_partition(const char *channel, int partitions);
int pl_shard_of_channel(const char *channel, int partitions, int shard_count);
/* directory requests (teams, users, channel lists) are routed by team */
int pl_shard_of_team(const char *team, int partitions, int shard_count);

#endif
