/* daemon.h - the skeleton every daemon plugs into, on libevent or libuv.
 *
 * pl_daemon_main: parses the daemon's config table after the common one
 * (log level, ops address, port file, drain time), sets up logging, signals
 * (SIGTERM/SIGINT drain then exit, SIGHUP reopens logs, SIGPIPE ignored),
 * opens the ops HTTP port, calls init, writes the ops port file (so a port
 * file means init is done), runs the loop and on the way out calls fini (the
 * daemon tears down in reverse of its init) and frees the rest.
 *
 * The loop: a daemon sets init for a libevent event_base (every daemon but
 * the gateway) or init_uv for a libuv loop (the gateway: lws runs on it as a
 * foreign loop). Both get the same loop as a struct pl_loop. On libuv, a
 * stop runs fini inside the loop on its next turn (lws completes a context's
 * destruction only in close callbacks the running loop delivers), then the
 * skeleton closes its own handles and the loop runs dry.
 *
 * Drain: on SIGTERM the skeleton marks /readyz draining and calls drain (if
 * any); the daemon calls pl_daemon_stop when it has finished, or the skeleton
 * stops the loop itself after drain-ms. A second signal stops at once. */
#ifndef PL_DAEMON_H
#define PL_DAEMON_H
#include <stdint.h>
#include "config.h"

struct event_base;
struct uv_loop_s;
struct pl_loop;

struct pl_daemon {
	const char *name;		/* "message-svc": log name, metrics prefix */
	const char *summary;		/* one line for --help */
	const char *ops_addr_default;	/* "127.0.0.1:9101" */
	const struct pl_config_entry *config;	/* the daemon's own table */
	/* tables shared with other daemons (NULL-terminated, optional), applied
	 * after the common table and before the daemon's own */
	const struct pl_config_entry *const *shared_config;
	/* set one: init runs on libevent, init_uv on libuv */
	int (*init)(struct event_base *base, struct pl_loop *loop);
	int (*init_uv)(struct uv_loop_s *uv, struct pl_loop *loop);
	void (*drain)(void);
	void (*fini)(void);
	/* optional, libuv: called after fini once the loop has run dry (every
	 * close callback delivered); lws frees a context on a foreign loop only
	 * in a second lws_context_destroy made then */
	void (*fini_after_run)(void);
};

/* common settings, readable after config load */
struct pl_daemon_common {
	char *log_level;
	char *ops_addr;
	char *ops_port_file;
	int64_t drain_ms;
};
extern struct pl_daemon_common pl_daemon_conf;

int pl_daemon_main(const struct pl_daemon *d, int argc, char **argv);
/* pl_daemon_stop - end the loop (may be called from any callback, during
 * fini too, any number of times) */
void pl_daemon_stop(void);
int pl_daemon_draining(void);

#endif
