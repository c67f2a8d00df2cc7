/* metrics.c - a process-wide metrics registry with Prometheus text exposition.
 *
 * Metrics live in one array in registration order. Rendering walks it once
 * per distinct name (in order of first registration) so every series of a
 * name sits under a single HELP/TYPE pair, as text format 0.0.4 requires.
 * Process metrics (memory, fds, start time) are read from /proc at render. */
#include <dirent.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"
#include "metrics.h"

enum pl_metric_type { PL_M_COUNTER, PL_M_GAUGE, PL_M_HISTOGRAM, PL_M_GAUGE_FN };

struct pl_metric {
	enum pl_metric_type type;
	char *name;
	char *help;
	char *labels;		/* "" or `a="b",c="d"` */
	double value;		/* counter / gauge; histogram sum */
	double *bounds;		/* histogram */
	uint64_t *counts;	/* histogram: per bucket, [nbounds] is +Inf */
	uint64_t count;
	int nbounds;
	double (*fn)(void *arg);
	void *arg;
};

static struct pl_metric **pl_metrics;
static size_t pl_metrics_n, pl_metrics_cap;

static const char *const pl_metric_type_names[] = {
	"counter", "gauge", "histogram", "gauge",
};

const double PL_METRICS_LATENCY_S[] = {
	0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
	0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
const int PL_METRICS_LATENCY_S_N =
    (int)(sizeof(PL_METRICS_LATENCY_S) / sizeof(PL_METRICS_LATENCY_S[0]));
const double PL_METRICS_SIZE[] = {
	1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000,
};
const int PL_METRICS_SIZE_N = (int)(sizeof(PL_METRICS_SIZE) / sizeof(PL_METRICS_SIZE[0]));

/* pl_metrics_find - an existing series of name and labels, or NULL */
static struct pl_metric *
pl_metrics_find(const char *name, const char *labels)
{
	size_t i;

	for (i = 0; i < pl_metrics_n; i++)
		if (strcmp(pl_metrics[i]->name, name) == 0 &&
		    strcmp(pl_metrics[i]->labels, labels) == 0)
			return pl_metrics[i];
	return NULL;
}

/* pl_metrics_new - register a series; the same name and labels give the same one */
static struct pl_metric *
pl_metrics_new(enum pl_metric_type type, const char *name, const char *help,
    const char *labels)
{
	struct pl_metric *m;

	labels = labels ? labels : "";
	if ((m = pl_metrics_find(name, labels)) != NULL && m->type == type)
		return m;
	m = pl_calloc(1, sizeof(*m));
	m->type = type;
	m->name = pl_strdup(name);
	m->help = pl_strdup(help ? help : "");
	m->labels = pl_strdup(labels);
	pl_metrics = pl_grow(pl_metrics, &pl_metrics_cap, pl_metrics_n + 1, 32,
	    sizeof(*pl_metrics));
	pl_metrics[pl_metrics_n++] = m;
	return m;
}

struct pl_metric *
pl_metrics_counter(const char *name, const char *help, const char *labels)
{
	return pl_metrics_new(PL_M_COUNTER, name, help, labels);
}

struct pl_metric *
pl_metrics_gauge(const char *name, const char *help, const char *labels)
{
	return pl_metrics_new(PL_M_GAUGE, name, help, labels);
}

/* pl_metrics_histogram - buckets with ascending upper bounds, +Inf implicit */
struct pl_metric *
pl_metrics_histogram(const char *name, const char *help, const char *labels,
    const double *bounds, int nbounds)
{
	struct pl_metric *m = pl_metrics_new(PL_M_HISTOGRAM, name, help, labels);

	if (m->counts == NULL) {
		m->nbounds = nbounds > 0 ? nbounds : 0;
		m->bounds = pl_memdup(bounds, (size_t)m->nbounds * sizeof(double));
		m->counts = pl_calloc((size_t)m->nbounds + 1, sizeof(uint64_t));
	}
	return m;
}

/* pl_metrics_gauge_fn - a gauge computed at scrape time */
void
pl_metrics_gauge_fn(const char *name, const char *help, const char *labels,
    double (*fn)(void *arg), void *arg)
{
	struct pl_metric *m = pl_metrics_new(PL_M_GAUGE_FN, name, help, labels);

	m->fn = fn;
	m->arg = arg;
}

void pl_metrics_inc(struct pl_metric *m) { m->value += 1; }
void pl_metrics_add(struct pl_metric *m, double v) { m->value += v; }
void pl_metrics_set(struct pl_metric *m, double v) { m->value = v; }

/* pl_metrics_observe - count v in the first bucket whose bound is >= v */
void
pl_metrics_observe(struct pl_metric *m, double v)
{
	int i;

	if (m->type != PL_M_HISTOGRAM) {
		m->value = v;
		return;
	}
	for (i = 0; i < m->nbounds && v > m->bounds[i]; i++)
		;
	m->counts[i]++;
	m->count++;
	m->value += v;
}

/* pl_metrics_value - counter/gauge value, histogram count */
double
pl_metrics_value(const struct pl_metric *m)
{
	if (m->type == PL_M_HISTOGRAM)
		return (double)m->count;
	if (m->type == PL_M_GAUGE_FN)
		return m->fn(m->arg);
	return m->value;
}

/* pl_metrics_num - shortest text that reads back as v (Prometheus style) */
static void
pl_metrics_num(struct pl_buf *out, double v)
{
	char tmp[40];
	int prec;

	if (isnan(v)) {
		pl_buf_puts(out, "NaN");
		return;
	}
	if (isinf(v)) {
		pl_buf_puts(out, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	/* integral values (byte counts, totals) read best without an exponent */
	if (v == floor(v) && fabs(v) < 1e15) {
		pl_buf_printf(out, "%.0f", v);
		return;
	}
	for (prec = 1; prec <= 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, v);
		if (strtod(tmp, NULL) == v)
			break;
	}
	pl_buf_puts(out, tmp);
}

/* pl_metrics_series - "name{labels} value\n" (suffix appended to the name) */
static void
pl_metrics_series(struct pl_buf *out, const struct pl_metric *m,
    const char *suffix, const char *extra, double v)
{
	int lab = m->labels[0] != '\0', ext = extra != NULL;

	pl_buf_printf(out, "%s%s", m->name, suffix);
	if (lab || ext)
		pl_buf_printf(out, "{%s%s%s}", m->labels, lab && ext ? "," : "",
		    ext ? extra : "");
	pl_buf_puts(out, " ");
	pl_metrics_num(out, v);
	pl_buf_puts(out, "\n");
}

/* pl_metrics_render_hist - cumulative buckets, +Inf, _sum and _count */
static void
pl_metrics_render_hist(struct pl_buf *out, const struct pl_metric *m)
{
	struct pl_buf le;
	uint64_t cum = 0;
	int i;

	pl_buf_init(&le);
	for (i = 0; i <= m->nbounds; i++) {
		cum += m->counts[i];
		pl_buf_reset(&le);
		pl_buf_puts(&le, "le=\"");
		pl_metrics_num(&le, i < m->nbounds ? m->bounds[i] : INFINITY);
		pl_buf_puts(&le, "\"");
		pl_metrics_series(out, m, "_bucket", le.data, (double)cum);
	}
	pl_buf_fini(&le);
	pl_metrics_series(out, m, "_sum", NULL, m->value);
	pl_metrics_series(out, m, "_count", NULL, (double)m->count);
}

/* pl_metrics_render_one - one series in its type's shape */
static void
pl_metrics_render_one(struct pl_buf *out, const struct pl_metric *m)
{
	if (m->type == PL_M_HISTOGRAM)
		pl_metrics_render_hist(out, m);
	else
		pl_metrics_series(out, m, "", NULL, pl_metrics_value(m));
}

/* pl_metrics_help_text - HELP text with backslash and newline escaped */
static void
pl_metrics_help_text(struct pl_buf *out, const char *s)
{
	for (; *s; s++) {
		if (*s == '\\')
			pl_buf_puts(out, "\\\\");
		else if (*s == '\n')
			pl_buf_puts(out, "\\n");
		else
			pl_buf_append(out, s, 1);
	}
}

/* pl_metrics_first - 1 if m is the first series registered under its name */
static int
pl_metrics_first(size_t at)
{
	size_t i;

	for (i = 0; i < at; i++)
		if (strcmp(pl_metrics[i]->name, pl_metrics[at]->name) == 0)
			return 0;
	return 1;
}

/* pl_metrics_proc_rss - resident set size in bytes from /proc/self/statm */
static double
pl_metrics_proc_rss(void)
{
	unsigned long size = 0, rss = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (f == NULL)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &rss) != 2)
		rss = 0;
	fclose(f);
	return (double)rss * (double)sysconf(_SC_PAGESIZE);
}

