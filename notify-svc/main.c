/* main.c - notify-svc: unread and mention counts, read markers
 * (DESIGN.md "Notifications", docs/notify.md).
 *
 * It consumes parley.messages and parley.events (this replica's partitions)
 * into its own PostgreSQL database with the offsets, and answers
 * conversations.mark, client.counts and notify.channel over nng. */
#include "daemon.h"
#include "notify.h"
#include "settings.h"


static const struct pl_config_entry ns_config[] = {
	{ "notify-pg-dsn", "PARLEY_NOTIFY_PG_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_notify user=postgres",
	    &ns_conf.pg_dsn, 0, 0, "notify-svc's own PostgreSQL database (never a "
	    "message-svc shard's)", 1 },
	{ "notify-rpc-url", "PARLEY_NOTIFY_RPC_URL", PL_CONF_STR, NULL, &ns_conf.rpc_url,
	    0, 0, "nng URL to serve, ipc:// or tcp:// (empty: ipc://<run-dir>/notify.ipc)", 0 },
	{ "notify-rpc-workers", "PARLEY_NOTIFY_RPC_WORKERS", PL_CONF_INT, "256",
	    &ns_conf.rpc_workers, 1, 16384, "concurrent nng contexts", 0 },
	{ "notify-ordinal", "PARLEY_NOTIFY_ORDINAL", PL_CONF_INT, "0", &ns_conf.ordinal,
	    0, 1023, "this replica's ordinal i: it consumes partitions p with p % N == i", 0 },
	{ "notify-replicas", "PARLEY_NOTIFY_REPLICAS", PL_CONF_INT, "1", &ns_conf.replicas,
	    1, 1024, "number of notify-svc replicas N", 0 },
	{ "notify-batch-max", "PARLEY_NOTIFY_BATCH_MAX", PL_CONF_INT, "500",
	    &ns_conf.batch_max, 1, 100000, "log events per ns_apply_batch statement", 0 },
	{ "notify-count-cap", "PARLEY_NOTIFY_COUNT_CAP", PL_CONF_INT, "10000",
	    &ns_conf.count_cap, 1, 1000000, "unread and mention counts stop at this "
	    "(bounded work per channel)", 0 },
	PL_CONFIG_END
};

static const struct pl_config_entry *const ns_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_feed, pl_settings_redis,
	pl_settings_directory, NULL
};

static const struct pl_daemon ns_daemon = {
	.name = "notify-svc",
	.summary = "Parley notification service: unread counts and read markers",
	.ops_addr_default = "127.0.0.1:9130",
	.config = ns_config,
	.shared_config = ns_shared,
	.init = ns_svc_init,
	.drain = ns_svc_drain,
	.fini = ns_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&ns_daemon, argc, argv);
}
