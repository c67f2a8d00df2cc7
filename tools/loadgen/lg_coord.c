/*
 * lg_coord.c - the coordinator: forks the workers, drives their phases,
 * merges what they report, and writes the result.
 *
 * Each worker gets a control pipe (commands down: "go <t0 ns>", "stop") and
 * an output pipe (JSON lines up: "ready", then "done" with its counters,
 * histograms, broadcast rounds and reconnect curve). Counters add up,
 * maxima take the max, histograms merge bucket by bucket.
 */
#include "loadgen.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define LG_MAX_PROCS 64

struct lg_child {
	pid_t pid;
	int ctl, out;
	char *buf;
	size_t len;
	int ready_seen, warm_seen, done_seen;
};

struct lg_total {
	struct lg_stats st;
	uint64_t ledger[6];
	uint32_t ready, count, warm, warm_ready;
	long rss_before, rss_connected, rss_end;
	long aux_before, aux_connected;        /* --aux-pids (a peer's redis-server) */
	uint64_t t_go, t_kill, t_end, t_warm_ns;
	int warm_run;
};

/* lg_rss_kb - VmRSS summed over a comma list of pids; -1 if none readable */
static long
lg_rss_kb(const char *pids)
{
	long total = -1;
	char path[64], line[256];
	const char *p = pids;

	while (p != NULL && *p) {
		FILE *f;

		snprintf(path, sizeof(path), "/proc/%d/status", atoi(p));
		if ((f = fopen(path, "r")) != NULL) {
			while (fgets(line, sizeof(line), f) != NULL)
				if (strncmp(line, "VmRSS:", 6) == 0)
					total = (total < 0 ? 0 : total) + atol(line + 6);
			fclose(f);
		}
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
	return total;
}

/* lg_merge_hist - sparse buckets of one worker into dst */
static void
lg_merge_hist(struct lg_hist *dst, const cJSON *h)
{
	const cJSON *b = cJSON_GetObjectItem(h, "b"), *e;
	const cJSON *mn = cJSON_GetObjectItem(h, "min"), *mx = cJSON_GetObjectItem(h, "max");
	uint64_t had = dst->count;

	cJSON_ArrayForEach(e, b)
		lg_hist_add_bucket(dst, (unsigned)cJSON_GetArrayItem(e, 0)->valuedouble,
		    (uint64_t)cJSON_GetArrayItem(e, 1)->valuedouble);
	if (dst->count == had || mn == NULL || mx == NULL)
		return;
	if (had == 0 || (uint64_t)mn->valuedouble < dst->min)
		dst->min = (uint64_t)mn->valuedouble;
	if (had == 0 || (uint64_t)mx->valuedouble > dst->max)
		dst->max = (uint64_t)mx->valuedouble;
}

/* lg_merge_arr - add (or max) a numeric array into v */
static void
lg_merge_arr(uint64_t *v, size_t n, const cJSON *a, int take_max)
{
	size_t i = 0;
	const cJSON *e;

	cJSON_ArrayForEach(e, a) {
		uint64_t x = (uint64_t)e->valuedouble;

		if (i >= n)
			break;
		v[i] = take_max ? (x > v[i] ? x : v[i]) : v[i] + x;
		i++;
	}
}

/* lg_merge_done - one worker's "done" line into the total */
static void
lg_merge_done(struct lg_total *t, const cJSON *js)
{
	const cJSON *c = cJSON_GetObjectItem(js, "c"), *h = cJSON_GetObjectItem(js, "h");
	const cJSON *rd = cJSON_GetObjectItem(js, "recon_done_max"), *e;

	for (size_t i = 0; i < lg_ncounters; i++) {
		const cJSON *v = cJSON_GetObjectItem(c, lg_counters[i].name);

		*LG_CTR_AT(&t->st, i) += v ? (uint64_t)v->valuedouble : 0;
	}
	for (size_t i = 0; i < lg_nhists; i++)
		lg_merge_hist(LG_HIST_AT(&t->st, i), cJSON_GetObjectItem(h, lg_hists[i].name));
	lg_merge_arr(t->ledger, 6, cJSON_GetObjectItem(js, "ledger"), 0);
	lg_merge_arr(t->st.bc_n, LG_MAX_ROUNDS, cJSON_GetObjectItem(js, "bc_n"), 0);
	lg_merge_arr(t->st.bc_max, LG_MAX_ROUNDS, cJSON_GetObjectItem(js, "bc_max"), 1);
	lg_merge_arr(t->st.recon_series, LG_SERIES, cJSON_GetObjectItem(js, "series"), 0);
	cJSON_ArrayForEach(e, cJSON_GetObjectItem(js, "nack_codes"))
		lg_mode_count_nack(&t->st, e->string, strlen(e->string), (uint64_t)e->valuedouble);
	if (rd && (uint64_t)rd->valuedouble > t->st.recon_done_max)
		t->st.recon_done_max = (uint64_t)rd->valuedouble;
}

/* lg_on_line - a line from a worker */
static void
lg_on_line(struct lg_total *t, struct lg_child *ch, const char *line)
{
	cJSON *js = cJSON_Parse(line);
	const cJSON *ev = js ? cJSON_GetObjectItem(js, "ev") : NULL;

	if (ev == NULL || !cJSON_IsString(ev)) {
		fprintf(stderr, "loadgen: bad worker line\n");
	} else if (strcmp(ev->valuestring, "ready") == 0) {
		ch->ready_seen = 1;
		t->ready += (uint32_t)cJSON_GetObjectItem(js, "ready")->valuedouble;
		t->count += (uint32_t)cJSON_GetObjectItem(js, "count")->valuedouble;
	} else if (strcmp(ev->valuestring, "warm") == 0) {
		ch->warm_seen = 1;
		t->warm += (uint32_t)cJSON_GetObjectItem(js, "warm")->valuedouble;
		t->warm_ready += (uint32_t)cJSON_GetObjectItem(js, "ready")->valuedouble;
	} else if (strcmp(ev->valuestring, "done") == 0) {
		ch->done_seen = 1;
		lg_merge_done(t, js);
	}
	cJSON_Delete(js);
}

/* lg_pump - read what the workers wrote for up to ms; split lines */
static void
lg_pump(struct lg_total *t, struct lg_child *ch, int n, int ms)
{
	struct pollfd pfd[LG_MAX_PROCS];
	char tmp[65536];

	for (int i = 0; i < n; i++)
		pfd[i] = (struct pollfd){ .fd = ch[i].out, .events = POLLIN };
	if (poll(pfd, (nfds_t)n, ms) <= 0)
		return;
	for (int i = 0; i < n; i++) {
		ssize_t r;
		char *nl;

		if (!(pfd[i].revents & (POLLIN | POLLHUP)))
			continue;
		if ((r = read(ch[i].out, tmp, sizeof(tmp))) <= 0) {
			if (r == 0) {           /* the worker is gone: wait no more */
				ch[i].ready_seen = ch[i].warm_seen = ch[i].done_seen = 1;
				ch[i].out = -1;
			}
			continue;
		}
		ch[i].buf = realloc(ch[i].buf, ch[i].len + (size_t)r + 1);
		memcpy(ch[i].buf + ch[i].len, tmp, (size_t)r);
		ch[i].len += (size_t)r;
		ch[i].buf[ch[i].len] = '\0';
		while ((nl = memchr(ch[i].buf, '\n', ch[i].len)) != NULL) {
			*nl = '\0';
			lg_on_line(t, &ch[i], ch[i].buf);
			ch[i].len -= (size_t)(nl + 1 - ch[i].buf);
			memmove(ch[i].buf, nl + 1, ch[i].len);
		}
	}
}

enum { LG_SEEN_READY, LG_SEEN_WARM, LG_SEEN_DONE };

/* lg_all - have all children said ready (warm, done)? */
static int
lg_all(const struct lg_child *ch, int n, int what)
{
	for (int i = 0; i < n; i++)
		if (!(what == LG_SEEN_DONE ? ch[i].done_seen :
		    what == LG_SEEN_WARM ? ch[i].warm_seen : ch[i].ready_seen))
			return 0;
	return 1;
}

/* lg_worker_main - a forked child: build the worker, run, exit */
static void
lg_worker_main(const struct lg_cfg *cfg, int index, int ctl, int out)
{
	static struct lg_worker w;
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = UINT32_MAX };

	w.cfg = cfg;
	w.mode = lg_mode_find(cfg->mode);
	w.index = index;
	w.lo = (uint32_t)((uint64_t)cfg->conns * (uint64_t)index / (uint64_t)cfg->procs);
	w.hi = (uint32_t)((uint64_t)cfg->conns * (uint64_t)(index + 1) / (uint64_t)cfg->procs);
	w.ctl_fd = ctl;
	w.out_fd = out;
	w.rng = 0x9e3779b97f4a7c15ull ^ ((uint64_t)index << 32) ^ lg_now_ns();
	w.ep = epoll_create1(0);
	w.conns = calloc(w.hi - w.lo + 1, sizeof(*w.conns));
	if (w.conns == NULL)
		abort();
	for (size_t i = 0; i < lg_nhists; i++)
		lg_hist_init(LG_HIST_AT(&w.st, i));
	lg_scen_channels(cfg, &w.chans, &w.nchan);
	if (strcmp(cfg->mode, "parley") == 0 && lg_http_load(&w, cfg->provision) < 0) {
		fprintf(stderr, "loadgen: worker %d: cannot load %s\n", index, cfg->provision);
		_exit(1);
	}
	fcntl(ctl, F_SETFL, O_NONBLOCK);
	epoll_ctl(w.ep, EPOLL_CTL_ADD, ctl, &ev);
	signal(SIGPIPE, SIG_IGN);
	_exit(lg_scen_run(&w) == 0 ? 0 : 1);
}

