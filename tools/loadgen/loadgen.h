/*
 * loadgen.h - the load generator's private header: configuration, the
 * worker (one process, one epoll set, a contiguous range of users) and its
 * connections, and the modules that share them.
 *
 *   main.c      option table, then lg_coord_run()
 *   lg_coord.c  forks the workers, drives the phases over pipes, merges
 *               their JSON lines, prints and writes the result
 *   lg_net.c    the epoll engine: connect (bind to 127.0.0.x first),
 *               upgrade, read/parse frames, write, reconnect with backoff
 *   lg_mode.c   per protocol (parley, floor, socketio): the upgrade path,
 *               how to frame a send or a ping, how to unwrap what arrives;
 *               then one RTM-JSON handler for events, acks and pongs
 *   lg_scen.c   the channel layout and the scenarios' timers
 *   lg_http.c   provisioning of teams, users, channels over the Web API
 *   lg_report.c a worker's JSON lines up to the coordinator, and the
 *               counter/histogram tables both ends read them with
 *   lg_hist.c lg_ws.c lg_eio.c lg_ledger.c   the codecs and checkers
 */
#ifndef LOADGEN_H
#define LOADGEN_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "lg_hist.h"
#include "lg_ledger.h"

#define LG_MAX_ROUNDS 64
#define LG_SERIES 600                  /* 100 ms bins of the reconnect curve */
#define LG_PENDING 65536               /* in-flight sends per worker */
#define LG_NACK_CODES 6
#define LG_WARM_PENDING UINT32_MAX     /* pending[] of a warm-up send */

struct lg_cfg {
	const char *mode, *scenario, *host, *label, *out, *provision;
	const char *server_pids, *aux_pids, *kill_pids, *admin_token;
	int port, conns, procs, nsrc, inflight, duration_s, connect_timeout_s;
	int rate, senders, channels, large, small_per_user, rounds, ping_ms;
	double large_share, slow_frac;
	int drain_ms, settle_s, warmup_s, invite_batch;
};

enum { LG_C_IDLE, LG_C_BACKOFF, LG_C_CONNECTING, LG_C_UPGRADING, LG_C_OPEN,
	LG_C_READY, LG_C_DEAD };

/* per connection: 40 bytes plus buffers only while a frame is partial */
struct lg_conn {
	int fd;
	uint8_t state;
	uint8_t slow;
	uint8_t resumed;
	uint8_t attempts;
	uint32_t rlen, wlen;
	uint8_t *rbuf, *wbuf;
	uint32_t t_mark_ms;            /* backoff deadline */
	uint32_t t_down_ms;            /* when it last went down */
};

struct lg_chan {
	char name[24];
	uint32_t members;
	uint32_t first;                /* its lowest user: creator, warm-up sender */
};

struct lg_stats {
	uint64_t connected, connect_fail, ready, disconnects, reconnects;
	uint64_t sent, acked, nacked, expected, delivered, delivered_run, pongs;
	uint64_t resumed, resynced, closed_4008, slow_closed, proto_errors;
	uint64_t server_errors;
	uint64_t server_closes, eof_resets;   /* close frames; drops without one */
	uint64_t warm_sent, warm_acked, warm_nacked, warm_delivered;
	uint64_t bc_n[LG_MAX_ROUNDS], bc_max[LG_MAX_ROUNDS];
	uint64_t recon_series[LG_SERIES];
	uint64_t recon_done_max;       /* absolute ns of the last reconnect */
	char nack_code[LG_NACK_CODES][32];  /* codes of ok:false answers and error events */
	uint64_t nack_n[LG_NACK_CODES];
	struct lg_hist lat, lat_slowphase, ack, rtt, recon;
};

struct lg_mode;

