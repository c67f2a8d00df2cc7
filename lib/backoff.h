/* backoff.h - exponential backoff with full jitter:
 * delay = random(0, min(cap, base * 2^attempt)). Embedded. */
#ifndef PL_BACKOFF_H
#define PL_BACKOFF_H
#include <stdint.h>

struct pl_backoff {
	uint64_t base_ms;
	uint64_t cap_ms;
	unsigned attempt;
	uint64_t rng;	/* xorshift state */
};

void pl_backoff_init(struct pl_backoff *b, uint64_t base_ms, uint64_t cap_ms, uint64_t seed);
uint64_t pl_backoff_next(struct pl_backoff *b);	/* next delay, attempt++ */
void pl_backoff_reset(struct pl_backoff *b);
/* pl_jitter_ms - random(lo, hi) from a process-wide generator */
uint64_t pl_jitter_ms(uint64_t lo, uint64_t hi);

#endif
