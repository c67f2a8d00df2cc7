/* metrics.c - the gateway's metrics (lib/metrics.h), created once. */
#include <stdio.h>
#include <string.h>

#include "gw_metrics.h"
#include "metrics.h"

struct gw_metrics gw_m;

#define GW_DISCONNECT_HELP "WebSocket disconnects by reason."
#define GW_REFUSED_HELP "Upgrades refused before the 101 and sockets refused at accept, by reason."

static const char *const gw_reasons[] = {
	"peer", "drain", "frame_too_big", "auth", "token_expired", "slow_consumer",
	"idle", "unavailable", "server", "dead_peer",
};
static struct pl_metric *gw_disconnects[sizeof(gw_reasons) / sizeof(gw_reasons[0])];

/* gw_metrics_init - register every metric */
void
gw_metrics_init(void)
{
	char labels[64];
	size_t i;

	gw_m.conns = pl_metrics_gauge("parley_gateway_connections", "Open WebSocket connections.", NULL);
	gw_m.connects = pl_metrics_counter("parley_gateway_connects_total", "WebSocket connections accepted.", NULL);
	gw_m.refused_limit = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"limit\"");
	gw_m.refused_origin = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"origin\"");
	gw_m.refused_auth = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"auth\"");
	gw_m.refused_user = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"user\"");
	gw_m.refused_ip = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"ip\"");
	gw_m.refused_proxy_header = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"proxy_header\"");
	gw_m.refused_proxy_untrusted = pl_metrics_counter("parley_gateway_refused_total", GW_REFUSED_HELP, "reason=\"proxy_untrusted\"");
	for (i = 0; i < sizeof(gw_reasons) / sizeof(gw_reasons[0]); i++) {
		snprintf(labels, sizeof(labels), "reason=\"%s\"", gw_reasons[i]);
		gw_disconnects[i] = pl_metrics_counter("parley_gateway_disconnects_total",
		    GW_DISCONNECT_HELP, labels);
	}
	gw_m.params_refused_count = pl_metrics_counter("parley_gateway_params_refused_total", "Web API requests refused while decoding parameters, by reason.", "reason=\"count\"");
	gw_m.params_refused_key = pl_metrics_counter("parley_gateway_params_refused_total", "Web API requests refused while decoding parameters, by reason.", "reason=\"key\"");
	gw_m.params_refused_syntax = pl_metrics_counter("parley_gateway_params_refused_total", "Web API requests refused while decoding parameters, by reason.", "reason=\"syntax\"");
	gw_m.channels_capped = pl_metrics_counter("parley_gateway_channels_capped_total", "Channel subscriptions not made because the connection was at max-user-channels.", NULL);
	gw_m.http_timeouts = pl_metrics_counter("parley_gateway_http_timeouts_total", "HTTP requests whose body did not arrive within http-request-timeout-s (408).", NULL);
	gw_m.frames_in = pl_metrics_counter("parley_gateway_frames_total", "WebSocket frames.", "dir=\"in\"");
	gw_m.frames_out = pl_metrics_counter("parley_gateway_frames_total", "WebSocket frames.", "dir=\"out\"");
	gw_m.bytes_in = pl_metrics_counter("parley_gateway_bytes_total", "WebSocket payload bytes.", "dir=\"in\"");
	gw_m.bytes_out = pl_metrics_counter("parley_gateway_bytes_total", "WebSocket payload bytes.", "dir=\"out\"");
	gw_m.sendq_closes = pl_metrics_counter("parley_gateway_sendq_closes_total", "Connections closed 4008 for a full send queue.", NULL);
	gw_m.delivery_s = pl_metrics_histogram("parley_gateway_delivery_seconds", "Kafka timestamp to the end of the event's local fan-out (written or queued to every local recipient), one per event.", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	gw_m.fanout_s = pl_metrics_histogram("parley_gateway_fanout_seconds", "Writing (or queueing) one event to all its local recipients.", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	gw_m.rpc_s = pl_metrics_histogram("parley_gateway_rpc_seconds", "message-svc request latency.", NULL, PL_METRICS_LATENCY_S, PL_METRICS_LATENCY_S_N);
	gw_m.events_in = pl_metrics_counter("parley_gateway_events_total", "Kafka events consumed.", NULL);
	gw_m.events_bad = pl_metrics_counter("parley_gateway_events_undecodable_total", "Kafka events dropped as undecodable.", NULL);
	gw_m.events_delivered = pl_metrics_counter("parley_gateway_deliveries_total", "Event writes to local connections.", NULL);
	gw_m.api_calls = pl_metrics_counter("parley_gateway_api_calls_total", "Web API calls.", NULL);
	gw_m.api_limited = pl_metrics_counter("parley_gateway_api_ratelimited_total", "Web API calls answered 429.", NULL);
	gw_m.rtm_limited = pl_metrics_counter("parley_gateway_rtm_ratelimited_total", "RTM sends refused by the send rate.", NULL);
	gw_m.resumes = pl_metrics_counter("parley_gateway_resumes_total", "Resume requests.", NULL);
	gw_m.resyncs = pl_metrics_counter("parley_gateway_resyncs_total", "Channels answered resync_required.", NULL);
	gw_m.dups_dropped = pl_metrics_counter("parley_gateway_seq_dups_dropped_total", "Channel events not written because their seq was already written on the connection.", NULL);
	gw_m.resume_hold_expired = pl_metrics_counter("parley_gateway_resume_hold_expired_total", "resume=1 connections that sent no resume within the hold time.", NULL);
}

/* gw_metrics_disconnect - count one disconnect by reason */
void
gw_metrics_disconnect(const char *reason)
{
	size_t i;

	for (i = 0; i < sizeof(gw_reasons) / sizeof(gw_reasons[0]); i++) {
		if (strcmp(reason, gw_reasons[i]) == 0) {
			pl_metrics_inc(gw_disconnects[i]);
			return;
		}
	}
	pl_metrics_inc(gw_disconnects[0]);
}
