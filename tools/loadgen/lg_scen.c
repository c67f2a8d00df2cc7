/*
 * lg_scen.c - who is in which channel, and what the worker does each tick.
 *
 * Layout: scenario broadcast puts every user in channel 0; --channels 0
 * means no channels at all (idle runs need none). The others use
 * K channels, L of them large: user u is in large channel u % L and in
 * `small_per_user` small channels (u * s + j) % (K - L), so small channels
 * hold about N * s / (K - L) consecutive users. Senders are every
 * (N / senders)-th user; a send goes to the sender's large channel with
 * probability large_share, else to one of its small channels.
 *
 * Phases (commands from the coordinator on the control pipe):
 *   connect -> "ready" line -> ["warm" -> warm-up -> "warm" line] ->
 *   "go <t0 ns>" -> run -> "stop" -> drain -> report
 *
 * Warm-up (every run with channels): the lowest member of each channel
 * sends one message "w.<ns>" to it once everyone is connected; a worker
 * says "warm" when each of its ready connections has had the warm-up of
 * every one of its channels (or at the coordinator's deadline). So nothing
 * of the provisioning (channel_join events) is still in flight when the
 * measured phase starts, and every ledger slot has its base seq. Warm-up
 * sends, acks and deliveries are counted apart (warm_*), not in the figures.
 */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define LG_SCEN_MAX_CHANS 64

/* lg_scen_is_bcast - a single channel of everyone */
static int
lg_scen_is_bcast(const struct lg_cfg *cfg)
{
	return strcmp(cfg->scenario, "broadcast") == 0;
}

/* lg_scen_layout - the channels of user; their count */
int
lg_scen_layout(const struct lg_cfg *cfg, uint32_t user, uint32_t *out, int cap)
{
	uint32_t large = (uint32_t)cfg->large, small = (uint32_t)(cfg->channels - cfg->large);
	int n = 0;

	if (lg_scen_is_bcast(cfg) || cfg->channels == 1) {
		out[0] = 0;
		return 1;
	}
	if (cfg->channels <= 0)
		return 0;                       /* users only (an idle run) */
	if (large > 0)
		out[n++] = user % large;
	for (int j = 0; j < cfg->small_per_user && n < cap && small > 0; j++) {
		uint32_t k = large + (user * (uint32_t)cfg->small_per_user + (uint32_t)j) % small;

		if (n == 0 || out[n - 1] != k)
			out[n++] = k;
	}
	return n;
}

/* lg_scen_channels - names c<k> and member counts of every channel */
void
lg_scen_channels(const struct lg_cfg *cfg, struct lg_chan **chans_r, uint32_t *n_r)
{
	uint32_t n = lg_scen_is_bcast(cfg) ? 1 : (uint32_t)(cfg->channels > 0 ? cfg->channels : 0);
	struct lg_chan *ch = calloc(n + 1, sizeof(*ch));
	uint32_t mine[LG_SCEN_MAX_CHANS];

	if (ch == NULL)
		abort();
	for (uint32_t k = 0; k < n; k++)
		snprintf(ch[k].name, sizeof(ch[k].name), "c%u", k);
	for (uint32_t u = 0; u < (uint32_t)cfg->conns; u++) {
		int m = lg_scen_layout(cfg, u, mine, LG_SCEN_MAX_CHANS);

		for (int i = 0; i < m; i++)
			if (ch[mine[i]].members++ == 0)
				ch[mine[i]].first = u;
	}
	*chans_r = ch;
	*n_r = n;
}

/* lg_scen_setup - ledger slots and the sender list of this worker */
static void
lg_scen_setup(struct lg_worker *w)
{
	uint32_t count = w->hi - w->lo, mine[LG_SCEN_MAX_CHANS];
	uint32_t stride = w->cfg->senders > 0 ? (uint32_t)(w->cfg->conns / w->cfg->senders) : 0;

	lg_ledger_init(&w->ledger, count, count * (uint32_t)(w->cfg->small_per_user + 2));
	w->senders = calloc(count + 1, sizeof(*w->senders));
	w->warm_got = calloc(count + 1, 1);
	if (w->senders == NULL || w->warm_got == NULL)
		abort();
	for (uint32_t l = 0; l < count; l++) {
		int m = lg_scen_layout(w->cfg, w->lo + l, mine, LG_SCEN_MAX_CHANS);

		for (int i = 0; i < m; i++) {
			lg_ledger_add(&w->ledger, l, mine[i]);
			lg_ledger_any(&w->ledger, l, mine[i]);
		}
		if (stride > 0 && (w->lo + l) % stride == 0)
			w->senders[w->nsenders++] = l;
		w->conns[l].fd = -1;
	}
}