/* lg_spawn - fork the workers with their pipes; 0 or -1 */
static int
lg_spawn(const struct lg_cfg *cfg, struct lg_child *ch)
{
	for (int i = 0; i < cfg->procs; i++) {
		int cp[2], op[2];

		if (pipe(cp) < 0 || pipe(op) < 0)
			return -1;
		ch[i].pid = fork();
		if (ch[i].pid < 0)
			return -1;
		if (ch[i].pid == 0) {
			for (int j = 0; j < i; j++) {
				close(ch[j].ctl);
				close(ch[j].out);
			}
			close(cp[1]);
			close(op[0]);
			lg_worker_main(cfg, i, cp[0], op[1]);
		}
		close(cp[0]);
		close(op[1]);
		ch[i].ctl = cp[1];
		ch[i].out = op[0];
	}
	return 0;
}

/* lg_say - a command to every worker */
static void
lg_say(struct lg_child *ch, int n, const char *cmd)
{
	for (int i = 0; i < n; i++)
		if (write(ch[i].ctl, cmd, strlen(cmd)) < 0)
			fprintf(stderr, "loadgen: worker %d: %s\n", i, strerror(errno));
}

/* lg_kill_list - SIGKILL each pid of a comma list (the storm) */
static void
lg_kill_list(const char *pids)
{
	for (const char *p = pids; p != NULL && *p;) {
		pid_t pid = (pid_t)atoi(p);

		if (pid > 1 && kill(pid, SIGKILL) == 0)
			fprintf(stderr, "loadgen: storm: killed %d\n", (int)pid);
		p = strchr(p, ',');
		p = p ? p + 1 : NULL;
	}
}

