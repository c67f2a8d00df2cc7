/* clock.c - time sources. */
#include <time.h>

#include "clock.h"

/* pl_clock_us - clock id in microseconds */
static uint64_t
pl_clock_us(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

uint64_t pl_clock_mono_us(void) { return pl_clock_us(CLOCK_MONOTONIC); }
uint64_t pl_clock_mono_ms(void) { return pl_clock_us(CLOCK_MONOTONIC) / 1000u; }
uint64_t pl_clock_wall_us(void) { return pl_clock_us(CLOCK_REALTIME); }
uint64_t pl_clock_wall_ms(void) { return pl_clock_us(CLOCK_REALTIME) / 1000u; }
