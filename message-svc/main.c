/* main.c - message-svc: Parley's chat domain, channel ordering, durability,
 * persistence and history, one channel shard per process. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "daemon.h"
#include "jwt.h"
#include "message_svc.h"


static const struct pl_config_entry ms_config[] = {
	{ "shard-index", "PARLEY_SHARD_INDEX", PL_CONF_INT, "0", &ms_conf.shard_index,
	    0, 1023, "this shard's index i of N", 0 },
	{ "shard-count", "PARLEY_SHARD_COUNT", PL_CONF_INT, "1", &ms_conf.shard_count,
	    1, 1024, "number of message-svc shards N", 0 },
	{ "pg-dsn", "PARLEY_PG_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_shard_0 user=postgres", &ms_conf.pg_dsn,
	    0, 0, "this shard's PostgreSQL database", 1 },
	{ "pg-directory-dsn", "PARLEY_PG_DIRECTORY_DSN", PL_CONF_STR, NULL,
	    &ms_conf.pg_dir_dsn, 0, 0, "the directory database (empty: the shard's)", 1 },
	{ "dir-conns", "PARLEY_MS_DIR_CONNS", PL_CONF_INT, "4", &ms_conf.dir_conns,
	    1, MS_DIR_CONNS_MAX, "connections to the directory database (each query to"
	    " the least busy)", 0 },
	{ "redis-addr", "PARLEY_REDIS_ADDR", PL_CONF_STR, "127.0.0.1:6390",
	    &ms_conf.redis_addr, 0, 0, "Redis host:port or unix:/path", 0 },
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, NULL,
	    &ms_conf.kafka_brokers, 0, 0, "Kafka bootstrap list", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR,
	    "var/run/kafka.brokers", &ms_conf.kafka_brokers_file, 0, 0,
	    "file with the bootstrap list (when kafka-brokers is empty)", 0 },
	{ "persist-fetch-wait-ms", "PARLEY_MS_PERSIST_FETCH_WAIT_MS", PL_CONF_INT, "100",
	    &ms_conf.fetch_wait_ms, 0, 10000,
	    "fetch.wait.max.ms of the persistence consumer (not latency-critical)", 0 },
	{ "persist-fetch-min-bytes", "PARLEY_MS_PERSIST_FETCH_MIN_BYTES", PL_CONF_INT,
	    "65536", &ms_conf.fetch_min_bytes, 1, 16 << 20,
	    "fetch.min.bytes of the persistence consumer: the broker answers once "
	    "this much is new (or the wait is over), so batches are large under "
	    "load", 0 },
	{ "linger-ms", "PARLEY_MS_LINGER_MS", PL_CONF_INT, "2", &ms_conf.linger_ms,
	    0, 1000, "producer linger.ms: batches of a channel shard's sends", 0 },
	{ "kafka-extra", "PARLEY_MS_KAFKA_EXTRA", PL_CONF_STR, NULL,
	    &ms_conf.kafka_extra, 0, 0, "extra librdkafka properties k=v,k=v", 0 },
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &ms_conf.run_dir,
	    0, 0, "directory of the ipc:// sockets", 0 },
	{ "rpc-url", "PARLEY_MS_RPC_URL", PL_CONF_STR, NULL, &ms_conf.rpc_url,
	    0, 0, "nng URL to serve (empty: ipc://<run-dir>/message-<i>.ipc)", 0 },
	{ "rpc-workers", "PARLEY_MS_RPC_WORKERS", PL_CONF_INT, "1024",
	    &ms_conf.rpc_workers, 1, 16384,
	    "concurrent nng contexts (= requests in flight)", 0 },
	{ "token-secret", "PARLEY_TOKEN_SECRET", PL_CONF_STR, NULL,
	    &ms_conf.token_secret, PL_JWT_SECRET_MIN, 0,
	    "HS256 secret of user tokens (required, at least 32 bytes)", 1 },
	{ "token-secret-file", "PARLEY_TOKEN_SECRET_FILE", PL_CONF_FILE, NULL,
	    &ms_conf.token_secret_file, 0, 0,
	    "file holding the token secret (wins over PARLEY_TOKEN_SECRET; trailing newline cut)", 0 },
	{ "token-ttl-s", "PARLEY_TOKEN_TTL_S", PL_CONF_INT, "2592000",
	    &ms_conf.token_ttl_s, 60, 315360000, "lifetime of issued tokens", 0 },
	{ "batch-max", "PARLEY_MS_BATCH_MAX", PL_CONF_INT, "2000", &ms_conf.batch_max,
	    1, 100000, "events per PostgreSQL transaction (larger batches keep up "
	    "under load: 500 persisted ~15,000 sends/s here, 2000 ~22,000)", 0 },
	{ "recent-max", "PARLEY_MS_RECENT_MAX", PL_CONF_INT, "200", &ms_conf.recent_max,
	    10, 100000, "events kept per channel in the Redis recent cache", 0 },
	{ "dedupe-max", "PARLEY_MS_DEDUPE_MAX", PL_CONF_INT, "200000", &ms_conf.dedupe_max,
	    16, 100000000, "client_msg_id records kept in memory (PostgreSQL beyond)", 0 },
	{ "resend-max", "PARLEY_MS_RESEND_MAX", PL_CONF_INT, "100000", &ms_conf.resend_max,
	    16, 100000000, "replies of state-changing requests kept for their nng"
	    " resends (same idempotency key): beyond it the oldest go", 0 },
	{ "resend-max-bytes", "PARLEY_MS_RESEND_MAX_BYTES", PL_CONF_INT, "67108864",
	    &ms_conf.resend_max_bytes, 65536, 17179869184LL, "bytes of those replies,"
	    " their requests and keys: beyond it the oldest go", 0 },
	{ "resend-ttl-s", "PARLEY_MS_RESEND_TTL_S", PL_CONF_INT, "120",
	    &ms_conf.resend_ttl_s, 1, 86400, "how long a reply is kept for resends"
	    " (keep it above the callers' rpc timeout: REQ resends only while a call"
	    " waits)", 0 },
	{ "drain-wait-ms", "PARLEY_MS_DRAIN_WAIT_MS", PL_CONF_INT, "5000",
	    &ms_conf.drain_wait_ms, 0, 600000, "SIGTERM: wait this long for in-flight produces", 0 },
	{ "page-max-bytes", "PARLEY_MS_PAGE_MAX_BYTES", PL_CONF_INT, "4194304",
	    &ms_conf.page_max_bytes, 4096, 32 << 20, "bytes of JSON in one page of"
	    " history, replies, lists or members: beyond it the page ends early with"
	    " has_more and a cursor (a page's first item always fits)", 0 },
	{ "channels-max", "PARLEY_MS_CHANNELS_MAX", PL_CONF_INT, "100000",
	    &ms_conf.chan_max, 16, 100000000, "channel table entries kept; beyond it"
	    " the least recently used idle ones are evicted", 0 },
	{ "channel-idle-s", "PARLEY_MS_CHANNEL_IDLE_S", PL_CONF_INT, "600",
	    &ms_conf.chan_idle_s, 1, 604800, "a channel entry unused this long is"
	    " evicted (reloaded from the directory on next use)", 0 },
	{ "reaction-emoji-max", "PARLEY_MS_REACTION_EMOJI_MAX", PL_CONF_INT, "23",
	    &ms_conf.rx_emoji_max, 1, 10000, "distinct emoji on one message"
	    " (beyond: too_many_emoji)", 0 },
	{ "reactions-max", "PARLEY_MS_REACTIONS_MAX", PL_CONF_INT, "10000",
	    &ms_conf.rx_max, 1, 10000000, "reactions on one message, all users"
	    " together (beyond: too_many_reactions)", 0 },
	{ "max-user-channels", "PARLEY_MS_MAX_USER_CHANNELS", PL_CONF_INT, "10000",
	    &ms_conf.user_chans_max, 1, 1000000, "conversations one user may be a"
	    " member of: a join, invite or create beyond it is refused with"
	    " too_many_channels (DMs and group DMs others open are not refused)", 0 },
	PL_CONFIG_END
};

static struct pl_daemon ms_daemon = {
	.name = "message-svc",
	.summary = "Parley message service: channels, ordered durable messages, history",
	.ops_addr_default = "127.0.0.1:9110",
	.config = ms_config,
	.init = ms_svc_init,
	.drain = ms_svc_drain,
	.fini = ms_svc_fini,
};

/* ms_shard_hint - the shard index from env or argv before the config is
 * parsed: the default ops port is 9110 + shard */
static int
ms_shard_hint(int argc, char **argv)
{
	const char *v = getenv("PARLEY_SHARD_INDEX");
	int i;

	for (i = 1; i < argc; i++) {
		if (strncmp(argv[i], "--shard-index=", 14) == 0)
			v = argv[i] + 14;
		else if (strcmp(argv[i], "--shard-index") == 0 && i + 1 < argc)
			v = argv[i + 1];
	}
	return v ? atoi(v) : 0;
}

int
main(int argc, char **argv)
{
	static char ops[64];

	snprintf(ops, sizeof(ops), "127.0.0.1:%d", 9110 + ms_shard_hint(argc, argv));
	ms_daemon.ops_addr_default = ops;
	return pl_daemon_main(&ms_daemon, argc, argv);
}
