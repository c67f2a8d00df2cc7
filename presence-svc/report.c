/* report.c - reports the gateways push to presence-svc (connect, disconnect,
 * heartbeat, activity, typing) arrive as Envelopes; each is decoded and
 * counted by type, and undecodable ones are counted and dropped. */
#include <ctype.h>
#include <stdio.h>

#include "log.h"
#include "metrics.h"
#include "parley.pb-c.h"
#include "presence.h"

#define PS_REPORT_TYPES 64	/* EventType values are below this */
#define PS_REPORTS_HELP "Reports pushed by gateways, by type."

static struct {
	struct pl_metric *by_type[PS_REPORT_TYPES];
	struct pl_metric *undecodable;
} ps_report;

/* ps_report_init - the counters that exist from the start */
void
ps_report_init(void)
{
	ps_report.undecodable = pl_metrics_counter("parley_presence_undecodable_total",
	    "Pushed reports that are not an Envelope (dropped).", NULL);
	ps_report.by_type[0] = pl_metrics_counter("parley_presence_reports_total",
	    PS_REPORTS_HELP, "type=\"unknown\"");
}

/* ps_report_metric - the counter of one event type, made on first use */
static struct pl_metric *
ps_report_metric(int type)
{
	const ProtobufCEnumValue *v = NULL;
	char labels[96];
	int i, n;

	if (type > 0 && type < PS_REPORT_TYPES)
		v = protobuf_c_enum_descriptor_get_value(&parley__event_type__descriptor, type);
	if (v == NULL)
		return ps_report.by_type[0];	/* every unknown value */
	if (ps_report.by_type[type] == NULL) {
		n = snprintf(labels, sizeof(labels), "type=\"%s\"", v->name);
		for (i = 6; i < n; i++)
			labels[i] = (char)tolower((unsigned char)labels[i]);
		ps_report.by_type[type] = pl_metrics_counter("parley_presence_reports_total",
		    PS_REPORTS_HELP, labels);
	}
	return ps_report.by_type[type];
}

/* ps_report_recv - one pushed report (req is NULL: push/pull has no reply) */
void
ps_report_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg)
{
	Parley__Envelope *env = parley__envelope__unpack(NULL, len, data);

	if (env == NULL) {
		pl_metrics_inc(ps_report.undecodable);
		pl_log_warn("PS-UNDECODABLE", "len=%zu", len);
		return;
	}
	pl_metrics_inc(ps_report_metric((int)env->type));
	pl_log_debug("PS-REPORT", "type=%d team=%s", (int)env->type, env->team);
	parley__envelope__free_unpacked(env, NULL);
}
