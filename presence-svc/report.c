/* report.c - reports the gateways push to presence-svc (presence_clnt.h):
 * Envelopes of type PRESENCE_CHANGE whose Presence.presence says connect,
 * disconnect, heartbeat, poll (an events.poll client, a heartbeat of its
 * own session) or activity (a sent message, RTM user_active; no session),
 * and USER_TYPING with the channel. Each is
 * decoded, checked, counted by kind and handed to its handler; undecodable
 * and invalid ones are counted and dropped (invariant 4). */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "parley.pb-c.h"
#include "presence.h"

#define PS_REPORTS_HELP "Reports pushed by gateways, by kind."

/* one kind of report: what it needs and who handles it */
struct ps_report_kind {
	Parley__EventType type;
	const char *what;	/* Presence.presence; NULL: any (typing) */
	int needs_session;
	int needs_channel;
	void (*handle)(const struct ps_report *r);
	struct pl_metric *count;
};

/* ps_report_typing - typing goes to the throttle */
static void
ps_report_typing(const struct ps_report *r)
{
	ps_typing_report(r, pl_clock_mono_ms());
}

static struct ps_report_kind ps_kinds[] = {
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, "connect", 1, 0, ps_conns_touch, NULL },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, "heartbeat", 1, 0, ps_conns_beat, NULL },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, "disconnect", 1, 0, ps_conns_drop, NULL },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, "poll", 1, 0, ps_conns_beat, NULL },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, "activity", 0, 0, ps_conns_activity, NULL },
	{ PARLEY__EVENT_TYPE__USER_TYPING, NULL, 0, 1, ps_report_typing, NULL },
};
#define PS_KINDS (sizeof(ps_kinds) / sizeof(ps_kinds[0]))

static struct {
	struct pl_metric *undecodable;
	struct pl_metric *invalid;
} ps_report;

/* ps_report_init - the counters, every one from the start */
void
ps_report_init(void)
{
	char labels[64];
	size_t i;

	ps_report.undecodable = pl_metrics_counter("parley_presence_undecodable_total",
	    "Pushed reports that are not an Envelope (dropped).", NULL);
	ps_report.invalid = pl_metrics_counter("parley_presence_invalid_total",
	    "Reports of an unknown kind or with missing or bad ids (dropped).", NULL);
	for (i = 0; i < PS_KINDS; i++) {
		snprintf(labels, sizeof(labels), "type=\"%s\"",
		    ps_kinds[i].what ? ps_kinds[i].what : "typing");
		ps_kinds[i].count = pl_metrics_counter("parley_presence_reports_total",
		    PS_REPORTS_HELP, labels);
	}
}

/* ps_report_kind - the kind of env, or NULL */
static struct ps_report_kind *
ps_report_kind(const Parley__Envelope *env)
{
	const char *what = env->presence->presence;
	size_t i;

	for (i = 0; i < PS_KINDS; i++)
		if (ps_kinds[i].type == env->type && (ps_kinds[i].what == NULL ||
		    (what != NULL && strcmp(ps_kinds[i].what, what) == 0)))
			return &ps_kinds[i];
	return NULL;
}

/* ps_report_id - a non-empty id that fits and has no separator */
static int
ps_report_id(const char *s)
{
	size_t n = s ? strlen(s) : 0;

	return n > 0 && n <= PS_ID_MAX && strchr(s, PS_SEP) == NULL;
}

/* ps_report_check - the ids kind k needs are there and sane */
static int
ps_report_check(const struct ps_report_kind *k, const struct ps_report *r)
{
	return ps_report_id(r->user) && ps_report_id(r->team) &&
	    (!k->needs_session || ps_report_id(r->session)) &&
	    (!k->needs_channel || ps_report_id(r->channel));
}

/* ps_report_env - dispatch one decoded envelope */
static void
ps_report_env(const Parley__Envelope *env)
{
	const Parley__Presence *p = env->presence;
	struct ps_report_kind *k;
	struct ps_report r;

	if (env->body_case != PARLEY__ENVELOPE__BODY_PRESENCE || p == NULL ||
	    (k = ps_report_kind(env)) == NULL) {
		pl_metrics_inc(ps_report.invalid);
		pl_log_debug("PS-REPORT-UNKNOWN", "type=%d", (int)env->type);
		return;
	}
	r = (struct ps_report){ .what = p->presence, .user = p->user,
	    .team = p->team, .session = p->session, .gateway = p->gateway,
	    .channel = p->channel };
	pl_metrics_inc(k->count);
	if (!ps_report_check(k, &r)) {
		pl_metrics_inc(ps_report.invalid);
		pl_log_debug("PS-REPORT-INVALID", "type=%d", (int)env->type);
		return;
	}
	pl_log_debug("PS-REPORT", "what=%s user=%s team=%s session=%s gateway=%s",
	    k->what ? k->what : "typing", r.user, r.team, r.session, r.gateway);
	k->handle(&r);
}

/* ps_report_recv - one pushed report (req is NULL: push/pull has no reply) */
void
ps_report_recv(struct pl_rpc_req *req, const void *data, size_t len, void *arg)
{
	Parley__Envelope *env = parley__envelope__unpack(NULL, len, data);

	(void)req;
	(void)arg;
	if (env == NULL) {
		pl_metrics_inc(ps_report.undecodable);
		pl_log_warn("PS-UNDECODABLE", "len=%zu", len);
		return;
	}
	ps_report_env(env);
	parley__envelope__free_unpacked(env, NULL);
}
