/* daemon.c - the skeleton every daemon plugs into, on libevent or libuv.
 *
 * Order: config, logging, SIGPIPE, the loop (event base or uv loop) and its
 * pl_loop, signal watchers, ops HTTP (bound before init dials anything),
 * init, the ops port file, loop; then in reverse: fini, ops, signals and
 * the drain timer, pl_loop, the loop. The two loops differ only in the
 * pl_daemon_ev_* and pl_daemon_uv_* functions below and in where teardown
 * runs: libevent's loop breaks and teardown follows it; on libuv teardown
 * runs inside the loop (from a 0 ms timer, never inside the callback that
 * asked for the stop) and closes the skeleton's handles, and the loop then
 * runs dry: a foreign-loop library such as lws finishes destroying its
 * context only in close callbacks the running loop delivers. */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <event2/event.h>
#include <uv.h>

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

/* the signals the skeleton handles */
#define PL_DAEMON_NSIG 3
static const int pl_daemon_signum[PL_DAEMON_NSIG] = { SIGTERM, SIGINT, SIGHUP };

/* the running daemon: one per process */
static struct {
	const struct pl_daemon *d;
	struct pl_loop *loop;
	struct pl_timer *drain_timer;
	int draining;
	int init_called;	/* fini is due */
	int fini_called;	/* fini_after_run is due */
	int started;		/* DAEMON-START was logged */
	int stopped;		/* teardown began (libuv: is scheduled) */
	/* libevent */
	struct event_base *base;
	struct event *sig[PL_DAEMON_NSIG];
	struct pl_ops_http *ops_http;
	/* libuv */
	uv_loop_t *uv;
	uv_signal_t uv_sig[PL_DAEMON_NSIG];
	int uv_sig_init;
	uv_timer_t uv_stop_timer;
	struct pl_ops_uv *ops_uv;
} pl_daemon;

static void pl_daemon_uv_teardown(uv_timer_t *t);

/* pl_daemon_stop - end the loop now (libuv: teardown on the next turn) */
void
pl_daemon_stop(void)
{
	if (pl_daemon.stopped)
		return;
	if (pl_daemon.base)
		event_base_loopbreak(pl_daemon.base);
	if (pl_daemon.uv) {
		pl_daemon.stopped = 1;
		uv_timer_start(&pl_daemon.uv_stop_timer, pl_daemon_uv_teardown, 0, 0);
	}
}

int
pl_daemon_draining(void)
{
	return pl_daemon.draining;
}

/* pl_daemon_fini - the daemon's fini, when its init was called (fini undoes
 * whatever part of init succeeded) */
static void
pl_daemon_fini(void)
{
	if (pl_daemon.started)
		pl_log_info("DAEMON-STOP", "draining=%d", pl_daemon.draining);
	if (pl_daemon.init_called && pl_daemon.d->fini) {
		pl_daemon.d->fini();
		pl_daemon.fini_called = 1;
	}
	pl_daemon.init_called = 0;
}

/* pl_daemon_drain_timeout - drain-ms passed: stop whatever is left */
static void
pl_daemon_drain_timeout(void *arg)
{
	pl_log_info("DAEMON-DRAIN-TIMEOUT", "drain_ms=%lld",
	    (long long)pl_daemon_conf.drain_ms);
	pl_daemon_stop();
}

/* pl_daemon_on_signal - first SIGTERM/SIGINT drains, a second stops at
 * once; SIGHUP reopens the log file */
static void
pl_daemon_on_signal(int sig)
{
	if (sig == SIGHUP) {
		pl_log_reopen();
		pl_log_info("DAEMON-LOG-REOPEN", "signal=%d", sig);
		return;
	}
	if (pl_daemon.draining) {
		pl_log_info("DAEMON-STOP-NOW", "signal=%d", sig);
		pl_daemon_stop();
		return;
	}
	pl_daemon.draining = 1;
	pl_log_info("DAEMON-DRAIN", "signal=%d drain_ms=%lld", sig,
	    (long long)pl_daemon_conf.drain_ms);
	pl_ops_set_draining(1);
	if (pl_loop_timer(pl_daemon.loop, (uint64_t)pl_daemon_conf.drain_ms, 0,
	    pl_daemon_drain_timeout, NULL, &pl_daemon.drain_timer) != 0)
		pl_daemon_stop();
	if (pl_daemon.d->drain)
		pl_daemon.d->drain();
}

