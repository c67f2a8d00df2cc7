/* backoff.c - exponential backoff with full jitter. */
#include <pthread.h>

#include "backoff.h"
#include "ids.h"

/* pl_backoff_rand - xorshift64* step */
static uint64_t
pl_backoff_rand(uint64_t *s)
{
	uint64_t x = *s;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

/* pl_backoff_init - attempt 0; seed 0 takes one from getrandom */
void
pl_backoff_init(struct pl_backoff *b, uint64_t base_ms, uint64_t cap_ms, uint64_t seed)
{
	b->base_ms = base_ms;
	b->cap_ms = cap_ms;
	b->attempt = 0;
	while (seed == 0)
		pl_random_bytes(&seed, sizeof(seed));
	b->rng = seed;
}

/* pl_backoff_next - random(0, min(cap, base * 2^attempt)), then attempt++ */
uint64_t
pl_backoff_next(struct pl_backoff *b)
{
	uint64_t ceil = b->cap_ms;

	/* base << attempt only while it cannot overflow or pass the cap */
	if (b->attempt < 63 && b->base_ms <= (b->cap_ms >> b->attempt))
		ceil = b->base_ms << b->attempt;
	if (b->attempt < 64)
		b->attempt++;
	return pl_backoff_rand(&b->rng) % (ceil + 1);
}

void
pl_backoff_reset(struct pl_backoff *b)
{
	b->attempt = 0;
}

static pthread_mutex_t pl_jitter_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t pl_jitter_state;

/* pl_jitter_ms - random(lo, hi) from a process-wide generator */
uint64_t
pl_jitter_ms(uint64_t lo, uint64_t hi)
{
	uint64_t r;

	if (hi <= lo)
		return lo;
	pthread_mutex_lock(&pl_jitter_lock);
	while (pl_jitter_state == 0)
		pl_random_bytes(&pl_jitter_state, sizeof(pl_jitter_state));
	r = pl_backoff_rand(&pl_jitter_state);
	pthread_mutex_unlock(&pl_jitter_lock);
	if (hi - lo == UINT64_MAX)
		return r;
	return lo + r % (hi - lo + 1);
}
