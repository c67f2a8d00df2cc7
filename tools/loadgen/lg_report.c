/*
 * lg_report.c - what a worker says up its output pipe: JSON lines, and the
 * "done" line with every counter and histogram; the tables of counters and
 * histograms that the coordinator (lg_coord.c) reads the same line back with.
 */
#include "loadgen.h"

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

const struct lg_field lg_counters[] = {
#define LG_CTR(f) { #f, offsetof(struct lg_stats, f) }
	LG_CTR(connected), LG_CTR(connect_fail), LG_CTR(ready), LG_CTR(disconnects),
	LG_CTR(reconnects), LG_CTR(sent), LG_CTR(acked), LG_CTR(nacked),
	LG_CTR(expected), LG_CTR(delivered), LG_CTR(delivered_run), LG_CTR(pongs),
	LG_CTR(resumed), LG_CTR(resynced), LG_CTR(closed_4008), LG_CTR(slow_closed),
	LG_CTR(proto_errors), LG_CTR(server_errors), LG_CTR(server_closes),
	LG_CTR(eof_resets), LG_CTR(warm_sent),
	LG_CTR(warm_acked), LG_CTR(warm_nacked), LG_CTR(warm_delivered),
#undef LG_CTR
};

const struct lg_field lg_hists[] = {
	{ "lat", offsetof(struct lg_stats, lat) },
	{ "lat_slowphase", offsetof(struct lg_stats, lat_slowphase) },
	{ "ack", offsetof(struct lg_stats, ack) },
	{ "rtt", offsetof(struct lg_stats, rtt) },
	{ "recon", offsetof(struct lg_stats, recon) },
};

const size_t lg_ncounters = LG_NELEM(lg_counters);
const size_t lg_nhists = LG_NELEM(lg_hists);

/* lg_worker_line - one line up the output pipe */
void
lg_worker_line(struct lg_worker *w, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf) - 1, fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(buf) - 1)
		return;
	buf[n++] = '\n';
	if (write(w->out_fd, buf, (size_t)n) < 0)
		return;
}

/* lg_report_arr - "[a,b,...]" of n numbers at off into a FILE */
void
lg_report_arr(FILE *f, const uint64_t *v, size_t n)
{
	fputc('[', f);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "%s%llu", i ? "," : "", (unsigned long long)v[i]);
	fputc(']', f);
}

/* lg_report_nacks - ,"nack_codes":{"code":n,...} */
void
lg_report_nacks(FILE *f, const struct lg_stats *st)
{
	fputs(",\"nack_codes\":{", f);
	for (int i = 0, k = 0; i < LG_NACK_CODES; i++)
		if (st->nack_code[i][0])
			fprintf(f, "%s\"%s\":%llu", k++ ? "," : "", st->nack_code[i],
			    (unsigned long long)st->nack_n[i]);
	fputc('}', f);
}

/* lg_worker_report - the "done" line: everything the worker measured */
int
lg_worker_report(struct lg_worker *w)
{
	static char hbuf[LG_HIST_N * 24 + 128];
	char *line = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&line, &len);
	const struct lg_ledger *l = &w->ledger;

	fprintf(f, "{\"ev\":\"done\",\"w\":%d,\"c\":{", w->index);
	for (size_t i = 0; i < lg_ncounters; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", lg_counters[i].name,
		    (unsigned long long)*LG_CTR_AT(&w->st, i));
	fprintf(f, "},\"ledger\":[%llu,%llu,%llu,%llu,%llu,%llu],\"bc_n\":",
	    (unsigned long long)l->count[0], (unsigned long long)l->count[1],
	    (unsigned long long)l->count[2], (unsigned long long)l->count[3],
	    (unsigned long long)l->count[4], (unsigned long long)l->missing);
	lg_report_arr(f, w->st.bc_n, LG_MAX_ROUNDS);
	fputs(",\"bc_max\":", f);
	lg_report_arr(f, w->st.bc_max, LG_MAX_ROUNDS);
	fputs(",\"series\":", f);
	lg_report_arr(f, w->st.recon_series, LG_SERIES);
	lg_report_nacks(f, &w->st);
	fprintf(f, ",\"recon_done_max\":%llu,\"h\":{", (unsigned long long)w->st.recon_done_max);
	for (size_t i = 0; i < lg_nhists; i++) {
		lg_hist_json(LG_HIST_AT(&w->st, i), hbuf, sizeof(hbuf));
		fprintf(f, "%s\"%s\":%s", i ? "," : "", lg_hists[i].name, hbuf);
	}
	fputs("}}\n", f);
	fclose(f);
	for (size_t off = 0; off < len;) {
		ssize_t n = write(w->out_fd, line + off, len - off);

		if (n <= 0)
			break;
		off += (size_t)n;
	}
	free(line);
	return 0;
}