/* pl_daemon_ops_fail - the ops port could not be opened */
static void
pl_daemon_ops_fail(int rv)
{
	pl_log_error("DAEMON-INIT-FAIL", "what=ops_http addr=%s err=%s",
	    pl_daemon_conf.ops_addr, pl_err_str(rv));
}

/* ---- libevent */

/* pl_daemon_ev_signal - a signal event fired */
static void
pl_daemon_ev_signal(evutil_socket_t sig, short what, void *arg)
{
	pl_daemon_on_signal((int)sig);
}

/* pl_daemon_ev_start - event base, pl_loop, signal events, ops HTTP */
static int
pl_daemon_ev_start(void)
{
	int rv, i;

	if ((pl_daemon.base = event_base_new()) == NULL)
		pl_fatal("DAEMON-INIT-FAIL", "what=event_base_new");
	if ((pl_daemon.loop = pl_loop_event_create(pl_daemon.base)) == NULL)
		pl_fatal("DAEMON-INIT-FAIL", "what=pl_loop_event_create");
	for (i = 0; i < PL_DAEMON_NSIG; i++) {
		pl_daemon.sig[i] = evsignal_new(pl_daemon.base, pl_daemon_signum[i],
		    pl_daemon_ev_signal, NULL);
		if (pl_daemon.sig[i] == NULL || evsignal_add(pl_daemon.sig[i], NULL) != 0) {
			pl_log_error("DAEMON-INIT-FAIL", "what=signals");
			return PL_EIO;
		}
	}
	if ((rv = pl_ops_http_start(pl_daemon.base, pl_daemon_conf.ops_addr, NULL,
	    &pl_daemon.ops_http)) != 0)
		pl_daemon_ops_fail(rv);
	return rv;
}

/* pl_daemon_ev_stop - ops, signals, pl_loop, event base */
static void
pl_daemon_ev_stop(void)
{
	int i;

	pl_ops_http_stop(&pl_daemon.ops_http);
	for (i = 0; i < PL_DAEMON_NSIG; i++) {
		if (pl_daemon.sig[i])
			event_free(pl_daemon.sig[i]);
		pl_daemon.sig[i] = NULL;
	}
	pl_loop_timer_stop(&pl_daemon.drain_timer);
	pl_loop_free(&pl_daemon.loop);
	event_base_free(pl_daemon.base);
	pl_daemon.base = NULL;
}

/* ---- libuv */

/* pl_daemon_uv_signal - a uv signal watcher fired */
static void
pl_daemon_uv_signal(uv_signal_t *h, int sig)
{
	pl_daemon_on_signal(sig);
}

/* pl_daemon_uv_start - uv loop, the stop timer, pl_loop, signal watchers,
 * ops HTTP */
static int
pl_daemon_uv_start(void)
{
	static uv_loop_t uv;
	int rv, i;

	if (uv_loop_init(&uv) != 0)
		pl_fatal("DAEMON-INIT-FAIL", "what=uv_loop_init");
	uv_timer_init(&uv, &pl_daemon.uv_stop_timer);
	pl_daemon.uv = &uv;
	if ((pl_daemon.loop = pl_loop_uv_create(&uv)) == NULL)
		pl_fatal("DAEMON-INIT-FAIL", "what=pl_loop_uv_create");
	for (i = 0; i < PL_DAEMON_NSIG; i++) {
		uv_signal_init(&uv, &pl_daemon.uv_sig[i]);
		pl_daemon.uv_sig_init = i + 1;
		if (uv_signal_start(&pl_daemon.uv_sig[i], pl_daemon_uv_signal,
		    pl_daemon_signum[i]) != 0) {
			pl_log_error("DAEMON-INIT-FAIL", "what=signals");
			return PL_EIO;
		}
	}
	if ((rv = pl_ops_uv_start(&uv, pl_daemon_conf.ops_addr, NULL,
	    &pl_daemon.ops_uv)) != 0)
		pl_daemon_ops_fail(rv);
	return rv;
}

