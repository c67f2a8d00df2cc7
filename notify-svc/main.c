/* main.c - notify-svc: unread and mention counts, read markers, push and
 * email notifications (DESIGN.md "Notifications").
 *
 * At this stage notify-svc is a foundation only: it connects to Redis and the
 * PostgreSQL directory, consumes parley.messages from the end, decodes each
 * Envelope and counts events by type (and undecodable payloads) in /metrics.
 * Unread/mention counting, push and email come in later issues; nothing here
 * pretends to do them yet. */
#include "daemon.h"
#include "notify.h"

struct ns_conf ns_conf;

static const struct pl_config_entry ns_config[] = {
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &ns_conf.run_dir,
	    0, 0, "directory of the ipc:// sockets", 0 },
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, NULL,
	    &ns_conf.kafka_brokers, 0, 0, "Kafka bootstrap list (empty: read kafka-brokers-file)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	    "var/run/kafka.brokers", &ns_conf.kafka_brokers_file, 0, 0,
	    "file with the bootstrap list (devkafka writes it)", 0 },
	{ "kafka-fetch-wait-ms", "PARLEY_KAFKA_FETCH_WAIT_MS", PL_CONF_INT, "1",
	    &ns_conf.fetch_wait_ms, 0, 10000, "consumer fetch.wait.max.ms", 0 },
	{ "redis-addr", "PARLEY_REDIS_ADDR", PL_CONF_STR, "127.0.0.1:6390",
	    &ns_conf.redis_addr, 0, 0, "Redis host:port or unix:/path", 0 },
	{ "pg-directory-dsn", "PARLEY_PG_DIRECTORY_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_shard_0 user=postgres",
	    &ns_conf.pg_dir_dsn, 0, 0, "the directory database (shard 0)", 1 },
	PL_CONFIG_END
};

static const struct pl_daemon ns_daemon = {
	.name = "notify-svc",
	.summary = "Parley notification service: unread counts, push and email",
	.ops_addr_default = "127.0.0.1:9130",
	.config = ns_config,
	.init = ns_svc_init,
	.drain = ns_svc_drain,
	.fini = ns_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&ns_daemon, argc, argv);
}
