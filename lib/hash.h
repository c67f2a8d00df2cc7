/* hash.h - the one string hash of the project: FNV-1a 32 and a finalizer.
 *
 * FNV-1a's output is a contract where it leaves the process: proto/shard.c's
 * channel -> partition function (and so the search-indexer's team split) is
 * pl_hash_fnv1a_str, bit for bit, in every language that talks to us. Its low
 * bits are weak, and the channels one message-svc shard owns share them
 * (partition % shards), so a bucket index takes pl_hash_mix32 of it first
 * (lib/strmap.c does). Pure functions. */
#ifndef PL_HASH_H
#define PL_HASH_H
#include <stddef.h>
#include <stdint.h>

/* pl_hash_fnv1a - FNV-1a 32 of n bytes */
uint32_t pl_hash_fnv1a(const void *p, size_t n);
/* pl_hash_fnv1a_str - FNV-1a 32 of a NUL-terminated string */
uint32_t pl_hash_fnv1a_str(const char *s);
/* pl_hash_mix32 - murmur3's fmix32: every input bit reaches the low bits */
uint32_t pl_hash_mix32(uint32_t h);

#endif