/* lg_scen_ctl - the next command line from the coordinator, or "" */
static void
lg_scen_ctl(struct lg_worker *w, char *cmd, size_t cap)
{
	static char buf[512];
	static size_t len;
	char *nl;
	ssize_t n;

	if (memchr(buf, '\n', len) == NULL && len < sizeof(buf)) {
		n = read(w->ctl_fd, buf + len, sizeof(buf) - len);
		if (n == 0) {
			snprintf(cmd, cap, "stop");     /* the coordinator went away */
			return;
		}
		len += n > 0 ? (size_t)n : 0;
	}
	cmd[0] = '\0';
	if ((nl = memchr(buf, '\n', len)) == NULL)
		return;
	*nl = '\0';
	memcpy(cmd, buf, (size_t)(nl - buf) < cap ? (size_t)(nl - buf) + 1 : cap);
	cmd[cap - 1] = '\0';
	len -= (size_t)(nl + 1 - buf);
	memmove(buf, nl + 1, len);
}

/* lg_scen_dial - start idle and due backed-off connections, within the inflight budget */
static void
lg_scen_dial(struct lg_worker *w)
{
	static uint64_t last;
	uint32_t count = w->hi - w->lo;
	uint32_t now_ms = (uint32_t)((w->t_now - w->t_base) / 1000000ull);

	if (w->phase > 0 && w->t_now - last < 5000000ull)
		return;                         /* reconnects: a scan per 5 ms is plenty */
	last = w->t_now;
	for (uint32_t l = 0; l < count && w->handshaking < (uint32_t)w->cfg->inflight; l++) {
		struct lg_conn *c = &w->conns[l];

		if (c->state == LG_C_IDLE ||
		    (c->state == LG_C_BACKOFF && (int32_t)(now_ms - c->t_mark_ms) >= 0))
			lg_net_start(w, l);
	}
}

/* lg_scen_connect - phase 0: open everything, then say so */
static void
lg_scen_connect(struct lg_worker *w)
{
	uint32_t count = w->hi - w->lo;
	uint64_t deadline = w->t_base + (uint64_t)w->cfg->connect_timeout_s * 1000000000ull;

	while (w->ready < count && w->t_now < deadline) {
		lg_scen_dial(w);
		lg_net_poll(w, 2);
	}
	lg_worker_line(w, "{\"ev\":\"ready\",\"w\":%d,\"ready\":%u,\"count\":%u,"
	    "\"fail\":%llu}", w->index, w->ready, count,
	    (unsigned long long)w->st.connect_fail);
}

/* lg_scen_pings - heartbeats: each ready connection once per ping_ms */
static void
lg_scen_pings(struct lg_worker *w, uint64_t *done, uint32_t *cursor)
{
	uint32_t count = w->hi - w->lo;
	uint64_t due;

	if (w->cfg->ping_ms <= 0 || count == 0)
		return;
	due = (w->t_now - w->t_go) / 1000000ull * count / (uint64_t)w->cfg->ping_ms;
	for (; *done < due; (*done)++, *cursor = (*cursor + 1) % count)
		if (w->conns[*cursor].state == LG_C_READY && !w->conns[*cursor].slow)
			lg_mode_send_ping(w, *cursor);
}

/* lg_scen_pick - the channel a sender writes to */
static uint32_t
lg_scen_pick(struct lg_worker *w, uint32_t local)
{
	const struct lg_ledger *l = &w->ledger;
	uint32_t first = l->first[local], n = l->first[local + 1] - first;

	if (n <= 1 || w->cfg->large == 0 ||
	    lg_rand(w, 1000000) < (uint32_t)(w->cfg->large_share * 1000000))
		return l->slots[first].chan;
	return l->slots[first + 1 + lg_rand(w, n - 1)].chan;
}

/* lg_scen_chat - sends at this worker's share of the rate */
static void
lg_scen_chat(struct lg_worker *w, uint64_t *done)
{
	double per_worker = (double)w->cfg->rate / w->cfg->procs;
	uint64_t due = (uint64_t)((double)(w->t_now - w->t_go) / 1e9 * per_worker);

	if (w->nsenders == 0)
		return;
	for (; *done < due; (*done)++) {
		uint32_t l = w->senders[lg_rand(w, w->nsenders)];

		if (w->conns[l].state == LG_C_READY)
			lg_mode_send_message(w, l, lg_scen_pick(w, l), 0);
	}
}

