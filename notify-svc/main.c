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
	{ "counts-ttl-ms", "PARLEY_NOTIFY_COUNTS_TTL_MS", PL_CONF_INT, "60000",
	    &ns_conf.counts_ttl_ms, 100, 3600000, "client.counts answers cached in "
	    "Redis expire after this (PostgreSQL stays the truth)", 0 },
	{ "push-url", "PARLEY_PUSH_URL", PL_CONF_STR, "", &ns_conf.push_url, 0, 0,
	    "push gateway URL (Matrix push gateway JSON, docs/notify.md); empty: no push", 0 },
	{ "push-delay-ms", "PARLEY_PUSH_DELAY_MS", PL_CONF_INT, "5000",
	    &ns_conf.push_delay_ms, 0, 3600000, "grace before a push: a reconnecting "
	    "client reads the message first", 0 },
	{ "push-timeout-ms", "PARLEY_PUSH_TIMEOUT_MS", PL_CONF_INT, "5000",
	    &ns_conf.push_timeout_ms, 100, 120000, "one push request's timeout", 0 },
	{ "push-max-inflight", "PARLEY_PUSH_MAX_INFLIGHT", PL_CONF_INT, "64",
	    &ns_conf.push_max_inflight, 1, 10000, "push requests at once", 0 },
	{ "push-scan-ms", "PARLEY_PUSH_SCAN_MS", PL_CONF_INT, "200", &ns_conf.push_scan_ms,
	    10, 60000, "how often the outbox and the send queue are looked at", 0 },
	{ "push-breaker-threshold", "PARLEY_PUSH_BREAKER_THRESHOLD", PL_CONF_INT, "5",
	    &ns_conf.push_breaker_threshold, 1, 1000, "consecutive failed pushes that "
	    "open the breaker", 0 },
	{ "push-breaker-open-ms", "PARLEY_PUSH_BREAKER_OPEN_MS", PL_CONF_INT, "5000",
	    &ns_conf.push_breaker_open_ms, 10, 3600000, "how long the open breaker "
	    "sends nothing before one probe", 0 },
	{ "push-backoff-base-ms", "PARLEY_PUSH_BACKOFF_BASE_MS", PL_CONF_INT, "200",
	    &ns_conf.push_backoff_base_ms, 1, 600000, "retry delay base (full jitter: "
	    "random in [0, min(cap, base * 2^attempt)])", 0 },
	{ "push-backoff-cap-ms", "PARLEY_PUSH_BACKOFF_CAP_MS", PL_CONF_INT, "60000",
	    &ns_conf.push_backoff_cap_ms, 1, 86400000, "retry delay cap", 0 },
	{ "presence-rpc-url", "PARLEY_PRESENCE_RPC_URL", PL_CONF_STR, "",
	    &ns_conf.presence_rpc_url, 0, 0, "presence-svc RPC URL asked who is "
	    "connected (presence.query), ipc:// or tcp://host:port (empty: ipc under "
	    "run-dir)", 0 },
	{ "presence-timeout-ms", "PARLEY_NOTIFY_PRESENCE_TIMEOUT_MS", PL_CONF_INT, "2000",
	    &ns_conf.presence_timeout_ms, 100, 60000, "presence.query's timeout; "
	    "users presence-svc did not answer for count as offline (pushed)", 0 },
	{ "smtp-url", "PARLEY_SMTP_URL", PL_CONF_STR, "", &ns_conf.smtp_url, 0, 0,
	    "SMTP server for digests (smtp://host:port or smtps://); empty: no digests", 0 },
	{ "digest-from", "PARLEY_DIGEST_FROM", PL_CONF_STR, "parley@localhost",
	    &ns_conf.digest_from, 0, 0, "digests' sender address", 0 },
	{ "digest-delay-s", "PARLEY_DIGEST_DELAY_S", PL_CONF_INT, "600",
	    &ns_conf.digest_delay_s, 0, 604800, "a mention or DM still unread after "
	    "this goes into a digest", 0 },
	{ "digest-interval-s", "PARLEY_DIGEST_INTERVAL_S", PL_CONF_INT, "3600",
	    &ns_conf.digest_interval_s, 0, 604800, "at most one digest per user per "
	    "this many seconds", 0 },
	{ "digest-scan-ms", "PARLEY_DIGEST_SCAN_MS", PL_CONF_INT, "1000",
	    &ns_conf.digest_scan_ms, 10, 600000, "how often due digests are looked for", 0 },
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
