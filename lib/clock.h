/* clock.h - time sources. */
#ifndef PL_CLOCK_H
#define PL_CLOCK_H
#include <stdint.h>

uint64_t pl_clock_mono_us(void);	/* CLOCK_MONOTONIC, microseconds */
uint64_t pl_clock_mono_ms(void);
uint64_t pl_clock_wall_us(void);	/* CLOCK_REALTIME, microseconds since epoch */
uint64_t pl_clock_wall_ms(void);

#endif
