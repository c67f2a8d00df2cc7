/* daemon.c - the skeleton every libevent daemon plugs into.
 *
 * Order: config, logging, SIGPIPE, event base and pl_loop, signal events,
 * ops HTTP (so /healthz answers while init connects), init, loop; then in
 * reverse: fini, ops, signals, pl_loop, event base. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>

#include "daemon.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "ops.h"

struct pl_daemon_common pl_daemon_conf;

static const struct pl_config_entry pl_daemon_common_table[] = {
	{ "log-level", "PARLEY_LOG_LEVEL", PL_CONF_STR, "info",
	  &pl_daemon_conf.log_level, 0, 0, "debug, info, warn or error", 0 },
	{ "ops-addr", "PARLEY_OPS_ADDR", PL_CONF_STR, NULL,
	  &pl_daemon_conf.ops_addr, 0, 0,
	  "host:port of /healthz, /readyz, /metrics (port 0: any free port)", 0 },
	{ "ops-port-file", "PARLEY_OPS_PORT_FILE", PL_CONF_STR, NULL,
	  &pl_daemon_conf.ops_port_file, 0, 0,
	  "write the bound ops port here (tmp + rename)", 0 },
	{ "drain-ms", "PARLEY_DRAIN_MS", PL_CONF_INT, "5000",
	  &pl_daemon_conf.drain_ms, 0, 600000,
	  "how long SIGTERM may drain before the loop stops", 0 },
	PL_CONFIG_END
};

/* the running daemon: one per process */
static struct {
	const struct pl_daemon *d;
	struct event_base *base;
	struct event *sig[3];
	struct event *drain_timer;
	int draining;
} pl_daemon;

/* pl_daemon_stop - end the loop now */
void
pl_daemon_stop(void)
{
	if (pl_daemon.base)
		event_base_loopbreak(pl_daemon.base);
}

int
pl_daemon_draining(void)
{
	return pl_daemon.draining;
}

/* pl_daemon_drain_timeout - drain-ms passed: stop whatever is left */
static void
pl_daemon_drain_timeout(evutil_socket_t fd, short what, void *arg)
{
	pl_log_info("DAEMON-DRAIN-TIMEOUT", "drain_ms=%lld",
	    (long long)pl_daemon_conf.drain_ms);
	pl_daemon_stop();
}

/* pl_daemon_on_term - first SIGTERM/SIGINT drains, a second stops at once */
static void
pl_daemon_on_term(evutil_socket_t sig, short what, void *arg)
{
	struct timeval tv;

	if (pl_daemon.draining) {
		pl_log_info("DAEMON-STOP-NOW", "signal=%d", (int)sig);
		pl_daemon_stop();
		return;
	}
	pl_daemon.draining = 1;
	pl_log_info("DAEMON-DRAIN", "signal=%d drain_ms=%lld", (int)sig,
	    (long long)pl_daemon_conf.drain_ms);
	pl_ops_set_draining(1);
	tv.tv_sec = (time_t)(pl_daemon_conf.drain_ms / 1000);
	tv.tv_usec = (suseconds_t)(pl_daemon_conf.drain_ms % 1000) * 1000;
	pl_daemon.drain_timer = evtimer_new(pl_daemon.base, pl_daemon_drain_timeout, NULL);
	if (pl_daemon.drain_timer == NULL || evtimer_add(pl_daemon.drain_timer, &tv) != 0)
		pl_daemon_stop();
	if (pl_daemon.d->drain)
		pl_daemon.d->drain();
}

/* pl_daemon_on_hup - reopen the log file */
static void
pl_daemon_on_hup(evutil_socket_t sig, short what, void *arg)
{
	pl_log_reopen();
	pl_log_info("DAEMON-LOG-REOPEN", "signal=%d", (int)sig);
}

static const struct {
	int sig;
	event_callback_fn fn;
} pl_daemon_signals[3] = {
	{ SIGTERM, pl_daemon_on_term },
	{ SIGINT, pl_daemon_on_term },
	{ SIGHUP, pl_daemon_on_hup },
};

