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
#include "settings.h"

static const struct pl_config_entry *const ns_shared[] = {
	pl_settings_run, pl_settings_kafka, pl_settings_feed, pl_settings_redis,
	pl_settings_directory, NULL
};

static const struct pl_daemon ns_daemon = {
	.name = "notify-svc",
	.summary = "Parley notification service: unread counts, push and email",
	.ops_addr_default = "127.0.0.1:9130",
	.shared_config = ns_shared,
	.init = ns_svc_init,
	.drain = ns_svc_drain,
	.fini = ns_svc_fini,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&ns_daemon, argc, argv);
}
