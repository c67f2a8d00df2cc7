/* memview.c - the in-memory view of the connection sets, used while Redis
 * fails (Redis is a cache: presence keeps working, on this instance's view
 * only). Sessions live in one table keyed "user|session" (aux = team),
 * stamped with the monotonic time they were last seen, so the oldest expire
 * first; users in another, whose n counts their sessions here. Bounded by
 * mem-max sessions: beyond it a session is not tracked (counted). */
#include <stdio.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "presence.h"

static struct {
	struct ps_table *sessions;
	struct ps_table *users;
	struct pl_metric *full;
} ps_mv;

/* ps_memview_size - sessions held, for /metrics */
static double
ps_memview_size(void *arg)
{
	(void)arg;
	return ps_mv.sessions ? (double)ps_table_count(ps_mv.sessions) : 0;
}

/* ps_memview_init - both tables and the counters */
void
ps_memview_init(void)
{
	ps_mv.sessions = ps_table_create((size_t)ps_conf.mem_max);
	ps_mv.users = ps_table_create((size_t)ps_conf.mem_max);
	ps_mv.full = pl_metrics_counter("parley_presence_memview_full_total",
	    "Sessions the in-memory view could not track (full).", NULL);
	pl_metrics_gauge_fn("parley_presence_memview_sessions",
	    "Sessions in the in-memory view (Redis failed while they reported).",
	    NULL, ps_memview_size, NULL);
}

/* ps_memview_key - "user|session" */
static void
ps_memview_key(char *key, size_t size, const char *user, const char *session)
{
	snprintf(key, size, "%s%c%s", user, PS_SEP, session);
}

/* ps_memview_count - add d to user's session count; frees it at zero */
static int64_t
ps_memview_count(const char *user, int64_t d)
{
	struct ps_entry *u = ps_table_get(ps_mv.users, user);
	int64_t n;
	int created;

	if (u == NULL && (d <= 0 || ps_table_put(ps_mv.users, user, 0, &u, &created) != 0))
		return 0;
	n = u->n += d;
	if (n <= 0)
		ps_table_del(ps_mv.users, u);
	return n;
}

/* ps_memview_touch - add or refresh a session */
int
ps_memview_touch(const char *user, const char *team, const char *session,
    uint64_t now_ms)
{
	char key[2 * PS_ID_MAX + 2];
	struct ps_entry *e;
	int created;

	ps_memview_key(key, sizeof(key), user, session);
	if (ps_table_put(ps_mv.sessions, key, now_ms, &e, &created) != 0) {
		pl_metrics_inc(ps_mv.full);
		return PL_ETOOBIG;
	}
	if (!created)
		return 0;
	e->aux = pl_strdup(team);
	return ps_memview_count(user, 1) == 1;
}

/* ps_memview_drop - remove a session */
int
ps_memview_drop(const char *user, const char *session, int64_t *left_r)
{
	char key[2 * PS_ID_MAX + 2];
	struct ps_entry *e;

	ps_memview_key(key, sizeof(key), user, session);
	if ((e = ps_table_get(ps_mv.sessions, key)) == NULL) {
		*left_r = ps_memview_count(user, 0);
		return 0;
	}
	ps_table_del(ps_mv.sessions, e);
	*left_r = ps_memview_count(user, -1);
	return 1;
}

/* ps_memview_forget - Redis holds the session again: drop it here silently */
int64_t
ps_memview_forget(const char *user, const char *session)
{
	int64_t before = ps_memview_count(user, 0), left;

	if (before > 0)
		(void)ps_memview_drop(user, session, &left);
	return before;
}

/* ps_memview_expire - sessions not seen for ttl_ms go; gone() per emptied user */
void
ps_memview_expire(uint64_t now_ms, uint64_t ttl_ms, ps_memview_gone_fn gone)
{
	char user[PS_ID_MAX + 1], team[PS_ID_MAX + 1], *sep;
	struct ps_entry *e;

	while ((e = ps_table_oldest(ps_mv.sessions)) != NULL && now_ms - e->at_ms >= ttl_ms) {
		snprintf(user, sizeof(user), "%s", e->key);
		if ((sep = strchr(user, PS_SEP)) != NULL)
			*sep = '\0';
		snprintf(team, sizeof(team), "%s", e->aux ? e->aux : "");
		ps_table_del(ps_mv.sessions, e);
		if (ps_memview_count(user, -1) == 0)
			gone(user, team);
	}
}

/* ps_memview_fini - free both tables */
void
ps_memview_fini(void)
{
	ps_table_free(&ps_mv.sessions);
	ps_table_free(&ps_mv.users);
}
