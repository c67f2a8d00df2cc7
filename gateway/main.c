/* main.c - the gateway: its settings table, inits, drain and fini, run by
 * the daemon skeleton (lib/daemon.h) on a libuv loop.
 *
 * lws runs on that uv loop as a foreign loop (DESIGN.md §4). The skeleton
 * gives the common settings (log level, ops address and port file, drain
 * time), signals, the ops port (lib/ops_uv.c) and the drain timer; SIGTERM
 * drains here (stop accepting, goodbye + 1001 to every socket) until the
 * last WebSocket is gone or drain-ms passed, then gw_fini tears down. */
#include <stdio.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "daemon.h"
#include "err.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_api.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_fanout.h"
#include "gw_limits.h"
#include "gw_members.h"
#include "gw_metrics.h"
#include "gw_poll.h"
#include "gw_rtm.h"
#include "gw_server.h"
#include "gw_services.h"
#include "gw_static.h"
#include "jwt.h"
#include "log.h"

#define I64 PL_CONF_INT
static const struct pl_config_entry gw_table[] = {
	{ "http-addr", "PARLEY_HTTP_ADDR", PL_CONF_STR, "127.0.0.1:8080", &gw_conf.http_addr, 0, 0, "client port, shared by the gateway processes: /ws, /api, /healthz, /readyz, static files (port 0 = any free port)", 0 },
	{ "http-port-file", "PARLEY_HTTP_PORT_FILE", PL_CONF_STR, "", &gw_conf.http_port_file, 0, 0, "write the bound port here (tmp + rename)", 0 },
	{ "public-url", "PARLEY_PUBLIC_URL", PL_CONF_STR, "", &gw_conf.public_url, 0, 0, "base ws:// URL for rtm.connect (empty: from the Host header)", 0 },
	{ "gateway-id", "PARLEY_GATEWAY_ID", PL_CONF_STR, "", &gw_conf.gateway_id, 0, 0, "this gateway's name in presence reports (default gw-<pid>)", 0 },
	{ "run-dir", "PARLEY_RUN_DIR", PL_CONF_STR, "var/run", &gw_conf.run_dir, 0, 0, "where ipc:// nng sockets live", 0 },
	{ "presence-url", "PARLEY_PRESENCE_PUSH_URL", PL_CONF_STR, "", &gw_conf.presence_url, 0, 0, "presence-svc push URL, ipc:// or tcp://host:port (empty: ipc under run-dir)", 0 },
	{ "message-urls", "PARLEY_MESSAGE_URLS", PL_CONF_STR, "", &gw_conf.message_urls, 0, 0, "message-svc URL per shard, comma-separated (default ipc under run-dir)", 0 },
	{ "presence-rpc-url", "PARLEY_PRESENCE_RPC_URL", PL_CONF_STR, "", &gw_conf.presence_rpc_url, 0, 0, "presence-svc RPC URL (users.getPresence, presence_sub), ipc:// or tcp://host:port (empty: ipc under run-dir)", 0 },
	{ "search-urls", "PARLEY_SEARCH_URLS", PL_CONF_STR, "", &gw_conf.search_urls, 0, 0, "search-indexer URL per instance, comma-separated (default ipc:// search.ipc under run-dir)", 0 },
	{ "shard-count", "PARLEY_SHARD_COUNT", I64, "1", &gw_conf.shard_count, 1, 1024, "message-svc shards", 0 },
	{ "kafka-partitions", "PARLEY_KAFKA_PARTITIONS", I64, "0", &gw_conf.partitions, 0, 100000, "partitions of parley.messages (0 = ask the broker)", 0 },
	{ "kafka-brokers", "PARLEY_KAFKA_BROKERS", PL_CONF_STR, "", &gw_conf.kafka_brokers, 0, 0, "Kafka bootstrap list (empty: read kafka-brokers-file)", 0 },
	{ "kafka-brokers-file", "PARLEY_KAFKA_BROKERS_FILE", PL_CONF_STR, "var/run/kafka.brokers", &gw_conf.kafka_brokers_file, 0, 0, "file with the bootstrap list (devkafka writes it)", 0 },
	{ "kafka-fetch-wait-ms", "PARLEY_KAFKA_FETCH_WAIT_MS", I64, "100", &gw_conf.fetch_wait_ms, 0, 10000, "consumer fetch.wait.max.ms", 0 },
	{ "redis-addr", "PARLEY_REDIS_ADDR", PL_CONF_STR, "127.0.0.1:6390", &gw_conf.redis_addr, 0, 0, "host:port or unix:/path", 0 },
	{ "token-secret", "PARLEY_TOKEN_SECRET", PL_CONF_STR, "", &gw_conf.token_secret, PL_JWT_SECRET_MIN, 0, "HS256 secret of user tokens (required, at least 32 bytes)", 1 },
	{ "token-secret-file", "PARLEY_TOKEN_SECRET_FILE", PL_CONF_FILE, "", &gw_conf.token_secret_file, 0, 0, "file holding the token secret (wins over PARLEY_TOKEN_SECRET; trailing newline cut)", 0 },
	{ "admin-token", "PARLEY_ADMIN_TOKEN", PL_CONF_STR, "", &gw_conf.admin_token, 0, 0, "token of admin.* methods, Authorization header only (empty: none)", 1 },
	{ "admin-token-file", "PARLEY_ADMIN_TOKEN_FILE", PL_CONF_FILE, "", &gw_conf.admin_token_file, 0, 0, "file holding the admin token (wins over PARLEY_ADMIN_TOKEN; trailing newline cut)", 0 },
	{ "allowed-origins", "PARLEY_ALLOWED_ORIGINS", PL_CONF_STR, "", &gw_conf.allowed_origins, 0, 0, "browser Origins allowed besides the same origin: comma-separated, * or https://*.example.com", 0 },
	{ "web-dir", "PARLEY_WEB_DIR", PL_CONF_STR, "web", &gw_conf.web_dir, 0, 0, "static files served at /", 0 },
	{ "max-conns", "PARLEY_MAX_CONNS", I64, "19500", &gw_conf.max_conns, 1, 10000000, "WebSocket connections per process (then 503)", 0 },
	{ "max-frame", "PARLEY_MAX_FRAME", I64, "16384", &gw_conf.max_frame, 128, 16777216, "largest client frame (then close 1009)", 0 },
	{ "max-rtm-text", "PARLEY_MAX_RTM_TEXT", I64, "4000", &gw_conf.max_rtm_text, 1, 1000000, "longest RTM message text in characters (msg_too_long)", 0 },
	{ "max-sendq-bytes", "PARLEY_MAX_SENDQ_BYTES", I64, "1048576", &gw_conf.max_sendq_bytes, 1024, 1073741824, "per-connection send queue bytes (then close 4008)", 0 },
	{ "max-sendq-frames", "PARLEY_MAX_SENDQ_FRAMES", I64, "1024", &gw_conf.max_sendq_frames, 1, 1000000, "per-connection send queue frames (then close 4008)", 0 },
	{ "max-body", "PARLEY_MAX_BODY", I64, "1048576", &gw_conf.max_body, 1024, 67108864, "largest Web API request body", 0 },
	{ "max-params", "PARLEY_MAX_PARAMS", I64, "100", &gw_conf.max_params, 1, 10000, "Web API parameters per request, query and body together (then invalid_arguments)", 0 },
	{ "max-user-channels", "PARLEY_MAX_USER_CHANNELS", I64, "10000", &gw_conf.max_user_channels, 1, 1000000, "channels a connection is subscribed to in the edge cache (more are not delivered live)", 0 },
	{ "http-header-pool", "PARLEY_HTTP_HEADER_POOL", I64, "1024", &gw_conf.http_header_pool, 16, 65535, "lws header slots: HTTP requests whose headers are being read at once", 0 },
	{ "http-header-timeout-s", "PARLEY_HTTP_HEADER_TIMEOUT_S", I64, "10", &gw_conf.http_header_timeout_s, 1, 600, "a connection must complete its request headers within this", 0 },
	{ "http-request-timeout-s", "PARLEY_HTTP_REQUEST_TIMEOUT_S", I64, "30", &gw_conf.http_request_timeout_s, 1, 3600, "a Web API request body must be complete this long after its headers (then 408 request_timeout)", 0 },
	{ "max-conns-user", "PARLEY_MAX_CONNS_USER", I64, "50", &gw_conf.max_conns_user, 1, 1000000, "WebSocket connections per user and process (then 429 too_many_connections)", 0 },
	{ "max-conns-ip", "PARLEY_MAX_CONNS_IP", I64, "256", &gw_conf.max_conns_ip, 1, 10000000, "sockets (HTTP and WebSocket) per client address and process (then 503 at accept)", 0 },
	{ "conn-loopback-exempt", "PARLEY_CONN_LOOPBACK_EXEMPT", PL_CONF_BOOL, "1", &gw_conf.conn_loopback_exempt, 0, 0, "loopback addresses are not held to max-conns-ip", 0 },
	{ "trusted-proxies", "PARLEY_TRUSTED_PROXIES", PL_CONF_STR, "", &gw_conf.trusted_proxies, 0, 0, "IPv4 addresses or CIDRs of proxies in front (comma-separated): exempt from max-conns-ip, and the only peers whose PROXY header is accepted", 0 },
	{ "proxy-protocol", "PARLEY_PROXY_PROTOCOL", PL_CONF_BOOL, "0", &gw_conf.proxy_protocol, 0, 0, "connections from trusted proxies start with a PROXY v1/v2 header (its address is the client's); a PROXY header from anyone else is refused", 0 },
	{ "test-events-lag-ms", "PARLEY_TEST_EVENTS_LAG_MS", I64, "0", &gw_conf.test_events_lag_ms, 0, 60000, "TESTS ONLY: apply parley.events this much later (fault injection for the membership race)", 0 },
	{ "max-hold", "PARLEY_MAX_HOLD", I64, "1024", &gw_conf.max_hold, 1, 1000000, "live events held per connection during a resume (then close 4008)", 0 },
	{ "ws-rx-buffer", "PARLEY_WS_RX_BUFFER", I64, "128", &gw_conf.rx_buffer, 128, 65536, "lws receive buffer per connection", 0 },
	{ "rate-limits", "PARLEY_RATE_LIMITS", PL_CONF_BOOL, "1", &gw_conf.rate_limits, 0, 0, "0 turns the per-user and per-method rate limits off", 0 },
	{ "rate-msg-per-s", "PARLEY_RATE_MSG_PER_S", I64, "1", &gw_conf.rate_msg_per_s, 1, 1000000, "RTM sends per connection per second", 0 },
	{ "rate-msg-burst", "PARLEY_RATE_MSG_BURST", I64, "10", &gw_conf.rate_msg_burst, 1, 1000000, "RTM send burst", 0 },
	{ "rate-accept-per-s", "PARLEY_RATE_ACCEPT_PER_S", I64, "2000", &gw_conf.rate_accept_per_s, 1, 10000000, "WebSocket upgrades per second (then 503)", 0 },
	{ "rate-accept-burst", "PARLEY_RATE_ACCEPT_BURST", I64, "4000", &gw_conf.rate_accept_burst, 1, 10000000, "WebSocket upgrade burst", 0 },
	{ "rate-typing-ms", "PARLEY_RATE_TYPING_MS", I64, "3000", &gw_conf.rate_typing_ms, 0, 600000, "one typing report per connection per this many ms", 0 },
	{ "rate-presence-query", "PARLEY_RATE_PRESENCE_QUERY", I64, "100", &gw_conf.rate_presence_query, 1, 100000000, "users per second a connection may ask about with presence_sub / presence_query (bursts of 1000, or this if more)", 0 },
	{ "heartbeat-ms", "PARLEY_HEARTBEAT_MS", I64, "30000", &gw_conf.heartbeat_ms, 1000, 3600000, "heartbeat_ms told in hello; presence heartbeat", 0 },
	{ "ws-ping-s", "PARLEY_WS_PING_S", I64, "30", &gw_conf.ping_s, 1, 3600, "server WebSocket ping after this much silence", 0 },
	{ "ws-pong-timeout-s", "PARLEY_WS_PONG_TIMEOUT_S", I64, "10", &gw_conf.pong_timeout_s, 1, 3600, "dead peer: no pong within this after a ping", 0 },
	{ "idle-s", "PARLEY_IDLE_S", I64, "300", &gw_conf.idle_s, 1, 86400, "close a connection whose client sent nothing for this long", 0 },
	{ "rpc-timeout-ms", "PARLEY_RPC_TIMEOUT_MS", I64, "5000", &gw_conf.rpc_timeout_ms, 10, 600000, "message-svc call timeout", 0 },
	{ "breaker-threshold", "PARLEY_BREAKER_THRESHOLD", I64, "5", &gw_conf.breaker_threshold, 1, 1000, "consecutive failures that open a shard's breaker", 0 },
	{ "breaker-open-ms", "PARLEY_BREAKER_OPEN_MS", I64, "2000", &gw_conf.breaker_open_ms, 10, 600000, "how long an open breaker fails fast", 0 },
	{ "notify-url", "PARLEY_NOTIFY_URL", PL_CONF_STR, "", &gw_conf.notify_url, 0, 0, "notify-svc nng URL, ipc:// or tcp:// (default ipc under run-dir)", 0 },
	{ "ticket-ttl-s", "PARLEY_TICKET_TTL_S", I64, "30", &gw_conf.ticket_ttl_s, 1, 3600, "rtm.connect URL lifetime", 0 },
	{ "poll-max-s", "PARLEY_POLL_MAX_S", I64, "60", &gw_conf.poll_max_s, 0, 3600, "longest hold of events.poll (its timeout parameter is capped to this)", 0 },
	{ "max-polls", "PARLEY_MAX_POLLS", I64, "10000", &gw_conf.max_polls, 1, 10000000, "held events.poll requests per process (then 429)", 0 },
	{ "max-polls-user", "PARLEY_MAX_POLLS_USER", I64, "4", &gw_conf.max_polls_user, 1, 1000, "held events.poll requests per user and process (then 429)", 0 },
	{ "auth-check-s", "PARLEY_AUTH_CHECK_S", I64, "60", &gw_conf.auth_check_s, 1, 86400, "a user's active state (not deactivated) is asked of message-svc again after this; deactivations arrive at once on parley.events", 0 },
	{ "auth-cache", "PARLEY_AUTH_CACHE", I64, "100000", &gw_conf.auth_cache, 16, 100000000, "users whose active state is cached (beyond: asked on every call)", 0 },
	{ "test-poll-replay-delay-ms", "PARLEY_TEST_POLL_REPLAY_DELAY_MS", I64, "0", &gw_conf.test_poll_replay_delay_ms, 0, 60000, "TESTS ONLY: send events.poll's channel.replay this much later (opens the boot-to-replay window)", 0 },
	{ "api-buckets", "PARLEY_API_BUCKETS", I64, "100000", &gw_conf.api_buckets, 16, 100000000, "Web API rate-limit buckets kept (idle ones are evicted first)", 0 },
	PL_CONFIG_END
};
/* gw_drained - stop early once every WebSocket has gone (called by conn.c
 * when the last one closes while draining) */
