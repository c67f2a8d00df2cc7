/* main.c - search-indexer: the full-text index of all messages and the
 * search queries over it (DESIGN.md "Search").
 *
 * At this stage search-indexer is a foundation only: it connects to
 * PostgreSQL, consumes parley.messages and parley.events from the end,
 * decodes each Envelope and counts events by topic and type (and undecodable
 * payloads) in /metrics. Indexing and queries come in later issues; nothing
 * here pretends to do them yet. */
#include "daemon.h"
#include "search.h"

struct si_conf si_conf;

static const struct pl_config_entry si_config[] = {
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &si_conf.run_dir,
	    0, 0, "directory of the ipc:// sockets", 0 },
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, NULL,
	    &si_conf.kafka_brokers, 0, 0, "Kafka bootstrap list (empty: read kafka-brokers-file)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	    "var/run/kafka.brokers", &si_conf.kafka_brokers_file, 0, 0,
	    "file with the bootstrap list (devkafka writes it)", 0 },
	{ "kafka-fetch-wait-ms", "PARLEY_KAFKA_FETCH_WAIT_MS", PL_CONF_INT, "1",
	    &si_conf.fetch_wait_ms, 0, 10000, "consumer fetch.wait.max.ms", 0 },
	{ "pg-directory-dsn", "PARLEY_PG_DIRECTORY_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_shard_0 user=postgres",
	    &si_conf.pg_dsn, 0, 0, "the database of the search index tables (the directory, shard 0)", 1 },
	PL_CONFIG_END
};

static const struct pl_daemon si_daemon = {
	.name = "search-indexer",
	.summary = "Parley search indexer: full-text index of messages and queries",
	.ops_addr_default = "127.0.0.1:9140",
	.config = si_config,
	.init = si_svc_init,
	.drain = si_svc_drain,
	.fini = si_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&si_daemon, argc, argv);
}