/* lg_warmup - a run with channels: every channel's warm-up, until each
 * connected member has had it (or --warmup seconds) */
static void
lg_warmup(const struct lg_cfg *cfg, struct lg_total *t, struct lg_child *ch)
{
	uint64_t t0 = lg_now_ns(), deadline = t0 + (uint64_t)cfg->warmup_s * 1000000000ull;

	if (cfg->channels <= 0 && strcmp(cfg->scenario, "broadcast") != 0)
		return;                         /* idle: no channels */
	t->warm_run = 1;
	lg_say(ch, cfg->procs, "warm\n");
	while (!lg_all(ch, cfg->procs, LG_SEEN_WARM) && lg_now_ns() < deadline)
		lg_pump(t, ch, cfg->procs, 50);
	if (!lg_all(ch, cfg->procs, LG_SEEN_WARM)) {
		lg_say(ch, cfg->procs, "late\n");
		deadline = lg_now_ns() + 5000000000ull;
		while (!lg_all(ch, cfg->procs, LG_SEEN_WARM) && lg_now_ns() < deadline)
			lg_pump(t, ch, cfg->procs, 50);
	}
	t->t_warm_ns = lg_now_ns() - t0;
	fprintf(stderr, "loadgen: warm-up: %u/%u connections had every channel's warm-up"
	    " in %.1f s\n", t->warm, t->warm_ready, t->t_warm_ns / 1e9);
}

