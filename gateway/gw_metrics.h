/* gw_metrics.h - metrics.c: the gateway's counters and histograms
 * (lib/metrics.h), created once at start. Gauges read a module's own state:
 * each module registers its gauges at its init. */
#ifndef GW_METRICS_H
#define GW_METRICS_H

struct pl_metric;

struct gw_metrics {
	struct pl_metric *conns;
	struct pl_metric *connects;
	struct pl_metric *refused_limit, *refused_origin, *refused_auth;
	struct pl_metric *refused_user, *refused_ip, *refused_proxy_header,
	    *refused_proxy_untrusted;
	struct pl_metric *frames_in, *frames_out, *bytes_in, *bytes_out;
	struct pl_metric *sendq_closes;
	struct pl_metric *delivery_s, *fanout_s;
	struct pl_metric *rpc_s;
	struct pl_metric *events_in, *events_bad, *events_delivered;
	struct pl_metric *api_calls, *api_limited;
	struct pl_metric *rtm_limited;
	struct pl_metric *resumes, *resyncs;
	struct pl_metric *dups_dropped, *resume_hold_expired;
	struct pl_metric *channels_capped;
	struct pl_metric *http_timeouts;
	struct pl_metric *params_refused_count, *params_refused_key,
	    *params_refused_syntax;
};
extern struct gw_metrics gw_m;
void gw_metrics_init(void);
/* disconnect counter by reason */
void gw_metrics_disconnect(const char *reason);

#endif
