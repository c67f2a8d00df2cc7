/* main.c - search-indexer: the full-text index of all messages (PostgreSQL
 * tsvector + GIN, its own database) and search.messages over nng, answered
 * only from the channels the caller can read at query time (docs/search.md). */
#include "daemon.h"
#include "search.h"
#include "settings.h"

static const struct pl_config_entry si_config[] = {
	{ "pg-dsn", "PARLEY_PG_DSN", PL_CONF_STR,
	    "host=127.0.0.1 port=5433 dbname=parley_search user=postgres", &si_conf.pg_dsn,
	    0, 0, "the index database (this instance's own)", 1 },
	{ "search-index", "PARLEY_SEARCH_INDEX", PL_CONF_INT, "0", &si_conf.index, 0, 1023,
	    "this instance's ordinal i (a StatefulSet's): it indexes the partitions p"
	    " of parley.messages with p % search-count == i", 0 },
	{ "search-count", "PARLEY_SEARCH_COUNT", PL_CONF_INT, "1", &si_conf.count, 1, 1024,
	    "number of search-indexer instances", 0 },
	{ "rpc-url", "PARLEY_SEARCH_RPC_URL", PL_CONF_STR, NULL, &si_conf.rpc_url, 0, 0,
	    "nng URL to serve (empty: ipc://<run-dir>/search.ipc, search-<i>.ipc when"
	    " search-count > 1)", 0 },
	{ "rpc-workers", "PARLEY_SEARCH_RPC_WORKERS", PL_CONF_INT, "256",
	    &si_conf.rpc_workers, 1, 16384, "concurrent nng contexts (queries in flight)", 0 },
	{ "message-urls", "PARLEY_MESSAGE_URLS", PL_CONF_STR, "", &si_conf.message_urls,
	    0, 0, "message-svc URL per shard, comma-separated (default ipc under run-dir)", 0 },
	{ "shard-count", "PARLEY_SHARD_COUNT", PL_CONF_INT, "1", &si_conf.shard_count,
	    1, 1024, "message-svc shards", 0 },
	{ "rpc-timeout-ms", "PARLEY_SEARCH_RPC_TIMEOUT_MS", PL_CONF_INT, "5000",
	    &si_conf.rpc_timeout_ms, 10, 600000, "calls to message-svc (search.scope)", 0 },
	{ "batch-max", "PARLEY_SEARCH_BATCH_MAX", PL_CONF_INT, "2000", &si_conf.batch_max,
	    1, 100000, "log events per index transaction (the consumer pauses beyond)", 0 },
	{ "reindex", "PARLEY_SEARCH_REINDEX", PL_CONF_BOOL, "0", &si_conf.reindex, 0, 0,
	    "empty the index and its offsets at start and rebuild it from the log", 0 },
	{ "permalink-base", "PARLEY_SEARCH_PERMALINK_BASE", PL_CONF_STR, "",
	    &si_conf.permalink_base, 0, 0, "prefix of permalinks (<base>/archives/<channel>/p<ts>)", 0 },
	{ "count-cap", "PARLEY_SEARCH_COUNT_CAP", PL_CONF_INT, "1000", &si_conf.count_cap,
	    10, 1000000, "matches looked at beyond the end of the asked page: the window"
	    " that messages.total counts and sort=score ranks (its cost grows with it)", 0 },
	{ "walk-probe-hours", "PARLEY_SEARCH_WALK_PROBE_HOURS", PL_CONF_INT, "16",
	    &si_conf.walk_probe_hours, 0, 16777216, "a word query's block walk, once it"
	    " has walked this many hours, knows its matches per hour: it reads all the"
	    " rest at once when that would hold at most twice the window, and splits"
	    " unread a block expected to hold more than 4 windows (0: neither;"
	    " docs/search.md \"Performance\")", 0 },
	{ "query-conns", "PARLEY_SEARCH_QUERY_CONNS", PL_CONF_INT, "2", &si_conf.query_conns,
	    1, SI_QUERY_CONNS_MAX, "index connections for queries (the writer has its own,"
	    " so a slow query never delays indexing)", 0 },
	{ "query-timeout-ms", "PARLEY_SEARCH_QUERY_TIMEOUT_MS", PL_CONF_INT, "5000",
	    &si_conf.query_timeout_ms, 10, 600000, "statement_timeout of a query (then"
	    " internal_error)", 0 },
	{ "search-urls", "PARLEY_SEARCH_URLS", PL_CONF_STR, "", &si_conf.search_urls, 0, 0,
	    "every instance's RPC URL in ordinal order, comma-separated, when"
	    " search-count > 1: a query asks each for its part (default"
	    " ipc://<run-dir>/search-<i>.ipc)", 0 },
	{ "peer-timeout-ms", "PARLEY_SEARCH_PEER_TIMEOUT_MS", PL_CONF_INT, "2000",
	    &si_conf.peer_timeout_ms, 10, 600000, "an instance's answer to each of a"
	    " query's two rounds (its part, its rows): then the query fails with"
	    " service_unavailable", 0 },
	PL_CONFIG_END
};

static const struct pl_config_entry *const si_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_feed, pl_settings_directory, NULL
};

static const struct pl_daemon si_daemon = {
	.name = "search-indexer",
	.summary = "Parley search indexer: full-text index of messages and queries",
	.ops_addr_default = "127.0.0.1:9140",
	.config = si_config,
	.shared_config = si_shared,
	.init = si_svc_init,
	.drain = si_svc_drain,
	.fini = si_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&si_daemon, argc, argv);
}