/* lg_run_phase - the measured phase; the storm's kill a third of the way in */
static void
lg_run_phase(const struct lg_cfg *cfg, struct lg_total *t, struct lg_child *ch)
{
	uint64_t end, kill_at;
	char cmd[64];

	t->t_go = lg_now_ns() + 200000000ull;
	snprintf(cmd, sizeof(cmd), "go %llu\n", (unsigned long long)t->t_go);
	lg_say(ch, cfg->procs, cmd);
	end = t->t_go + (uint64_t)cfg->duration_s * 1000000000ull;
	kill_at = t->t_go + (uint64_t)cfg->duration_s * 1000000000ull / 3;
	while (lg_now_ns() < end) {
		lg_pump(t, ch, cfg->procs, 50);
		if (strcmp(cfg->scenario, "storm") == 0 && t->t_kill == 0 &&
		    lg_now_ns() >= kill_at) {
			t->t_kill = lg_now_ns();
			lg_kill_list(cfg->kill_pids);
		}
	}
	t->t_end = lg_now_ns();
	t->rss_end = lg_rss_kb(cfg->server_pids);
	lg_say(ch, cfg->procs, "stop\n");
}

/* lg_pcts - {"n":..,"p50":..,...} in milliseconds */
static void
lg_pcts(FILE *f, const char *name, const struct lg_hist *h)
{
	fprintf(f, ",\"%s\":{\"n\":%llu,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,"
	    "\"p999\":%.3f,\"max\":%.3f}", name, (unsigned long long)h->count,
	    lg_hist_pct(h, 50) / 1e6, lg_hist_pct(h, 90) / 1e6, lg_hist_pct(h, 99) / 1e6,
	    lg_hist_pct(h, 99.9) / 1e6, (h->count ? h->max : 0) / 1e6);
}

/* lg_cmp_u64 - qsort ascending */
static int
lg_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* lg_write_bcast - rounds: received, expected, time until the last member had it */
static void
lg_write_bcast(FILE *f, const struct lg_cfg *cfg, const struct lg_total *t)
{
	uint64_t times[LG_MAX_ROUNDS];
	int n = 0;

	fputs(",\"broadcast\":{\"rounds\":[", f);
	for (int r = 1; r <= cfg->rounds && r < LG_MAX_ROUNDS; r++) {
		fprintf(f, "%s{\"received\":%llu,\"expected\":%d,\"time_to_all_ms\":%.3f}",
		    r > 1 ? "," : "", (unsigned long long)t->st.bc_n[r], cfg->conns,
		    t->st.bc_max[r] / 1e6);
		if (t->st.bc_n[r] >= (uint64_t)cfg->conns)
			times[n++] = t->st.bc_max[r];
	}
	qsort(times, (size_t)n, sizeof(times[0]), lg_cmp_u64);
	fprintf(f, "],\"complete_rounds\":%d,\"median_time_to_all_ms\":%.3f,"
	    "\"best_time_to_all_ms\":%.3f}", n, n ? times[n / 2] / 1e6 : -1.0,
	    n ? times[0] / 1e6 : -1.0);
}

