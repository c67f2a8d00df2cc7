/* settings.c - the settings several daemons share (see settings.h). */
#include "mem.h"
#include "settings.h"

struct pl_settings pl_settings;

const struct pl_config_entry pl_settings_run[] = {
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &pl_settings.run_dir,
	    0, 0, "directory of the ipc:// sockets", 0 },
	PL_CONFIG_END
};

const struct pl_config_entry pl_settings_kafka[] = {
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, NULL,
	    &pl_settings.kafka_brokers, 0, 0,
	    "Kafka bootstrap list (empty: read kafka-brokers-file)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	    "var/run/kafka.brokers", &pl_settings.kafka_brokers_file, 0, 0,
	    "file with the bootstrap list (devkafka writes it)", 0 },
	{ "kafka-fetch-wait-ms", "PARLEY_KAFKA_FETCH_WAIT_MS", PL_CONF_INT, "100",
	    &pl_settings.kafka_fetch_wait_ms, 0, 10000,
	    "consumer fetch.wait.max.ms: how long a fetch may wait at the broker "
	    "for data (devkafka's native engine and Kafka answer as soon as data "
	    "arrives; with devkafka --engine mock use 1-2)", 0 },
	PL_CONFIG_END
};

const struct pl_config_entry pl_settings_feed[] = {
	{ "feed-fetch-min-bytes", "PARLEY_FEED_FETCH_MIN_BYTES", PL_CONF_INT, "65536",
	    &pl_settings.feed_fetch_min_bytes, 1, 16777216,
	    "fetch.min.bytes of this daemon's log consumer: a fetch waits up to "
	    "kafka-fetch-wait-ms for this much, so a busy log is read in a few "
	    "large fetches instead of one per produce (1 = answer at once)", 0 },
	PL_CONFIG_END
};

const struct pl_config_entry pl_settings_redis[] = {
	{ "redis-addr", "PARLEY_REDIS_ADDR", PL_CONF_STR, "127.0.0.1:6390",
	    &pl_settings.redis_addr, 0, 0, "Redis host:port or unix:/path", 0 },
	PL_CONFIG_END
};

const struct pl_config_entry pl_settings_directory[] = {
	{ "pg-directory-dsn", "PARLEY_PG_DIRECTORY_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_shard_0 user=postgres",
	    &pl_settings.pg_directory_dsn, 0, 0,
	    "the directory database: teams, users, channels (shard 0)", 1 },
	PL_CONFIG_END
};

char *
pl_settings_brokers(void)
{
	const char *file = pl_settings.kafka_brokers_file;

	if (pl_settings.kafka_brokers != NULL && pl_settings.kafka_brokers[0] != '\0')
		return pl_strdup(pl_settings.kafka_brokers);
	if (file == NULL || file[0] == '\0')
		return NULL;
	return pl_config_read_file(file);
}
