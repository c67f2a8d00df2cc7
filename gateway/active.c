/* active.c - whose tokens still count: the users deactivated since their
 * token was signed are refused.
 *
 * A user token is a signed JWT, valid until it expires whatever happened to
 * its user since. admin.users.remove marks the user deleted in the
 * directory, then announces USER_CHANGED (deleted) on parley.events (key =
 * team), which every gateway process consumes (fanout.c ->
 * gw_active_deactivated): the user's entry here turns DELETED, then
 * fanout.c closes its WebSockets with 4004 and answers its held polls
 * account_inactive.
 *
 * Web API calls (events.poll and rtm.connect included) ask first: an entry
 * younger than PARLEY_AUTH_CHECK_S answers at once; otherwise message-svc's
 * session.check (one request per user, concurrent callers wait on it) reads
 * the directory row. A deletion seen on the topic is never undone by an
 * answer that was in flight: the row was written before the event, so a
 * check that said "active" had read it before, and loses. session.boot
 * refuses a deleted user too, so a socket (or a gateway started after the
 * event, with an empty table) never becomes live for one.
 *
 * So a cached "active" outlives a deactivation by the consumer's latency
 * (milliseconds; the 4004 test waits for it), or by PARLEY_AUTH_CHECK_S only
 * if the gateway never sees the event at all.
 *
 * Bounded: at most PARLEY_AUTH_CACHE entries; a sweep every 10 s drops the
 * expired ones; when the table is full an answer is used but not kept (each
 * call then asks). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_cache.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "slack_err.h"
#include "strmap.h"

#define GW_ACTIVE_SWEEP_MS 10000

enum { GW_ACT_ASKING, GW_ACT_ACTIVE, GW_ACT_DELETED, GW_ACT_UNKNOWN };

struct gw_active_wait {
	struct gw_active_wait *next;
	gw_active_fn fn;
	void *arg;
};

struct gw_active_ent {
	char user[GW_ID_MAX + 1];
	int state;
	int asking;			/* a session.check is out */
	uint64_t at_ms;			/* monotonic time of the answer */
	struct gw_active_wait *waiters;
};

static struct {
	struct pl_strmap *users;		/* user id -> struct gw_active_ent */
	struct pl_timer *sweep;
	struct pl_metric *checks, *deactivated;
} gw_act;

/* gw_active_fresh - the entry's answer may still be used */
static int
gw_active_fresh(const struct gw_active_ent *e, uint64_t now)
{
	return e->state == GW_ACT_DELETED ||
	    now - e->at_ms < (uint64_t)gw_conf.auth_check_s * 1000;
}

/* gw_active_rv - the answer of a settled entry */
static int
gw_active_rv(const struct gw_active_ent *e)
{
	if (e->state == GW_ACT_DELETED)
		return PL_EPERM;
	return e->state == GW_ACT_UNKNOWN ? PL_ENOTFOUND : 0;
}

/* gw_active_drop - forget e (no check in flight) */
static void
gw_active_drop(struct gw_active_ent *e)
{
	pl_strmap_del(gw_act.users, e->user);
	free(e);
}

/* gw_active_answered - session.check answered: settle, run the waiters */
static void
gw_active_answered(int rv, Parley__Reply *reply, void *arg)
{
	char *user = arg;
	struct gw_active_ent *e = gw_act.users ? pl_strmap_get(gw_act.users, user) : NULL;
	struct gw_active_wait *w, *next;
	int res;

	free(user);
	if (e == NULL)
		return;			/* fini */
	e->asking = 0;
	if (rv == 0 && reply != NULL && reply->ok)
		res = 0;
	else if (rv == 0 && reply != NULL && reply->error &&
	    strcmp(reply->error, "account_inactive") == 0)
		res = PL_EPERM;
	else if (rv == 0 && reply != NULL && reply->error &&
	    strcmp(reply->error, "invalid_auth") == 0)
		res = PL_ENOTFOUND;
	else
		res = rv != 0 ? rv : PL_EUNAVAIL;
	if (e->state != GW_ACT_DELETED && (res == 0 || res == PL_EPERM || res == PL_ENOTFOUND)) {
		e->state = res == 0 ? GW_ACT_ACTIVE : res == PL_EPERM ? GW_ACT_DELETED :
		    GW_ACT_UNKNOWN;
		e->at_ms = pl_clock_mono_ms();
	}
	if (e->state == GW_ACT_DELETED)
		res = PL_EPERM;
	w = e->waiters;
	e->waiters = NULL;
	/* failures are not kept; nor is anything when the table is over its
	 * bound (the entry only existed to share this one request) */
	if (e->state == GW_ACT_ASKING ||
	    pl_strmap_count(gw_act.users) > (size_t)gw_conf.auth_cache)
		gw_active_drop(e);
	for (; w != NULL; w = next) {
		next = w->next;
		w->fn(res, w->arg);
		free(w);
	}
}

/* gw_active_ask - send session.check for user of team */
static void
gw_active_ask(struct gw_active_ent *e, const char *team)
{
	Parley__Request req;
	Parley__Caller caller;
	char *user = pl_strdup(e->user);
	int rv;

	e->asking = 1;
	pl_metrics_inc(gw_act.checks);
	pl_request_init(&req, "session.check");
	gw_request_caller(&req, &caller, e->user, team, 0, "");
	req.source = "web";
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_active_answered, user);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_active_answered(rv, NULL, user);
}