/* pl_metrics_proc_fds - open descriptors, from /proc/self/fd */
static double
pl_metrics_proc_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	int n = 0;

	if (d == NULL)
		return 0;
	while ((de = readdir(d)) != NULL)
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n - 1;	/* not the one opendir holds */
}

/* pl_metrics_boot_time - btime from /proc/stat, seconds since epoch */
static double
pl_metrics_boot_time(void)
{
	char line[256];
	double btime = 0;
	FILE *f = fopen("/proc/stat", "r");

	if (f == NULL)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "btime %lf", &btime) == 1)
			break;
	fclose(f);
	return btime;
}

/* pl_metrics_proc_start - process start time: boot time + field 22 of stat */
static double
pl_metrics_proc_start(void)
{
	char buf[1024], *p;
	unsigned long long ticks = 0;
	size_t n;
	int field;
	FILE *f = fopen("/proc/self/stat", "r");

	if (f == NULL)
		return 0;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* the command name may hold spaces: count fields after its ')' */
	if ((p = strrchr(buf, ')')) == NULL)
		return 0;
	for (field = 2; field < 22 && p; field++)
		p = strchr(p + 1, ' ');
	if (p == NULL || sscanf(p + 1, "%llu", &ticks) != 1)
		return 0;
	return pl_metrics_boot_time() + (double)ticks / (double)sysconf(_SC_CLK_TCK);
}

