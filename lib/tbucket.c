/* tbucket.c - token bucket: rate tokens per second, up to burst. */
#include "tbucket.h"

/* pl_tbucket_init - a full bucket */
void
pl_tbucket_init(struct pl_tbucket *b, double rate, double burst, uint64_t now_us)
{
	b->rate = rate;
	b->burst = burst;
	b->tokens = burst;
	b->last_us = now_us;
}

/* pl_tbucket_level - tokens at now_us (never past burst; time going back adds none) */
static double
pl_tbucket_level(const struct pl_tbucket *b, uint64_t now_us)
{
	double t = b->tokens;

	if (now_us > b->last_us)
		t += (double)(now_us - b->last_us) * b->rate / 1e6;
	return t > b->burst ? b->burst : t;
}

/* pl_tbucket_take - 1 and consume n tokens if available, else 0 */
int
pl_tbucket_take(struct pl_tbucket *b, double n, uint64_t now_us)
{
	b->tokens = pl_tbucket_level(b, now_us);
	if (now_us > b->last_us)
		b->last_us = now_us;
	if (b->tokens < n)
		return 0;
	b->tokens -= n;
	return 1;
}

/* pl_tbucket_wait_us - time until n tokens are available (0 if now) */
uint64_t
pl_tbucket_wait_us(const struct pl_tbucket *b, double n, uint64_t now_us)
{
	double t = pl_tbucket_level(b, now_us), us;

	if (t >= n)
		return 0;
	if (b->rate <= 0 || n > b->burst)
		return UINT64_MAX;
	us = (n - t) * 1e6 / b->rate;
	return (uint64_t)us + ((double)(uint64_t)us < us ? 1 : 0);
}
