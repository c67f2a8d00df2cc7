/* devkafka - a development Kafka broker: librdkafka's in-process mock
 * cluster (rdkafka_mock.h) behind the usual daemon skeleton.
 *
 * It is: N brokers on 127.0.0.1 (random ports, listed in the brokers file),
 * the three Parley topics created at start, produce/fetch/metadata/offsets
 * for real librdkafka clients, /readyz once a client sees every topic.
 *
 * It is not: a durable or production broker. Everything lives in memory and
 * is lost on exit; each partition keeps only its newest ~5 MB (or 100000
 * message sets) and silently drops older ones; clients cannot CreateTopics;
 * a waiting fetch is not answered when data arrives, so consumers must use a
 * small fetch.wait.max.ms (1-2 ms, PARLEY_KAFKA_FETCH_WAIT_MS). See
 * DESIGN.md §3-4. */
#include "daemon.h"
#include "devkafka.h"


static const struct pl_config_entry dk_config[] = {
	{ "brokers", "PARLEY_DEVKAFKA_BROKERS", PL_CONF_INT, "3",
	  &dk_conf.brokers, 1, 16, "number of mock brokers", 0 },
	{ "partitions-messages", "PARLEY_DEVKAFKA_PARTITIONS_MESSAGES",
	  PL_CONF_INT, "8", &dk_conf.partitions_messages, 1, 256,
	  "partitions of parley.messages", 0 },
	{ "partitions-events", "PARLEY_DEVKAFKA_PARTITIONS_EVENTS",
	  PL_CONF_INT, "4", &dk_conf.partitions_events, 1, 256,
	  "partitions of parley.events", 0 },
	{ "partitions-presence", "PARLEY_DEVKAFKA_PARTITIONS_PRESENCE",
	  PL_CONF_INT, "4", &dk_conf.partitions_presence, 1, 256,
	  "partitions of parley.presence", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	  "var/run/kafka.brokers", &dk_conf.brokers_file, 0, 0,
	  "write the bootstrap list here (tmp + rename)", 0 },
	PL_CONFIG_END
};

static const struct pl_daemon dk_daemon = {
	.name = "devkafka",
	.summary = "in-memory development Kafka (librdkafka mock cluster)",
	.ops_addr_default = "127.0.0.1:9150",
	.config = dk_config,
	.init = dk_cluster_init,
	.drain = dk_cluster_drain,
	.fini = dk_cluster_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&dk_daemon, argc, argv);
}
