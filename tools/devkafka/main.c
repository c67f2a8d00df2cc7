/* devkafka - a development Kafka broker behind the usual daemon skeleton.
 *
 * It is: N brokers on 127.0.0.1 (random ports, listed in the brokers file),
 * the three Parley topics created at start, produce/fetch/metadata/offsets
 * for real librdkafka clients, /readyz once clients can use it.
 *
 * Two engines (--engine): "native" (default) is our own in-memory broker
 * (dk_broker.c): a Fetch is answered as soon as data arrives, an offset is
 * found by binary search, retention is --retention-bytes per partition.
 * "mock" is librdkafka's mock cluster (rdkafka_mock.h), kept for comparison:
 * it answers a waiting fetch only when its wait expires and walks a
 * partition's log from the oldest entry on every fetch (docs/decisions.md).
 *
 * It is not: a durable or production broker. Everything lives in memory and
 * is lost on exit; there is one copy of each partition; clients cannot
 * CreateTopics; no transactions, no consumer groups (Parley's consumers
 * assign partitions explicitly). See DESIGN.md §3-4. */
#include <stdio.h>
#include <string.h>

#include "daemon.h"
#include "devkafka.h"
#include "log.h"
#include "names.h"

static const struct pl_config_entry dk_config[] = {
	{ "engine", "PARLEY_DEVKAFKA_ENGINE", PL_CONF_STR, "native",
	  &dk_conf.engine, 0, 0, "native (our broker) or mock (librdkafka's "
	  "mock cluster)", 0 },
	{ "brokers", "PARLEY_DEVKAFKA_BROKERS", PL_CONF_INT, "3",
	  &dk_conf.brokers, 1, 16, "number of brokers (one port each)", 0 },
	{ "partitions-messages", "PARLEY_DEVKAFKA_PARTITIONS_MESSAGES",
	  PL_CONF_INT, PL_STR(PL_TOPIC_MESSAGES_PARTITIONS), &dk_conf.partitions_messages, 1, 256,
	  "partitions of parley.messages", 0 },
	{ "partitions-events", "PARLEY_DEVKAFKA_PARTITIONS_EVENTS",
	  PL_CONF_INT, PL_STR(PL_TOPIC_EVENTS_PARTITIONS), &dk_conf.partitions_events, 1, 256,
	  "partitions of parley.events", 0 },
	{ "partitions-presence", "PARLEY_DEVKAFKA_PARTITIONS_PRESENCE",
	  PL_CONF_INT, PL_STR(PL_TOPIC_PRESENCE_PARTITIONS), &dk_conf.partitions_presence, 1, 256,
	  "partitions of parley.presence", 0 },
	{ "retention-bytes", "PARLEY_DEVKAFKA_RETENTION_BYTES", PL_CONF_INT,
	  "67108864", &dk_conf.retention_bytes, 1 << 20, (int64_t)1 << 34,
	  "native engine: bytes kept per partition (oldest batches dropped)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	  "var/run/kafka.brokers", &dk_conf.brokers_file, 0, 0,
	  "write the bootstrap list here (tmp + rename)", 0 },
	PL_CONFIG_END
};

static int dk_native;	/* the engine chosen at init */

/* dk_init - the chosen engine */
static int
dk_init(struct event_base *base, struct pl_loop *loop)
{
	if (strcmp(dk_conf.engine, "native") == 0)
		dk_native = 1;
	else if (strcmp(dk_conf.engine, "mock") != 0) {
		pl_log_error("DK-ENGINE-BAD", "engine=%s want=native|mock",
		    dk_conf.engine);
		return -1;
	}
	return dk_native ? dk_broker_init(base, loop) : dk_cluster_init(base, loop);
}

static void
dk_drain(void)
{
	if (dk_native)
		dk_broker_drain();
	else
		dk_cluster_drain();
}

static void
dk_fini(void)
{
	if (dk_native)
		dk_broker_fini();
	else
		dk_cluster_fini();
}

static const struct pl_daemon dk_daemon = {
	.name = "devkafka",
	.summary = "in-memory development Kafka (native broker or librdkafka's "
	    "mock cluster)",
	.ops_addr_default = "127.0.0.1:9150",
	.config = dk_config,
	.init = dk_init,
	.drain = dk_drain,
	.fini = dk_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&dk_daemon, argc, argv);
}
