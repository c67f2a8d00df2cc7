/* main.c - presence-svc: who is online or away; typing indicators;
 * expiry of the connections of a dead gateway (DESIGN.md "Presence and
 * typing", docs/presence.md).
 *
 * Gateways push connect / heartbeat / disconnect / typing reports over nng;
 * presence-svc keeps per-user connection sets in Redis (an in-memory view
 * while Redis fails), throttles typing per (user, channel), and publishes
 * USER_TYPING and PRESENCE_CHANGE ("active" | "away") on parley.presence,
 * key = team. Manual away (users.setPresence) is stored in PostgreSQL and
 * cached in Redis; PARLEY_AUTO_AWAY_S without activity turns a user away; a
 * clean last disconnect waits PARLEY_PRESENCE_GRACE_MS before away; its RPC
 * socket answers users.getPresence and the batch presence.query. */
#include "daemon.h"
#include "presence.h"
#include "settings.h"

struct ps_conf ps_conf;

static const struct pl_config_entry ps_config[] = {
	{ "push-url", "PARLEY_PRESENCE_PUSH_URL", PL_CONF_STR, NULL, &ps_conf.push_url,
	    0, 0, "nng pull URL for gateway reports (empty: ipc://<run-dir>/presence.ipc)", 0 },
	{ "presence-ttl-ms", "PARLEY_PRESENCE_TTL_MS", PL_CONF_INT, "45000", &ps_conf.ttl_ms,
	    500, 86400000, "a connection not seen (connect/heartbeat) for this long is gone; "
	    "keep above the gateways' PARLEY_HEARTBEAT_MS (1.5x)", 0 },
	{ "presence-sweep-ms", "PARLEY_PRESENCE_SWEEP_MS", PL_CONF_INT, "15000", &ps_conf.sweep_ms,
	    100, 3600000, "how often expired connections are looked for; ttl + sweep is "
	    "the longest a dead gateway's users stay active", 0 },
	{ "typing-throttle-ms", "PARLEY_TYPING_THROTTLE_MS", PL_CONF_INT, "3000", &ps_conf.typing_ms,
	    1, 600000, "one user_typing per (user, channel) per this many ms", 0 },
	{ "typing-max", "PARLEY_TYPING_MAX", PL_CONF_INT, "100000", &ps_conf.typing_max,
	    1, 100000000, "(user, channel) pairs the typing throttle keeps at most", 0 },
	{ "presence-mem-max", "PARLEY_PRESENCE_MEM_MAX", PL_CONF_INT, "100000", &ps_conf.mem_max,
	    1, 100000000, "sessions the in-memory view (used while Redis fails) keeps at most; "
	    "also the reconnect graces tracked at once (beyond: the sweep ends them)", 0 },
	{ "rpc-url", "PARLEY_PRESENCE_RPC_URL", PL_CONF_STR, NULL, &ps_conf.rpc_url,
	    0, 0, "nng rep URL of users.getPresence / setPresence / setActive and "
	    "presence.query (empty: ipc://<run-dir>/presence-rpc.ipc)", 0 },
	{ "presence-grace-ms", "PARLEY_PRESENCE_GRACE_MS", PL_CONF_INT, "10000",
	    &ps_conf.grace_ms, 0, 600000, "a user whose last connection closed cleanly "
	    "stays present this long (a reconnect within it changes nothing), then "
	    "goes away; 0: away at once", 0 },
	{ "auto-away-s", "PARLEY_AUTO_AWAY_S", PL_CONF_INT, "1800", &ps_conf.auto_away_s,
	    1, 604800, "seconds without user activity (connect, sent message, "
	    "users.setActive, RTM user_active; never a heartbeat) before auto away", 0 },
	{ "presence-buckets", "PARLEY_PRESENCE_BUCKETS", PL_CONF_INT, "16", &ps_conf.buckets,
	    1, 4096, "the sweep indexes are split into this many Redis keys by user "
	    "hash ({ps:<b>}:idx, {ps:<b>}:act); keep it the same on every instance", 0 },
	PL_CONFIG_END
};

static const struct pl_config_entry *const ps_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_redis, pl_settings_directory, NULL
};

static const struct pl_daemon ps_daemon = {
	.name = "presence-svc",
	.summary = "Parley presence service: online/away, manual and auto away, typing, dead-gateway expiry",
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
