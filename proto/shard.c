/* shard.c - channel -> partition -> shard (see shard.h). */
#include "hash.h"
#include "shard.h"

/* pl_shard_hash - FNV-1a, 32 bits (lib/hash.c): stable across builds and
 * languages; shard_test.c holds recorded placements */
uint32_t
pl_shard_hash(const char *s)
{
	return pl_hash_fnv1a_str(s);
}

int
pl_shard_partition(const char *channel, int partitions)
{
	if (partitions <= 0)
		return 0;
	return (int)(pl_shard_hash(channel) % (uint32_t)partitions);
}

int
pl_shard_of_channel(const char *channel, int partitions, int shard_count)
{
	if (shard_count <= 0)
		return 0;
	return pl_shard_partition(channel, partitions) % shard_count;
}

int
pl_shard_of_team(const char *team, int partitions, int shard_count)
{
	return pl_shard_of_channel(team, partitions, shard_count);
}