/* lg_write_storm - kill time, reconnect curve, resumed vs resynced */
static void
lg_write_storm(FILE *f, const struct lg_total *t)
{
	int last = 0;

	for (int i = 0; i < LG_SERIES; i++)
		if (t->st.recon_series[i])
			last = i + 1;
	fprintf(f, ",\"storm\":{\"killed_at_ms\":%.1f,\"reconnects\":%llu,"
	    "\"all_back_ms\":%.1f,\"resumed\":%llu,\"resynced\":%llu,\"curve_100ms\":",
	    t->t_kill ? (t->t_kill - t->t_go) / 1e6 : -1.0,
	    (unsigned long long)t->st.reconnects,
	    t->t_kill && t->st.recon_done_max > t->t_kill ?
	    (t->st.recon_done_max - t->t_kill) / 1e6 : -1.0,
	    (unsigned long long)t->st.resumed, (unsigned long long)t->st.resynced);
	lg_report_arr(f, t->st.recon_series, (size_t)last);
	lg_pcts(f, "downtime_ms", &t->st.recon);
	fputc('}', f);
}

/* lg_write - the result object */
static void
lg_write(FILE *f, const struct lg_cfg *cfg, const struct lg_total *t)
{
	double secs = (t->t_end - t->t_go) / 1e9;
	uint64_t viol = t->ledger[1] + t->ledger[2] + t->ledger[3] + t->ledger[4];

	fprintf(f, "{\"label\":\"%s\",\"mode\":\"%s\",\"scenario\":\"%s\",\"conns\":%d,"
	    "\"procs\":%d,\"duration_s\":%.2f,\"rate\":%d,\"senders\":%d,\"channels\":%d,"
	    "\"large\":%d,\"large_share\":%.3f,\"settle_s\":%d,\"ready\":%u,\"rss_kb_before\":%ld,"
	    "\"rss_kb_connected\":%ld,\"rss_kb_end\":%ld,\"rss_per_conn_bytes\":%.0f",
	    cfg->label, cfg->mode, cfg->scenario, cfg->conns, cfg->procs, secs, cfg->rate,
	    cfg->senders, cfg->channels, cfg->large, cfg->large_share, cfg->settle_s, t->ready,
	    t->rss_before, t->rss_connected, t->rss_end,
	    t->ready && t->rss_before >= 0 ?
	    (double)(t->rss_connected - t->rss_before) * 1024.0 / t->ready : -1.0);
	fputs(",\"counters\":{", f);
	for (size_t i = 0; i < lg_ncounters; i++)
		fprintf(f, "%s\"%s\":%llu", i ? "," : "", lg_counters[i].name,
		    (unsigned long long)*LG_CTR_AT(&t->st, i));
	fputc('}', f);
	lg_report_nacks(f, &t->st);
	/* deliveries/s: those received during the measured phase only (the
	 * drain after it would inflate the rate); delivered counts the drain too */
	fprintf(f, ",\"deliveries_per_s\":%.0f,\"sends_per_s\":%.0f",
	    secs > 0 ? t->st.delivered_run / secs : 0, secs > 0 ? t->st.sent / secs : 0);
	fprintf(f, ",\"rss_aux_kb_before\":%ld,\"rss_aux_kb_connected\":%ld,"
	    "\"rss_aux_per_conn_bytes\":%.0f", t->aux_before, t->aux_connected,
	    t->ready && t->aux_before >= 0 ?
	    (double)(t->aux_connected - t->aux_before) * 1024.0 / t->ready : -1.0);
	if (t->warm_run)
		fprintf(f, ",\"warmup\":{\"complete\":%u,\"ready\":%u,\"ms\":%.1f,"
		    "\"sent\":%llu,\"acked\":%llu,\"nacked\":%llu,\"delivered\":%llu}",
		    t->warm, t->warm_ready, t->t_warm_ns / 1e6,
		    (unsigned long long)t->st.warm_sent, (unsigned long long)t->st.warm_acked,
		    (unsigned long long)t->st.warm_nacked,
		    (unsigned long long)t->st.warm_delivered);
	fprintf(f, ",\"ledger\":{\"ok\":%llu,\"gap\":%llu,\"duplicate\":%llu,\"reorder\":%llu,"
	    "\"foreign\":%llu,\"missing\":%llu,\"violations\":%llu}",
	    (unsigned long long)t->ledger[0], (unsigned long long)t->ledger[1],
	    (unsigned long long)t->ledger[2], (unsigned long long)t->ledger[3],
	    (unsigned long long)t->ledger[4], (unsigned long long)t->ledger[5],
	    (unsigned long long)viol);
	lg_pcts(f, "latency_ms", &t->st.lat);
	lg_pcts(f, "latency_slowphase_ms", &t->st.lat_slowphase);
	lg_pcts(f, "ack_ms", &t->st.ack);
	lg_pcts(f, "rtt_ms", &t->st.rtt);
	if (strcmp(cfg->scenario, "broadcast") == 0)
		lg_write_bcast(f, cfg, t);
	if (strcmp(cfg->scenario, "storm") == 0)
		lg_write_storm(f, t);
	fputs("}\n", f);
}

