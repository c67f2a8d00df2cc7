/* main.c - presence-svc: who is online, away or DND; typing indicators;
 * expiry of the connections of a dead gateway (DESIGN.md "Presence").
 *
 * At this stage presence-svc is a foundation only: it connects to Redis,
 * starts a producer for parley.presence and listens on the nng pull socket
 * where gateways push their reports, which it decodes as Envelopes and counts
 * by type (and undecodable ones) in /metrics. Connection sets, expiry and
 * publishing presence changes come in later issues; nothing here pretends to
 * do them yet. */
#include "daemon.h"
#include "presence.h"
#include "settings.h"

struct ps_conf ps_conf;

static const struct pl_config_entry ps_config[] = {
	{ "push-url", "PARLEY_PRESENCE_PUSH_URL", PL_CONF_STR, NULL, &ps_conf.push_url,
	    0, 0, "nng pull URL for gateway reports (empty: ipc://<run-dir>/presence.ipc)", 0 },
	PL_CONFIG_END
};

static const struct pl_config_entry *const ps_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_redis, NULL
};

static const struct pl_daemon ps_daemon = {
	.name = "presence-svc",
	.summary = "Parley presence service: online/away, typing, dead-gateway expiry",
	.ops_addr_default = "127.0.0.1:9120",
	.shared_config = ps_shared,
	.config = ps_config,
	.init = ps_svc_init,
	.drain = ps_svc_drain,
	.fini = ps_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&ps_daemon, argc, argv);
}