struct lg_worker {
	const struct lg_cfg *cfg;
	const struct lg_mode *mode;
	int index, ep, ctl_fd, out_fd;
	uint32_t lo, hi;               /* users [lo, hi) */
	struct lg_conn *conns;
	uint32_t nchan;
	struct lg_chan *chans;
	char **tokens;                 /* parley: per user of this worker */
	struct lg_ledger ledger;
	struct lg_stats st;
	uint32_t pending[LG_PENDING];  /* id -> members of the channel sent to */
	uint64_t pending_t[LG_PENDING];
	uint32_t next_id;
	int phase;                     /* 0 connect, 1 run, 2 drain, 3 done */
	int slow_phase;                /* slow clients have stopped reading */
	uint32_t *senders, nsenders;   /* local indexes */
	uint64_t t_base, t_go, t_now;  /* start, measurement start, last poll */
	uint32_t handshaking, ready;
	uint8_t *warm_got;             /* per connection: warm-ups received (once each) */
	uint32_t warm_done;            /* connections that got one in every channel */
	uint64_t rng;
};

/* lg_net.c */
uint64_t lg_now_ns(void);
int lg_net_start(struct lg_worker *w, uint32_t local);
void lg_net_down(struct lg_worker *w, uint32_t local, int reconnect);
int lg_net_send_text(struct lg_worker *w, uint32_t local, const char *s, size_t n);
int lg_net_poll(struct lg_worker *w, int timeout_ms);
void lg_net_set_slow(struct lg_worker *w, uint32_t local, int slow);
uint32_t lg_rand(struct lg_worker *w, uint32_t n);

/* lg_mode.c */
struct lg_mode {
	const char *name;
	int (*path)(struct lg_worker *w, uint32_t local, char *out, size_t cap);
	/* frame one client request; id < 0 when none */
	int (*wrap)(char *out, size_t cap, const char *event, const char *json, long long id);
	int (*on_text)(struct lg_worker *w, uint32_t local, char *p, size_t n);
};
const struct lg_mode *lg_mode_find(const char *name);
void lg_mode_on_ready(struct lg_worker *w, uint32_t local);
int lg_mode_send_message(struct lg_worker *w, uint32_t local, uint32_t chan, uint32_t round);
int lg_mode_send_warmup(struct lg_worker *w, uint32_t local, uint32_t chan);
int lg_mode_send_ping(struct lg_worker *w, uint32_t local);
int lg_mode_on_json(struct lg_worker *w, uint32_t local, const char *js, size_t n);
int lg_mode_chan_index(struct lg_worker *w, const char *name, size_t len);
void lg_mode_count_nack(struct lg_stats *st, const char *code, size_t len, uint64_t n);

/* lg_scen.c */
int lg_scen_layout(const struct lg_cfg *cfg, uint32_t user, uint32_t *out, int cap);
void lg_scen_channels(const struct lg_cfg *cfg, struct lg_chan **chans_r, uint32_t *n_r);
int lg_scen_run(struct lg_worker *w);

/* lg_http.c */
int lg_http_provision(const struct lg_cfg *cfg, const char *path);
int lg_http_load(struct lg_worker *w, const char *path);

/* lg_report.c: a worker's lines up the pipe; the counter and histogram
 * tables of its "done" line, by name and offset in struct lg_stats */
struct lg_field {
	const char *name;
	size_t off;
};
extern const struct lg_field lg_counters[], lg_hists[];
extern const size_t lg_ncounters, lg_nhists;
#define LG_NELEM(a) (sizeof(a) / sizeof((a)[0]))
#define LG_CTR_AT(st, i) ((uint64_t *)((char *)(st) + lg_counters[i].off))
#define LG_HIST_AT(st, i) ((struct lg_hist *)((char *)(st) + lg_hists[i].off))
int lg_worker_report(struct lg_worker *w);
void lg_report_arr(FILE *f, const uint64_t *v, size_t n);
void lg_report_nacks(FILE *f, const struct lg_stats *st);
void lg_worker_line(struct lg_worker *w, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* lg_coord.c */
int lg_coord_run(const struct lg_cfg *cfg);

#endif
