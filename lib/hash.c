/* hash.c - FNV-1a 32 and murmur3's finalizer (see hash.h). */
#include "hash.h"

#define PL_FNV_OFFSET 2166136261u
#define PL_FNV_PRIME 16777619u

/* pl_hash_fnv1a - FNV-1a 32 of n bytes */
uint32_t
pl_hash_fnv1a(const void *p, size_t n)
{
	const unsigned char *s = p;
	uint32_t h = PL_FNV_OFFSET;
	size_t i;

	for (i = 0; i < n; i++)
		h = (h ^ s[i]) * PL_FNV_PRIME;
	return h;
}

/* pl_hash_fnv1a_str - FNV-1a 32 of a NUL-terminated string */
uint32_t
pl_hash_fnv1a_str(const char *s)
{
	uint32_t h = PL_FNV_OFFSET;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * PL_FNV_PRIME;
	return h;
}

/* pl_hash_mix32 - murmur3's fmix32: every input bit reaches the low bits */
uint32_t
pl_hash_mix32(uint32_t h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}
