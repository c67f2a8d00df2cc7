/*
 * lg_hist.h - a log-bucketed latency histogram (HdrHistogram-like).
 *
 * Values are unsigned 64-bit (nanoseconds by convention). Values below 64
 * are exact; above, each power of two is split into 32 linear sub-buckets,
 * so a reported percentile is within 1/32 (~3 %) of the true value. The
 * struct is plain data: embed it, lg_hist_init() it, merge with
 * lg_hist_merge(). No allocation.
 */
#ifndef LG_HIST_H
#define LG_HIST_H

#include <stddef.h>
#include <stdint.h>

#define LG_HIST_SUB_BITS 5
#define LG_HIST_SUB (1u << LG_HIST_SUB_BITS)
#define LG_HIST_N ((64 - LG_HIST_SUB_BITS + 1) * LG_HIST_SUB)

struct lg_hist {
	uint64_t count;
	uint64_t min;
	uint64_t max;
	double sum;
	uint64_t b[LG_HIST_N];
};

void lg_hist_init(struct lg_hist *h);
void lg_hist_add(struct lg_hist *h, uint64_t v);
/* lg_hist_add_n - record n observations of bucket index idx (for merging) */
void lg_hist_add_bucket(struct lg_hist *h, unsigned idx, uint64_t n);
void lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src);
/* lg_hist_pct - value at percentile p (0..100); 0 when empty */
uint64_t lg_hist_pct(const struct lg_hist *h, double p);
unsigned lg_hist_index(uint64_t v);
uint64_t lg_hist_low(unsigned idx);
/* lg_hist_json - sparse buckets "[[idx,n],...]" plus min/max into buf; length or -1 */
int lg_hist_json(const struct lg_hist *h, char *buf, size_t cap);

#endif