/* pl_daemon_signals_start - signal events on the base */
static int
pl_daemon_signals_start(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		pl_daemon.sig[i] = evsignal_new(pl_daemon.base, pl_daemon_signals[i].sig,
		    pl_daemon_signals[i].fn, NULL);
		if (pl_daemon.sig[i] == NULL || evsignal_add(pl_daemon.sig[i], NULL) != 0)
			return PL_EIO;
	}
	return 0;
}

/* pl_daemon_signals_stop - free the signal events and the drain timer */
static void
pl_daemon_signals_stop(void)
{
	int i;

	for (i = 0; i < 3; i++) {
		if (pl_daemon.sig[i])
			event_free(pl_daemon.sig[i]);
		pl_daemon.sig[i] = NULL;
	}
	if (pl_daemon.drain_timer)
		event_free(pl_daemon.drain_timer);
	pl_daemon.drain_timer = NULL;
}

#define PL_DAEMON_MAX_TABLES 8

/* pl_daemon_config - common table, shared tables, then the daemon's own */
static void
pl_daemon_config(const struct pl_daemon *d, int argc, char **argv)
{
	static const struct pl_config_entry empty[] = { PL_CONFIG_END };
	struct pl_config_entry common[sizeof(pl_daemon_common_table) /
	    sizeof(pl_daemon_common_table[0])];
	const struct pl_config_entry *tables[PL_DAEMON_MAX_TABLES + 3];
	int n = 0, i;

	memcpy(common, pl_daemon_common_table, sizeof(common));
	common[1].def = d->ops_addr_default;
	tables[n++] = common;
	for (i = 0; d->shared_config && d->shared_config[i] &&
	    i < PL_DAEMON_MAX_TABLES; i++)
		tables[n++] = d->shared_config[i];
	tables[n++] = d->config ? d->config : empty;
	tables[n] = NULL;
	pl_config_load(d->name, d->summary, tables, argc, argv);
}

/* pl_daemon_main - run a daemon; returns its exit status */
int
pl_daemon_main(const struct pl_daemon *d, int argc, char **argv)
{
	struct pl_ops_http *ops = NULL;
	struct pl_loop *loop = NULL;
	int rv, status = 1;

	pl_daemon_config(d, argc, argv);
	if (pl_log_init(d->name, pl_daemon_conf.log_level) != 0)
		pl_fatal("DAEMON-CONFIG", "bad log_level=%s", pl_daemon_conf.log_level);
	signal(SIGPIPE, SIG_IGN);
	pl_daemon.d = d;
	if ((pl_daemon.base = event_base_new()) == NULL)
		pl_fatal("DAEMON-INIT-FAIL", "what=event_base_new");
	if ((loop = pl_loop_event_create(pl_daemon.base)) == NULL)
		pl_fatal("DAEMON-INIT-FAIL", "what=pl_loop_event_create");
	if (pl_daemon_signals_start() != 0) {
		pl_log_error("DAEMON-INIT-FAIL", "what=signals");
		goto out;
	}
	if ((rv = pl_ops_http_start(pl_daemon.base, pl_daemon_conf.ops_addr,
	    pl_daemon_conf.ops_port_file, &ops)) != 0) {
		pl_log_error("DAEMON-INIT-FAIL", "what=ops_http addr=%s err=%s",
		    pl_daemon_conf.ops_addr, pl_err_str(rv));
		goto out;
	}
	if (d->init && (rv = d->init(pl_daemon.base, loop)) != 0) {
		pl_log_error("DAEMON-INIT-FAIL", "what=init err=%s", pl_err_str(rv));
		goto out_fini;
	}
	pl_log_info("DAEMON-START", "pid=%d ops_port=%d", (int)getpid(),
	    pl_ops_http_port(ops));
	event_base_dispatch(pl_daemon.base);
	status = 0;
	pl_log_info("DAEMON-STOP", "draining=%d", pl_daemon.draining);
out_fini:
	/* fini undoes whatever part of init succeeded */
	if (d->fini)
		d->fini();
out:
	pl_ops_http_stop(&ops);
	pl_daemon_signals_stop();
	pl_loop_free(&loop);
	event_base_free(pl_daemon.base);
	pl_daemon.base = NULL;
	return status;
}