/* process metrics, computed at every render */
static const struct {
	const char *name, *help;
	double (*fn)(void);
} pl_metrics_proc[] = {
	{ "process_resident_memory_bytes", "Resident memory size in bytes.", pl_metrics_proc_rss },
	{ "process_open_fds", "Number of open file descriptors.", pl_metrics_proc_fds },
	{ "process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
	  pl_metrics_proc_start },
};

/* pl_metrics_render_proc - the process gauges */
static void
pl_metrics_render_proc(struct pl_buf *out)
{
	size_t i;

	for (i = 0; i < sizeof(pl_metrics_proc) / sizeof(pl_metrics_proc[0]); i++) {
		pl_buf_printf(out, "# HELP %s %s\n# TYPE %s gauge\n%s ",
		    pl_metrics_proc[i].name, pl_metrics_proc[i].help,
		    pl_metrics_proc[i].name, pl_metrics_proc[i].name);
		pl_metrics_num(out, pl_metrics_proc[i].fn());
		pl_buf_puts(out, "\n");
	}
}

/* pl_metrics_render - append the whole registry in text format 0.0.4 */
void
pl_metrics_render(struct pl_buf *out)
{
	size_t i, j;

	pl_buf_reserve(out, 0);
	for (i = 0; i < pl_metrics_n; i++) {
		const struct pl_metric *m = pl_metrics[i];

		if (!pl_metrics_first(i))
			continue;
		pl_buf_printf(out, "# HELP %s ", m->name);
		pl_metrics_help_text(out, m->help);
		pl_buf_printf(out, "\n# TYPE %s %s\n", m->name,
		    pl_metric_type_names[m->type]);
		for (j = i; j < pl_metrics_n; j++)
			if (strcmp(pl_metrics[j]->name, m->name) == 0)
				pl_metrics_render_one(out, pl_metrics[j]);
	}
	pl_metrics_render_proc(out);
}

/* pl_metrics_reset_for_tests - drop every metric (unit tests only) */
void
pl_metrics_reset_for_tests(void)
{
	size_t i;

	for (i = 0; i < pl_metrics_n; i++) {
		struct pl_metric *m = pl_metrics[i];

		free(m->name);
		free(m->help);
		free(m->labels);
		free(m->bounds);
		free(m->counts);
		free(m);
	}
	free(pl_metrics);
	pl_metrics = NULL;
	pl_metrics_n = pl_metrics_cap = 0;
}
