/* daemon.h - the skeleton every libevent daemon plugs into.
 *
 * pl_daemon_main: parses the daemon's config table after the common one
 * (log level, ops address, port file, drain time), sets up logging, signals
 * (SIGTERM/SIGINT drain then exit, SIGHUP reopens logs, SIGPIPE ignored),
 * opens the ops HTTP port, calls init, runs the loop and on the way out calls
 * fini (the daemon tears down in reverse of its init) and frees the rest.
 *
 * Drain: on SIGTERM the skeleton marks /readyz draining and calls drain (if
 * any); the daemon calls pl_daemon_stop when it has finished, or the skeleton
 * stops the loop itself after drain-ms. A second signal stops at once. */
#ifndef PL_DAEMON_H
#define PL_DAEMON_H
#include <stdint.h>
#include "config.h"

struct event_base;
struct pl_loop;

struct pl_daemon {
	const char *name;		/* "message-svc": log name, metrics prefix */
	const char *summary;		/* one line for --help */
	const char *ops_addr_default;	/* "127.0.0.1:9101" */
	const struct pl_config_entry *config;	/* the daemon's own table */
	/* tables shared with other daemons (NULL-terminated, optional), applied
	 * after the common table and before the daemon's own */
	const struct pl_config_entry *const *shared_config;
	int (*init)(struct event_base *base, struct pl_loop *loop);
	void (*drain)(void);
	void (*fini)(void);
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
void pl_daemon_stop(void);
int pl_daemon_draining(void);

#endif