/* gw_active_check - fn(0) if user may go on, fn(PL_EPERM) deactivated,
 * fn(PL_ENOTFOUND) no such user of team, else fn(rpc error). fn may run
 * before this returns. */
void
gw_active_check(const char *user, const char *team, gw_active_fn fn, void *arg)
{
	struct gw_active_ent *e = pl_strmap_get(gw_act.users, user);
	struct gw_active_wait *w;

	if (e != NULL && !e->asking && gw_active_fresh(e, pl_clock_mono_ms())) {
		fn(gw_active_rv(e), arg);
		return;
	}
	if (e == NULL) {
		e = pl_calloc(1, sizeof(*e));
		snprintf(e->user, sizeof(e->user), "%s", user);
		e->state = GW_ACT_ASKING;
		pl_strmap_put(gw_act.users, e->user, e);
	}
	w = pl_calloc(1, sizeof(*w));
	w->fn = fn;
	w->arg = arg;
	w->next = e->waiters;
	e->waiters = w;
	if (!e->asking)
		gw_active_ask(e, team);
}

/* gw_active_deleted - 1 if user is known to be deactivated */
int
gw_active_deleted(const char *user)
{
	struct gw_active_ent *e = gw_act.users ? pl_strmap_get(gw_act.users, user) : NULL;

	return e != NULL && e->state == GW_ACT_DELETED;
}

/* gw_active_deactivated - USER_CHANGED (deleted) from parley.events: refuse
 * the user from now on (fanout.c then ends its local connections) */
void
gw_active_deactivated(const char *user)
{
	struct gw_active_ent *e = pl_strmap_get(gw_act.users, user);
	struct gw_user *u = gw_cache_user(user);

	if (e == NULL) {
		e = pl_calloc(1, sizeof(*e));
		snprintf(e->user, sizeof(e->user), "%s", user);
		pl_strmap_put(gw_act.users, e->user, e);
	}
	e->state = GW_ACT_DELETED;
	e->at_ms = pl_clock_mono_ms();
	pl_metrics_inc(gw_act.deactivated);
	pl_log_info("GW-USER-DEACTIVATED", "user=%s conns=%zu", user,
	    u != NULL ? u->conns.n : (size_t)0);
}

/* gw_active_sweep_one - collect an expired entry with no check out */
static void
gw_active_sweep_one(const char *key, void *val, void *arg)
{
	struct gw_active_ent *e = val;
	struct pl_buf *dead = arg;
	uint64_t now = pl_clock_mono_ms();

	(void)key;
	if (!e->asking && now - e->at_ms >= (uint64_t)gw_conf.auth_check_s * 1000)
		pl_buf_append(dead, &e, sizeof(e));
}

/* gw_active_sweep - drop expired entries (deleted ones too: the directory
 * still says deleted when asked again) */
static void
gw_active_sweep(void *arg)
{
	struct pl_buf dead;
	size_t i;

	(void)arg;
	pl_buf_init(&dead);
	pl_strmap_each(gw_act.users, gw_active_sweep_one, &dead);
	for (i = 0; i < dead.len / sizeof(struct gw_active_ent *); i++)
		gw_active_drop(((struct gw_active_ent **)dead.data)[i]);
	pl_buf_fini(&dead);
}

/* gw_active_count - entries, for the gauge */
static double
gw_active_count(void *arg)
{
	(void)arg;
	return gw_act.users ? (double)pl_strmap_count(gw_act.users) : 0;
}

/* gw_active_init - the table, its sweep and metrics */
int
gw_active_init(void)
{
	gw_act.users = pl_strmap_create();
	gw_act.checks = pl_metrics_counter("parley_gateway_auth_checks_total",
	    "session.check requests sent (a user's active state not cached).", NULL);
	gw_act.deactivated = pl_metrics_counter("parley_gateway_users_deactivated_total",
	    "Deactivations applied from parley.events.", NULL);
	pl_metrics_gauge_fn("parley_gateway_auth_cache", "Users whose active state is cached.",
	    NULL, gw_active_count, NULL);
	return pl_loop_timer(gw.loop, GW_ACTIVE_SWEEP_MS, 1, gw_active_sweep, NULL,
	    &gw_act.sweep);
}

/* gw_active_free_one - fini: an entry and its waiters (never run) */
static void
gw_active_free_one(const char *key, void *val, void *arg)
{
	struct gw_active_ent *e = val;
	struct gw_active_wait *w;

	(void)key;
	(void)arg;
	while ((w = e->waiters) != NULL) {
		e->waiters = w->next;
		free(w);
	}
	free(e);
}

/* gw_active_fini - stop the sweep, free the table (late answers find nothing) */
void
gw_active_fini(void)
{
	pl_loop_timer_stop(&gw_act.sweep);
	if (gw_act.users != NULL)
		pl_strmap_each(gw_act.users, gw_active_free_one, NULL);
	pl_strmap_free(&gw_act.users, NULL);
}

/* gw_active_err_code - Slack's error code of a refusal */
const char *
gw_active_err_code(int rv)
{
	if (rv == PL_EPERM)
		return "account_inactive";
	if (rv == PL_ENOTFOUND)
		return "invalid_auth";
	return pl_slack_rpc_error(rv);
}
