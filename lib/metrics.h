/* metrics.h - a process-wide metrics registry with Prometheus text exposition.
 *
 * Metrics are created once at start-up and live until exit. Counters, gauges
 * and histograms are updated from the loop thread only (no locking). A metric
 * name may be registered several times with different label sets
 * ("reason=\"idle\""); the exposition groups them under one HELP/TYPE. */
#ifndef PL_METRICS_H
#define PL_METRICS_H
#include <stddef.h>
#include "buf.h"

struct pl_metric;

struct pl_metric *pl_metrics_counter(const char *name, const char *help,
    const char *labels);
struct pl_metric *pl_metrics_gauge(const char *name, const char *help,
    const char *labels);
/* bounds: ascending upper bounds of the buckets (+Inf is implicit). */
struct pl_metric *pl_metrics_histogram(const char *name, const char *help,
    const char *labels, const double *bounds, int nbounds);
/* a gauge whose value is computed at scrape time */
void pl_metrics_gauge_fn(const char *name, const char *help, const char *labels,
    double (*fn)(void *arg), void *arg);

void pl_metrics_inc(struct pl_metric *m);
void pl_metrics_add(struct pl_metric *m, double v);
void pl_metrics_set(struct pl_metric *m, double v);
void pl_metrics_observe(struct pl_metric *m, double v);
double pl_metrics_value(const struct pl_metric *m);	/* counter/gauge value, histogram count */

/* pl_metrics_render - append the whole registry in text format 0.0.4. */
void pl_metrics_render(struct pl_buf *out);

/* Standard bucket sets, in seconds. */
extern const double PL_METRICS_LATENCY_S[];	/* 50us .. 10s */
extern const int PL_METRICS_LATENCY_S_N;
extern const double PL_METRICS_SIZE[];		/* 1 .. 10000 (batch sizes) */
extern const int PL_METRICS_SIZE_N;

/* pl_metrics_reset_for_tests - drop every metric (unit tests only). */
void pl_metrics_reset_for_tests(void);

#endif