/* pl_daemon_uv_teardown - on the loop: fini, then close ops, signals, the
 * drain timer and this timer; the loop runs dry after their callbacks */
static void
pl_daemon_uv_teardown(uv_timer_t *t)
{
	int i;

	pl_daemon_fini();
	pl_ops_uv_stop(&pl_daemon.ops_uv);
	for (i = 0; i < pl_daemon.uv_sig_init; i++)
		uv_close((uv_handle_t *)&pl_daemon.uv_sig[i], NULL);
	pl_daemon.uv_sig_init = 0;
	pl_loop_timer_stop(&pl_daemon.drain_timer);
	uv_close((uv_handle_t *)&pl_daemon.uv_stop_timer, NULL);
}

/* pl_daemon_uv_run - run until teardown has run and every handle closed
 * (a failed start tears down at once), then free pl_loop and the loop */
static void
pl_daemon_uv_run(int failed)
{
	if (failed)
		pl_daemon_stop();
	uv_run(pl_daemon.uv, UV_RUN_DEFAULT);
	if (pl_daemon.fini_called && pl_daemon.d->fini_after_run)
		pl_daemon.d->fini_after_run();
	pl_loop_free(&pl_daemon.loop);
	if (uv_loop_close(pl_daemon.uv) != 0)
		pl_log_warn("DAEMON-UV-CLOSE", "handles still open");
	pl_daemon.uv = NULL;
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

/* pl_daemon_ops_port - the bound ops port */
static int
pl_daemon_ops_port(void)
{
	if (pl_daemon.ops_uv)
		return pl_ops_uv_port(pl_daemon.ops_uv);
	return pl_daemon.ops_http ? pl_ops_http_port(pl_daemon.ops_http) : 0;
}

/* pl_daemon_init - the daemon's init, then the ops port file */
static int
pl_daemon_init(const struct pl_daemon *d)
{
	int rv = 0;

	pl_daemon.init_called = 1;
	if (d->init_uv)
		rv = d->init_uv(pl_daemon.uv, pl_daemon.loop);
	else if (d->init)
		rv = d->init(pl_daemon.base, pl_daemon.loop);
	if (rv != 0) {
		pl_log_error("DAEMON-INIT-FAIL", "what=init err=%s", pl_err_str(rv));
		return rv;
	}
	if (pl_daemon_conf.ops_port_file && *pl_daemon_conf.ops_port_file &&
	    (rv = pl_write_port_file(pl_daemon_conf.ops_port_file,
	    pl_daemon_ops_port())) != 0) {
		pl_log_error("DAEMON-INIT-FAIL", "what=ops_port_file path=%s err=%s",
		    pl_daemon_conf.ops_port_file, pl_err_str(rv));
		return rv;
	}
	pl_daemon.started = 1;
	pl_log_info("DAEMON-START", "pid=%d ops_port=%d loop=%s", (int)getpid(),
	    pl_daemon_ops_port(), d->init_uv ? "libuv" : "libevent");
	return 0;
}

/* pl_daemon_main - run a daemon; returns its exit status */
int
pl_daemon_main(const struct pl_daemon *d, int argc, char **argv)
{
	int rv;

	pl_daemon_config(d, argc, argv);
	if (pl_log_init(d->name, pl_daemon_conf.log_level) != 0)
		pl_fatal("DAEMON-CONFIG", "bad log_level=%s", pl_daemon_conf.log_level);
	signal(SIGPIPE, SIG_IGN);
	pl_daemon.d = d;
	if (d->init_uv) {
		if ((rv = pl_daemon_uv_start()) == 0)
			rv = pl_daemon_init(d);
		pl_daemon_uv_run(rv != 0);
		return rv != 0;
	}
	if ((rv = pl_daemon_ev_start()) == 0 && (rv = pl_daemon_init(d)) == 0)
		event_base_dispatch(pl_daemon.base);
	pl_daemon.stopped = 1;
	pl_daemon_fini();
	pl_daemon_ev_stop();
	return rv != 0;
}
