/*
 * loadgen - Parley's load generator: many WebSocket clients from a few
 * epoll processes, a scenario, a ledger of every delivery, one JSON result.
 *
 *   loadgen --mode parley|floor|socketio --scenario idle|broadcast|chat|storm|slow
 *           --port P [--conns N] [--procs W] ... (--help lists every option)
 */
#include "loadgen.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

enum { LG_OPT_STR, LG_OPT_INT, LG_OPT_DBL };

static struct lg_cfg lg_cfg = {
	.mode = "floor", .scenario = "idle", .host = "127.0.0.1", .label = "",
	.port = 0, .conns = 1000, .procs = 2, .nsrc = 8, .inflight = 256,
	.duration_s = 10, .connect_timeout_s = 60, .rate = 1000, .senders = 100,
	.channels = 200, .large = 2, .small_per_user = 2, .rounds = 5,
	.ping_ms = 10000, .large_share = 0.02, .slow_frac = 0.05, .drain_ms = 1000,
	.warmup_s = 60, .invite_batch = 1000,
};

static const struct {
	const char *name;
	int type;
	void *ptr;
	const char *help;
} lg_opts[] = {
	{ "mode", LG_OPT_STR, &lg_cfg.mode, "parley | floor | socketio" },
	{ "scenario", LG_OPT_STR, &lg_cfg.scenario, "idle | broadcast | chat | storm | slow" },
	{ "host", LG_OPT_STR, &lg_cfg.host, "server address (IPv4)" },
	{ "port", LG_OPT_INT, &lg_cfg.port, "server port" },
	{ "conns", LG_OPT_INT, &lg_cfg.conns, "connections (one user each)" },
	{ "procs", LG_OPT_INT, &lg_cfg.procs, "worker processes (<= 19,900 connections each)" },
	{ "sources", LG_OPT_INT, &lg_cfg.nsrc, "source addresses 127.0.0.2 ..." },
	{ "inflight", LG_OPT_INT, &lg_cfg.inflight, "handshakes in flight per worker" },
	{ "duration", LG_OPT_INT, &lg_cfg.duration_s, "seconds of the measured phase" },
	{ "connect-timeout", LG_OPT_INT, &lg_cfg.connect_timeout_s, "seconds to connect everyone" },
	{ "rate", LG_OPT_INT, &lg_cfg.rate, "chat: messages per second, all senders together" },
	{ "senders", LG_OPT_INT, &lg_cfg.senders, "chat: how many users send" },
	{ "channels", LG_OPT_INT, &lg_cfg.channels, "chat: channels (K)" },
	{ "large", LG_OPT_INT, &lg_cfg.large, "chat: how many of them are large" },
	{ "small-per-user", LG_OPT_INT, &lg_cfg.small_per_user, "chat: small channels per user" },
	{ "large-share", LG_OPT_DBL, &lg_cfg.large_share, "chat: share of sends to large channels" },
	{ "rounds", LG_OPT_INT, &lg_cfg.rounds, "broadcast: messages, spread evenly over the run" },
	{ "ping-ms", LG_OPT_INT, &lg_cfg.ping_ms, "heartbeat period per connection (0: none)" },
	{ "slow-frac", LG_OPT_DBL, &lg_cfg.slow_frac, "slow: share of clients that stop reading" },
	{ "drain-ms", LG_OPT_INT, &lg_cfg.drain_ms, "time to receive after the last send" },
	{ "settle", LG_OPT_INT, &lg_cfg.settle_s, "seconds between all connected and the measured phase" },
	{ "warmup", LG_OPT_INT, &lg_cfg.warmup_s, "seconds the warm-up message may take to reach everyone" },
	{ "server-pids", LG_OPT_STR, &lg_cfg.server_pids, "comma list: RSS of these is reported" },
	{ "aux-pids", LG_OPT_STR, &lg_cfg.aux_pids, "comma list: RSS reported apart (a redis-server)" },
	{ "kill-pids", LG_OPT_STR, &lg_cfg.kill_pids, "storm: SIGKILL these a third of the way in" },
	{ "admin-token", LG_OPT_STR, &lg_cfg.admin_token, "parley: PARLEY_ADMIN_TOKEN" },
	{ "invite-batch", LG_OPT_INT, &lg_cfg.invite_batch, "parley: users per conversations.invite (halved on failure)" },
	{ "provision", LG_OPT_STR, &lg_cfg.provision, "parley: where to write the user/channel map" },
	{ "label", LG_OPT_STR, &lg_cfg.label, "a name for the result" },
	{ "out", LG_OPT_STR, &lg_cfg.out, "write the JSON result here too" },
};

#define LG_NOPTS (sizeof(lg_opts) / sizeof(lg_opts[0]))

/* lg_usage - the option table */
static void
lg_usage(void)
{
	fprintf(stderr, "usage: loadgen [--option value]...\n");
	for (size_t i = 0; i < LG_NOPTS; i++)
		fprintf(stderr, "  --%-16s %s\n", lg_opts[i].name, lg_opts[i].help);
}

/* lg_set - one option; 0 or -1 */
static int
lg_set(const char *name, const char *val)
{
	for (size_t i = 0; i < LG_NOPTS; i++) {
		if (strcmp(lg_opts[i].name, name) != 0)
			continue;
		if (lg_opts[i].type == LG_OPT_STR)
			*(const char **)lg_opts[i].ptr = val;
		else if (lg_opts[i].type == LG_OPT_INT)
			*(int *)lg_opts[i].ptr = atoi(val);
		else
			*(double *)lg_opts[i].ptr = atof(val);
		return 0;
	}
	return -1;
}

/* lg_check - options that cannot work together */
static const char *
lg_check(const struct lg_cfg *c)
{
	if (lg_mode_find(c->mode) == NULL)
		return "unknown --mode";
	if (c->port <= 0 || c->conns <= 0 || c->procs <= 0 || c->procs > 64)
		return "--port, --conns and --procs (1..64) are needed";
	if (c->conns / c->procs > 19900)
		return "more than 19,900 connections per process: raise --procs";
	if (c->invite_batch < 1 || c->invite_batch > 1000)
		return "--invite-batch is 1..1000 (the most conversations.invite takes)";
	if (c->large >= c->channels && c->channels > 1)
		return "--large must be below --channels";
	if (strcmp(c->mode, "parley") == 0 && (c->admin_token == NULL || c->provision == NULL))
		return "parley needs --admin-token and --provision";
	return NULL;
}

int
main(int argc, char **argv)
{
	const char *err;

	for (int i = 1; i < argc; i += 2) {
		if (strcmp(argv[i], "--help") == 0 || i + 1 >= argc ||
		    strncmp(argv[i], "--", 2) != 0 || lg_set(argv[i] + 2, argv[i + 1]) < 0) {
			lg_usage();
			return 2;
		}
	}
	if ((err = lg_check(&lg_cfg)) != NULL) {
		fprintf(stderr, "loadgen: %s\n", err);
		return 2;
	}
	return lg_coord_run(&lg_cfg) == 0 ? 0 : 1;
}
