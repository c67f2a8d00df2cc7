/* publish.c - presence-svc's Envelopes on parley.presence, key = team, from
 * the idempotent producer (acks=all). Typing and presence changes are soft
 * state: a failed produce is counted and logged, never retried - the next
 * typing frame or heartbeat repairs it. */
#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "metrics.h"
#include "names.h"
#include "parley.pb-c.h"
#include "presence.h"

#define PS_PUBLISH_MAX 512	/* ids and a word: far below this */

enum ps_kind { PS_KIND_TYPING, PS_KIND_ACTIVE, PS_KIND_AWAY, PS_KIND_MANUAL, PS_KINDS };

static struct {
	struct pl_kafka_producer *producer;
	struct pl_metric *published[PS_KINDS];
	struct pl_metric *errors;
} ps_pub;

/* ps_publish_init - metrics and the producer to use */
void
ps_publish_init(struct pl_kafka_producer *producer)
{
	ps_pub.producer = producer;
	ps_pub.published[PS_KIND_TYPING] = pl_metrics_counter("parley_presence_typing_published_total",
	    "user_typing events acknowledged by Kafka.", NULL);
	ps_pub.published[PS_KIND_ACTIVE] = pl_metrics_counter("parley_presence_changes_published_total",
	    "presence_change events acknowledged by Kafka.", "presence=\"active\"");
	ps_pub.published[PS_KIND_AWAY] = pl_metrics_counter("parley_presence_changes_published_total",
	    "presence_change events acknowledged by Kafka.", "presence=\"away\"");
	ps_pub.published[PS_KIND_MANUAL] = pl_metrics_counter("parley_presence_manual_published_total",
	    "manual_presence_change events (users.setPresence) acknowledged by Kafka.", NULL);
	ps_pub.errors = pl_metrics_counter("parley_presence_produce_errors_total",
	    "Events Kafka refused or did not acknowledge (dropped).", NULL);
}

/* ps_publish_dr - the broker's answer for one event */
static void
ps_publish_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	enum ps_kind k = (enum ps_kind)(intptr_t)opaque;

	if (rv == 0) {
		pl_metrics_inc(ps_pub.published[k]);
		return;
	}
	pl_metrics_inc(ps_pub.errors);
	pl_log_warn("PS-PRODUCE-FAILED", "kind=%d err=%s", (int)k, pl_err_str(rv));
}

/* ps_publish - encode env and produce it with key = team */
static int
ps_publish(Parley__Envelope *env, enum ps_kind k)
{
	uint8_t buf[PS_PUBLISH_MAX];
	size_t n = parley__envelope__get_packed_size(env);
	int rv = PL_ETOOBIG;

	if (ps_pub.producer == NULL)
		rv = PL_ECLOSED;
	else if (n <= sizeof(buf)) {
		parley__envelope__pack(env, buf);
		rv = pl_kafka_produce(ps_pub.producer, PL_TOPIC_PRESENCE, -1, env->team,
		    strlen(env->team), buf, n, ps_publish_dr, (void *)(intptr_t)k);
	}
	if (rv != 0) {
		pl_metrics_inc(ps_pub.errors);
		pl_log_warn("PS-PRODUCE-REFUSED", "kind=%d team=%s err=%s", (int)k,
		    env->team, pl_err_str(rv));
	}
	return rv;
}

/* ps_publish_body - one Presence envelope of type t */
static int
ps_publish_body(Parley__EventType t, enum ps_kind k, const char *user,
    const char *team, const char *presence, const char *channel)
{
	Parley__Envelope env = PARLEY__ENVELOPE__INIT;
	Parley__Presence p = PARLEY__PRESENCE__INIT;
	char key[256];

	env.type = t;
	env.version = PL_ENVELOPE_VERSION;
	env.produced_us = (int64_t)pl_clock_wall_us();
	snprintf(key, sizeof(key), "ps:%s:%s:%s:%lld", user, presence, channel,
	    (long long)env.produced_us);
	env.idempotency_key = key;
	env.team = (char *)team;
	p.user = (char *)user;
	p.team = (char *)team;
	p.presence = (char *)presence;
	p.channel = (char *)channel;
	env.body_case = PARLEY__ENVELOPE__BODY_PRESENCE;
	env.presence = &p;
	return ps_publish(&env, k);
}

/* ps_publish_typing - USER_TYPING of user in channel */
int
ps_publish_typing(const char *user, const char *team, const char *channel)
{
	return ps_publish_body(PARLEY__EVENT_TYPE__USER_TYPING, PS_KIND_TYPING,
	    user, team, "", channel);
}

/* ps_publish_presence - PRESENCE_CHANGE of user to "active" or "away" */
int
ps_publish_presence(const char *user, const char *team, const char *presence)
{
	enum ps_kind k = strcmp(presence, PS_ACTIVE) == 0 ? PS_KIND_ACTIVE : PS_KIND_AWAY;

	pl_log_info("PS-PRESENCE", "user=%s team=%s presence=%s", user, team, presence);
	return ps_publish_body(PARLEY__EVENT_TYPE__PRESENCE_CHANGE, k, user, team,
	    presence, "");
}

/* ps_publish_manual - MANUAL_PRESENCE_CHANGE of user: "away" set, or
 * "active" (back to auto), for the user's own sessions */
int
ps_publish_manual(const char *user, const char *team, int away)
{
	return ps_publish_body(PARLEY__EVENT_TYPE__MANUAL_PRESENCE_CHANGE,
	    PS_KIND_MANUAL, user, team,
	    away ? PS_AWAY : PS_ACTIVE, "");
}

/* ps_publish_fini - the producer is going away */
void
ps_publish_fini(void)
{
	ps_pub.producer = NULL;
}
