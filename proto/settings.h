/* settings.h - the settings several Parley daemons share, as config tables
 * (lib/config.h) that a daemon lists in its pl_daemon.shared_config, so
 * each setting has one name, one default and one help text everywhere.
 * Values are read from pl_settings after pl_daemon_main has loaded them. */
#ifndef PL_SETTINGS_H
#define PL_SETTINGS_H
#include <stdint.h>
#include "config.h"

struct pl_settings {
	char *run_dir;			/* ipc:// sockets */
	char *kafka_brokers;		/* bootstrap list, or empty */
	char *kafka_brokers_file;	/* devkafka's bootstrap file */
	int64_t kafka_fetch_wait_ms;
	int64_t feed_fetch_min_bytes;	/* background consumers (feed.c) */
	char *redis_addr;
	char *pg_directory_dsn;		/* teams, users, channels (shard 0) */
};
extern struct pl_settings pl_settings;

extern const struct pl_config_entry pl_settings_run[];		/* run-dir */
extern const struct pl_config_entry pl_settings_kafka[];	/* kafka-* */
extern const struct pl_config_entry pl_settings_feed[];		/* feed-fetch-min-bytes */
extern const struct pl_config_entry pl_settings_redis[];	/* redis-addr */
extern const struct pl_config_entry pl_settings_directory[];	/* pg-directory-dsn */

/* pl_settings_brokers - the bootstrap list: kafka-brokers if set, else the
 * first line of kafka-brokers-file. Heap string or NULL. */
char *pl_settings_brokers(void);

#endif
