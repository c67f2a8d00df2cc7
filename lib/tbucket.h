/* tbucket.h - token bucket: rate tokens per second, up to burst. Embedded. */
#ifndef PL_TBUCKET_H
#define PL_TBUCKET_H
#include <stdint.h>

struct pl_tbucket {
	double rate;	/* tokens per second */
	double burst;	/* capacity */
	double tokens;
	uint64_t last_us;
};

void pl_tbucket_init(struct pl_tbucket *b, double rate, double burst, uint64_t now_us);
/* pl_tbucket_take - 1 and consume n tokens if available, else 0 */
int pl_tbucket_take(struct pl_tbucket *b, double n, uint64_t now_us);
/* pl_tbucket_wait_us - time until n tokens are available (0 if now) */
uint64_t pl_tbucket_wait_us(const struct pl_tbucket *b, double n, uint64_t now_us);

#endif
