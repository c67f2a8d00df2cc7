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
#include "settings.h"

static const struct pl_config_entry *const si_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_feed, pl_settings_directory, NULL
};

static const struct pl_daemon si_daemon = {
	.name = "search-indexer",
	.summary = "Parley search indexer: full-text index of messages and queries",
	.ops_addr_default = "127.0.0.1:9140",
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