static void
gw_drained(void)
{
	if (gw.draining && gw_conn_count() == 0)
		pl_daemon_stop();
}

/* gw_drain - SIGTERM: stop accepting, goodbye + 1001 to every socket, end
 * every held poll; the skeleton stops the loop after drain-ms at the latest */
static void
gw_drain(void)
{
	pl_log_info("GW-DRAIN", "conns=%zu", gw_conn_count());
	gw.draining = 1;
	gw_server_deprecate();
	gw_conn_drain_all();
	gw_poll_drain_all();
	gw_drained();
}

/* gw_init - every init, in order; gw_fini undoes whichever succeeded */
static int
gw_init(struct uv_loop_s *uv, struct pl_loop *loop)
{
	int rv;

	gw.uv = uv;
	gw.loop = loop;
	gw.drained = gw_drained;
	if (gw_conf.gateway_id[0])
		snprintf(gw.name, sizeof(gw.name), "%s", gw_conf.gateway_id);
	else
		snprintf(gw.name, sizeof(gw.name), "gw-%d", (int)getpid());
	gw.started_ms = pl_clock_mono_ms();
	gw_metrics_init();
	if ((rv = gw_cache_init()) != 0 || (rv = gw_members_init()) != 0 ||
	    (rv = gw_conn_init()) != 0 || (rv = gw_rtm_init()) != 0 ||
	    (rv = gw_limits_init()) != 0 || (rv = gw_poll_init()) != 0 ||
	    (rv = gw_api_init()) != 0 || (rv = gw_static_init()) != 0 ||
	    (rv = gw_active_init()) != 0) {
		pl_log_error("GW-START", "err=%s", pl_err_str(rv));
		return rv;
	}
	if ((rv = gw_fanout_start()) != 0) {
		pl_log_error("GW-START-FANOUT", "err=%s", pl_err_str(rv));
		return rv;
	}
	if ((rv = gw_services_start()) != 0) {
		pl_log_error("GW-START-SERVICES", "err=%s", pl_err_str(rv));
		return rv;
	}
	if ((rv = gw_server_start()) != 0) {
		pl_log_error("GW-START-SERVER", "addr=%s err=%s", gw_conf.http_addr,
		    pl_err_str(rv));
		return rv;
	}
	pl_log_info("GW-READY", "port=%d shards=%lld", gw.port,
	    (long long)gw_conf.shard_count);
	return 0;
}

