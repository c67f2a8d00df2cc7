/* lg_hist.c - log-bucketed histogram; see lg_hist.h */
#include "lg_hist.h"

#include <stdio.h>
#include <string.h>

/* lg_hist_init - empty histogram */
void
lg_hist_init(struct lg_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

/* lg_hist_index - bucket of value v: exact below 2*SUB, then SUB per octave */
unsigned
lg_hist_index(uint64_t v)
{
	unsigned e;

	if (v < 2 * LG_HIST_SUB)
		return (unsigned)v;
	e = 63 - (unsigned)__builtin_clzll(v);
	return (e - LG_HIST_SUB_BITS) * LG_HIST_SUB +
	    (unsigned)(v >> (e - LG_HIST_SUB_BITS));
}

/* lg_hist_low - smallest value that falls in bucket idx */
uint64_t
lg_hist_low(unsigned idx)
{
	unsigned shift;

	if (idx < 2 * LG_HIST_SUB)
		return idx;
	shift = idx / LG_HIST_SUB - 1;
	return (uint64_t)(idx % LG_HIST_SUB + LG_HIST_SUB) << shift;
}

/* lg_hist_width - how many values bucket idx covers */
static uint64_t
lg_hist_width(unsigned idx)
{
	return idx < 2 * LG_HIST_SUB ? 1 : (uint64_t)1 << (idx / LG_HIST_SUB - 1);
}

/* lg_hist_add - record one value */
void
lg_hist_add(struct lg_hist *h, uint64_t v)
{
	h->b[lg_hist_index(v)]++;
	h->count++;
	h->sum += (double)v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

/* lg_hist_add_bucket - record n values of bucket idx (min/max approximate) */
void
lg_hist_add_bucket(struct lg_hist *h, unsigned idx, uint64_t n)
{
	uint64_t lo;

	if (idx >= LG_HIST_N || n == 0)
		return;
	lo = lg_hist_low(idx);
	h->b[idx] += n;
	h->count += n;
	h->sum += (double)n * (double)(lo + lg_hist_width(idx) / 2);
	if (lo < h->min)
		h->min = lo;
	if (lo + lg_hist_width(idx) - 1 > h->max)
		h->max = lo + lg_hist_width(idx) - 1;
}

/* lg_hist_merge - dst += src */
void
lg_hist_merge(struct lg_hist *dst, const struct lg_hist *src)
{
	for (unsigned i = 0; i < LG_HIST_N; i++)
		dst->b[i] += src->b[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/* lg_hist_pct - the bucket midpoint holding rank ceil(p% * count), in [min,max] */
uint64_t
lg_hist_pct(const struct lg_hist *h, double p)
{
	uint64_t rank, seen = 0, v;

	if (h->count == 0)
		return 0;
	if (p >= 100.0)
		return h->max;
	rank = (uint64_t)(p / 100.0 * (double)h->count + 0.999999);
	if (rank < 1)
		rank = 1;
	for (unsigned i = 0; i < LG_HIST_N; i++) {
		seen += h->b[i];
		if (seen < rank)
			continue;
		v = lg_hist_low(i) + lg_hist_width(i) / 2;
		if (v > h->max)
			v = h->max;
		if (v < h->min)
			v = h->min;
		return v;
	}
	return h->max;
}

/* lg_hist_json - {"n":..,"min":..,"max":..,"sum":..,"b":[[i,n],..]} */
int
lg_hist_json(const struct lg_hist *h, char *buf, size_t cap)
{
	size_t off;
	int n;
	const char *sep = "";

	n = snprintf(buf, cap, "{\"n\":%llu,\"min\":%llu,\"max\":%llu,\"sum\":%.0f,\"b\":[",
	    (unsigned long long)h->count,
	    (unsigned long long)(h->count ? h->min : 0),
	    (unsigned long long)h->max, h->sum);
	if (n < 0 || (size_t)n >= cap)
		return -1;
	off = (size_t)n;
	for (unsigned i = 0; i < LG_HIST_N; i++) {
		if (h->b[i] == 0)
			continue;
		n = snprintf(buf + off, cap - off, "%s[%u,%llu]", sep, i,
		    (unsigned long long)h->b[i]);
		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
		sep = ",";
	}
	if (cap - off < 3)
		return -1;
	memcpy(buf + off, "]}", 3);
	return (int)(off + 2);
}
