/* be.h - big-endian loads and stores on raw bytes (network byte order), for
 * the wire formats Parley writes by hand: the rpc batch frame, PostgreSQL's
 * binary arrays, the Kafka protocol in devkafka. */
#ifndef PL_BE_H
#define PL_BE_H
#include <stdint.h>

static inline void
pl_be32_put(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint32_t
pl_be32_get(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
}

static inline void
pl_be64_put(uint8_t *p, uint64_t v)
{
	pl_be32_put(p, (uint32_t)(v >> 32));
	pl_be32_put(p + 4, (uint32_t)v);
}

static inline uint64_t
pl_be64_get(const uint8_t *p)
{
	return (uint64_t)pl_be32_get(p) << 32 | pl_be32_get(p + 4);
}

#endif