/* gw_fini - gw_init's steps undone in reverse: the server first
 * (lws_context_destroy closes every socket; its uv handles close as the
 * skeleton runs the loop dry), then the services (a request they cancel
 * answers into members and fan-out, still whole), fan-out, and each
 * module's tables. Every step is safe when its init did not run. rtm.c and
 * static.c only set ops tables and have nothing to undo. */
static void
gw_fini(void)
{
	pl_log_info("GW-STOP", "conns=%zu", gw_conn_count());
	gw_server_stop();
	gw_services_stop();
	gw_fanout_stop();
	gw_active_fini();
	gw_api_fini();
	gw_poll_fini();
	gw_limits_fini();
	gw_conn_fini();
	gw_members_fini();
	gw_cache_fini();
}

/* gw_fini_after_run - the loop has run dry: lws can free its context */
static void
gw_fini_after_run(void)
{
	gw_server_free();
}

static const struct pl_daemon gw_daemon = {
	.name = "gateway",
	.summary = "Parley gateway: WebSocket RTM, Web API and fan-out",
	.ops_addr_default = "127.0.0.1:0",
	.config = gw_table,
	.init_uv = gw_init,
	.drain = gw_drain,
	.fini = gw_fini,
	.fini_after_run = gw_fini_after_run,
};

int
main(int argc, char **argv)
{
	return pl_daemon_main(&gw_daemon, argc, argv);
}