/* lg_scen_bcast - worker 0's first user sends round r at r/(rounds+1) of the run */
static void
lg_scen_bcast(struct lg_worker *w, uint32_t *round)
{
	uint64_t at = (uint64_t)(*round + 1) * (uint64_t)w->cfg->duration_s * 1000000000ull /
	    (uint64_t)(w->cfg->rounds + 1);

	if (w->index != 0 || *round + 1 > (uint32_t)w->cfg->rounds ||
	    *round + 1 >= LG_MAX_ROUNDS || w->t_now - w->t_go < at)
		return;
	(*round)++;
	if (w->conns[0].state == LG_C_READY)
		lg_mode_send_message(w, 0, 0, *round);
}

/* lg_scen_slow - half way through, every 1/slow_frac-th non-sender stops reading */
static void
lg_scen_slow(struct lg_worker *w)
{
	uint32_t count = w->hi - w->lo, every;

	if (w->slow_phase || w->cfg->slow_frac <= 0 ||
	    w->t_now - w->t_go < (uint64_t)w->cfg->duration_s * 500000000ull)
		return;
	w->slow_phase = 1;
	every = (uint32_t)(1.0 / w->cfg->slow_frac);
	for (uint32_t l = 1; l < count; l += every ? every : 1)
		if (w->cfg->senders == 0 || (w->lo + l) % (uint32_t)(w->cfg->conns / w->cfg->senders) != 0)
			lg_net_set_slow(w, l, 1);
}

/* lg_scen_tick - one pass of the run phase */
static void
lg_scen_tick(struct lg_worker *w, uint64_t *pings, uint32_t *cursor,
    uint64_t *sends, uint32_t *round)
{
	const char *s = w->cfg->scenario;

	lg_scen_pings(w, pings, cursor);
	if (strcmp(s, "broadcast") == 0)
		lg_scen_bcast(w, round);
	else if (strcmp(s, "idle") != 0)
		lg_scen_chat(w, sends);
	if (strcmp(s, "slow") == 0)
		lg_scen_slow(w);
	lg_scen_dial(w);
}

/* lg_scen_warm_send - the warm-up of each channel whose lowest member is ours */
static void
lg_scen_warm_send(struct lg_worker *w)
{
	for (uint32_t k = 0; k < w->nchan; k++) {
		uint32_t u = w->chans[k].first;

		if (w->chans[k].members == 0 || u < w->lo || u >= w->hi ||
		    w->conns[u - w->lo].state != LG_C_READY)
			continue;
		lg_mode_send_warmup(w, u - w->lo, k);
	}
}

/* lg_scen_warm_line - say how far the warm-up got */
static void
lg_scen_warm_line(struct lg_worker *w)
{
	lg_worker_line(w, "{\"ev\":\"warm\",\"w\":%d,\"warm\":%u,\"ready\":%u,"
	    "\"sent\":%llu,\"nacked\":%llu}", w->index, w->warm_done, w->ready,
	    (unsigned long long)w->st.warm_sent, (unsigned long long)w->st.warm_nacked);
}

/* lg_scen_wait_go - keep the connections serviced (and warm them up) until "go <t0>" */
static int
lg_scen_wait_go(struct lg_worker *w)
{
	char cmd[128];
	unsigned long long t0;
	int warming = 0;

	for (;;) {
		lg_net_poll(w, 10);
		if (warming && w->warm_done >= w->ready) {
			lg_scen_warm_line(w);
			warming = 0;
		}
		lg_scen_ctl(w, cmd, sizeof(cmd));
		if (strncmp(cmd, "stop", 4) == 0)
			return -1;
		if (strncmp(cmd, "warm", 4) == 0) {
			lg_scen_warm_send(w);
			warming = 1;
		} else if (strncmp(cmd, "late", 4) == 0 && warming) {
			lg_scen_warm_line(w);   /* the deadline: say how far it got */
			warming = 0;
		}
		if (sscanf(cmd, "go %llu", &t0) == 1) {
			w->t_go = t0;
			return 0;
		}
	}
}

/* lg_scen_run - the whole life of a worker */
int
lg_scen_run(struct lg_worker *w)
{
	uint64_t pings = 0, sends = 0, drain_end;
	uint32_t cursor = 0, round = 0;
	char cmd[128];

	lg_scen_setup(w);
	w->t_base = w->t_now = lg_now_ns();
	lg_scen_connect(w);
	if (lg_scen_wait_go(w) == 0) {
		w->phase = 1;
		for (cmd[0] = '\0'; strncmp(cmd, "stop", 4) != 0;) {
			lg_net_poll(w, 1);
			if (w->t_now >= w->t_go)
				lg_scen_tick(w, &pings, &cursor, &sends, &round);
			lg_scen_ctl(w, cmd, sizeof(cmd));
		}
	}
	w->phase = 2;
	drain_end = lg_now_ns() + (uint64_t)w->cfg->drain_ms * 1000000ull;
	while (w->t_now < drain_end)
		lg_net_poll(w, 5);
	return lg_worker_report(w);
}
