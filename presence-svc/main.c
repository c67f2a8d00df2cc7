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

struct ps_conf ps_conf;

static const struct pl_config_entry ps_config[] = {
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &ps_conf.run_dir,
	    0, 0, "directory of the ipc:// sockets", 0 },
	{ "push-url", "PARLEY_PRESENCE_PUSH_URL", PL_CONF_STR, NULL, &ps_conf.push_url,
	    0, 0, "nng pull URL for gateway reports (empty: ipc://<run-dir>/presence.ipc)", 0 },
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, NULL,
	    &ps_conf.kafka_brokers, 0, 0, "Kafka bootstrap list (empty: read kafka-brokers-file)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	    "var/run/kafka.brokers", &ps_conf.kafka_brokers_file, 0, 0,
	    "file with the bootstrap list (devkafka writes it)", 0 },
	{ "redis-addr", "PARLEY_REDIS_ADDR", PL_CONF_STR, "127.0.0.1:6390",
	    &ps_conf.redis_addr, 0, 0, "Redis host:port or unix:/path", 0 },
	PL_CONFIG_END
};

static const struct pl_daemon ps_daemon = {
	.name = "presence-svc",
	.summary = "Parley presence service: online/away, typing, dead-gateway expiry",
	.ops_addr_default = "127.0.0.1:9120",
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