/* lg_coord_write - the result to stdout, and to cfg->out when set */
static int
lg_coord_write(const struct lg_cfg *cfg, const struct lg_total *t)
{
	FILE *f;

	lg_write(stdout, cfg, t);
	fflush(stdout);
	if (cfg->out == NULL)
		return 0;
	if ((f = fopen(cfg->out, "w")) == NULL) {
		fprintf(stderr, "loadgen: %s: %s\n", cfg->out, strerror(errno));
		return -1;
	}
	lg_write(f, cfg, t);
	return fclose(f) == 0 ? 0 : -1;
}

/* lg_coord_run - provision, spawn, connect, measure, merge, write */
int
lg_coord_run(const struct lg_cfg *cfg)
{
	static struct lg_child ch[LG_MAX_PROCS];
	static struct lg_total t;
	uint64_t deadline;
	int rv = 0;

	for (size_t i = 0; i < lg_nhists; i++)
		lg_hist_init(LG_HIST_AT(&t.st, i));
	if (strcmp(cfg->mode, "parley") == 0 && lg_http_provision(cfg, cfg->provision) < 0)
		return -1;
	t.rss_before = lg_rss_kb(cfg->server_pids);
	t.aux_before = lg_rss_kb(cfg->aux_pids);
	if (lg_spawn(cfg, ch) < 0)
		return -1;
	deadline = lg_now_ns() + (uint64_t)(cfg->connect_timeout_s + 30) * 1000000000ull;
	while (!lg_all(ch, cfg->procs, LG_SEEN_READY) && lg_now_ns() < deadline)
		lg_pump(&t, ch, cfg->procs, 100);
	fprintf(stderr, "loadgen: %u/%u connections ready\n", t.ready, (unsigned)cfg->conns);
	lg_warmup(cfg, &t, ch);
	/* the workers keep their sockets serviced while waiting for "go" */
	deadline = lg_now_ns() + (uint64_t)cfg->settle_s * 1000000000ull;
	while (lg_now_ns() < deadline)
		lg_pump(&t, ch, cfg->procs, 100);
	t.rss_connected = lg_rss_kb(cfg->server_pids);
	t.aux_connected = lg_rss_kb(cfg->aux_pids);
	lg_run_phase(cfg, &t, ch);
	deadline = lg_now_ns() + (uint64_t)(cfg->drain_ms + 30000) * 1000000ull;
	while (!lg_all(ch, cfg->procs, LG_SEEN_DONE) && lg_now_ns() < deadline)
		lg_pump(&t, ch, cfg->procs, 100);
	for (int i = 0; i < cfg->procs; i++) {
		if (!ch[i].done_seen) {
			kill(ch[i].pid, SIGKILL);
			rv = -1;
		}
		waitpid(ch[i].pid, NULL, 0);
	}
	return lg_coord_write(cfg, &t) < 0 ? -1 : rv;
}
