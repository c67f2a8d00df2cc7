/* typing.c - typing indicators: at most one user_typing per (user, channel)
 * per typing-ms, whatever the number of the user's sockets and gateways.
 * The throttle remembers each pair for typing-ms only (an expiring table of
 * at most typing-max entries); when it is full of live pairs the report is
 * dropped and counted - typing is ephemeral and never persisted. */
#include <stdio.h>

#include "err.h"
#include "log.h"
#include "metrics.h"
#include "presence.h"

static struct {
	struct ps_table *seen;	/* "user|channel" -> when it was last published */
	struct pl_metric *throttled;
	struct pl_metric *full;
} ps_typing;

/* ps_typing_size - the throttle's entries for /metrics */
static double
ps_typing_size(void *arg)
{
	(void)arg;
	return ps_typing.seen ? (double)ps_table_count(ps_typing.seen) : 0;
}

/* ps_typing_init - the table and its counters */
void
ps_typing_init(void)
{
	ps_typing.seen = ps_table_create((size_t)ps_conf.typing_max);
	ps_typing.throttled = pl_metrics_counter("parley_presence_typing_throttled_total",
	    "Typing reports inside the throttle window of their (user, channel) (dropped).", NULL);
	ps_typing.full = pl_metrics_counter("parley_presence_typing_dropped_total",
	    "Typing reports dropped because the throttle table was full.", NULL);
	pl_metrics_gauge_fn("parley_presence_typing_entries",
	    "(user, channel) pairs the typing throttle remembers.", NULL, ps_typing_size, NULL);
}

/* ps_typing_expire - forget pairs whose window has passed */
void
ps_typing_expire(uint64_t now_ms)
{
	struct ps_entry *e;

	while ((e = ps_table_oldest(ps_typing.seen)) != NULL &&
	    now_ms - e->at_ms >= (uint64_t)ps_conf.typing_ms)
		ps_table_del(ps_typing.seen, e);
}

/* ps_typing_report - publish r unless its pair is inside its window */
void
ps_typing_report(const struct ps_report *r, uint64_t now_ms)
{
	struct ps_entry *e;
	char key[2 * PS_ID_MAX + 2];
	int created;

	ps_typing_expire(now_ms);
	snprintf(key, sizeof(key), "%s%c%s", r->user, PS_SEP, r->channel);
	if ((e = ps_table_get(ps_typing.seen, key)) != NULL) {
		pl_metrics_inc(ps_typing.throttled);
		return;
	}
	if (ps_table_put(ps_typing.seen, key, now_ms, &e, &created) != 0) {
		pl_metrics_inc(ps_typing.full);
		if ((uint64_t)pl_metrics_value(ps_typing.full) % 1000 == 1)	/* not a flood */
			pl_log_warn("PS-TYPING-FULL", "entries=%zu dropped=%.0f",
			    ps_table_count(ps_typing.seen), pl_metrics_value(ps_typing.full));
		return;
	}
	(void)ps_publish_typing(r->user, r->team, r->channel);
}

/* ps_typing_fini - free the table */
void
ps_typing_fini(void)
{
	ps_table_free(&ps_typing.seen);
}
