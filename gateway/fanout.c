/* fanout.c - the gateway's consumer of parley.messages, parley.events and
 * parley.presence: every partition, explicitly assigned, from the end (no
 * group, no rebalancing). Each Envelope is decoded, applied to the edge
 * cache if it changes membership, rendered ONCE with pl_event_json into a
 * shared blob, and written to every local connection that may see it.
 *
 * Who may see what is a table by event type (members of the channel, the
 * team, the user's own connections, presence watchers), so invariant 3 is
 * decided in one place. Joins subscribe before delivery (the new member sees
 * its join); leaves deliver first, then unsubscribe (nothing after). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "event_json.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_blob.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_fanout.h"
#include "gw_members.h"
#include "gw_metrics.h"
#include "gw_poll.h"
#include "gw_resume.h"
#include "gw_services.h"
#include "gw_set.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "ops.h"

enum gw_audience {
	GW_TO_CHANNEL,		/* local members of the channel */
	GW_TO_CHANNEL_OTHERS,	/* members but the acting user (typing) */
	GW_TO_TEAM,		/* every local connection of the team */
	GW_TO_USER,		/* the user's own connections */
	GW_TO_WATCHERS,		/* presence_sub of the user, same team */
};
enum gw_effect { GW_FX_NONE, GW_FX_JOIN, GW_FX_LEAVE, GW_FX_CREATE };

struct gw_event_rule {
	Parley__EventType type;
	enum gw_audience to;
	enum gw_effect fx;
};

static const struct gw_event_rule gw_rules[] = {
	{ PARLEY__EVENT_TYPE__MESSAGE_CREATED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__MESSAGE_CHANGED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__MESSAGE_DELETED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__REACTION_ADDED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__REACTION_REMOVED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__CHANNEL_JOIN, GW_TO_CHANNEL, GW_FX_JOIN },
	{ PARLEY__EVENT_TYPE__CHANNEL_LEAVE, GW_TO_CHANNEL, GW_FX_LEAVE },
	{ PARLEY__EVENT_TYPE__CHANNEL_CREATED, GW_TO_TEAM, GW_FX_CREATE },
	{ PARLEY__EVENT_TYPE__CHANNEL_RENAMED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__CHANNEL_ARCHIVED, GW_TO_CHANNEL, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__MEMBER_JOINED, GW_TO_CHANNEL, GW_FX_JOIN },
	{ PARLEY__EVENT_TYPE__MEMBER_LEFT, GW_TO_CHANNEL, GW_FX_LEAVE },
	{ PARLEY__EVENT_TYPE__CHANNEL_MARKED, GW_TO_USER, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__USER_TYPING, GW_TO_CHANNEL_OTHERS, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, GW_TO_WATCHERS, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__USER_CHANGED, GW_TO_TEAM, GW_FX_NONE },
	{ PARLEY__EVENT_TYPE__DND_UPDATED, GW_TO_USER, GW_FX_NONE },	/* + watchers */
	{ PARLEY__EVENT_TYPE__MANUAL_PRESENCE_CHANGE, GW_TO_USER, GW_FX_NONE },
};

/* what an envelope is about, whatever its body */
struct gw_event_key {
	const char *channel;
	const char *user;
	const char *team;
	const char *kind;
	struct gw_chan *ch;	/* the channel's cache entry (GW_TO_CHANNEL) */
	int64_t seq;
	int is_public;
};

static struct pl_kafka_consumer *gw_consumer;

/* PARLEY_TEST_EVENTS_LAG_MS (tests only): parley.events envelopes wait this
 * long before they are applied, in order, so that a test can make a
 * channel's first message arrive before its membership event (members.c) */
struct gw_lagged {
	void *payload;
	size_t len;
	int64_t ts_ms;
	uint64_t due_ms;
};
static struct {
	struct gw_lagged *v;
	uint32_t head, n, cap;
	struct pl_timer *timer;
} gw_lag;
static const char *const gw_topics[] = {
	PL_TOPIC_MESSAGES, PL_TOPIC_EVENTS, PL_TOPIC_PRESENCE,
};

/* gw_fanout_key - channel, user, team and seq of env. The body is a
 * protobuf oneof (a union): only the member named by body_case is valid. */
static void
gw_fanout_key(const Parley__Envelope *env, struct gw_event_key *k)
{
	const char *team = NULL;

	memset(k, 0, sizeof(*k));
	k->team = env->team;
	switch (env->body_case) {
	case PARLEY__ENVELOPE__BODY_MESSAGE:
		k->channel = env->message->channel;
		k->user = env->message->user;
		k->seq = env->message->seq;
		team = env->message->team;
		break;
	case PARLEY__ENVELOPE__BODY_MEMBERSHIP:
		k->channel = env->membership->channel;
		k->user = env->membership->user;
		k->kind = env->membership->kind;
		team = env->membership->team;
		break;
	case PARLEY__ENVELOPE__BODY_CHANNEL:
		k->channel = env->channel->id;
		k->kind = env->channel->kind;
		k->user = env->channel->creator;
		k->is_public = env->channel->kind == NULL || strcmp(env->channel->kind, "public") == 0;
		team = env->channel->team;
		break;
	case PARLEY__ENVELOPE__BODY_USER:
		k->user = env->user->id;
		k->is_public = 1;	/* user_change goes to the whole team */
		team = env->user->team;
		break;
	case PARLEY__ENVELOPE__BODY_PRESENCE:
		k->channel = env->presence->channel;
		k->user = env->presence->user;
		team = env->presence->team;
		break;
	case PARLEY__ENVELOPE__BODY_DND:
		k->user = env->dnd->user;
		team = env->dnd->team;
		break;
	default:
		break;
	}
	if (team != NULL && *team)
		k->team = team;
}

/* gw_fanout_created - a new channel's members (a DM's, a group's, the
 * creator of any) are subscribed at CHANNEL_CREATED, the first event of the
 * channel on parley.events: so a channel this gateway learns from the events
 * topic is never known with only part of its local members */
static void
gw_fanout_created(const Parley__Envelope *env, const struct gw_event_key *k)
{
	size_t i;

	if (env->body_case != PARLEY__ENVELOPE__BODY_CHANNEL || k->channel == NULL)
		return;
	for (i = 0; i < env->channel->n_members; i++)
		gw_cache_join(env->channel->members[i], k->channel, k->team, k->kind);
	if (env->channel->n_members == 0 && k->user != NULL)
		gw_cache_join(k->user, k->channel, k->team, k->kind);
}

/* gw_fanout_one - deliver b to c (or hold it while c resumes) */
static void
gw_fanout_one(struct gw_conn *c, struct gw_blob *b, const struct gw_event_key *k)
{
	if (c->state != GW_CONN_LIVE)
		return;
	if (c->poll != NULL) {
		gw_poll_event(c, b, k->channel, k->seq);
		return;
	}
	if (c->resume != NULL && gw_resume_hold(c, b, k->channel, k->seq))
		return;
	if (gw_conn_send_seq(c, b, k->ch, k->seq) == 0)
		pl_metrics_inc(gw_m.events_delivered);
}

/* gw_fanout_set - deliver to a set (a copy: a slow close may change it) */
static void
gw_fanout_set(const struct gw_set *s, struct gw_blob *b,
    const struct gw_event_key *k, const char *except_user, const char *team)
{
	struct gw_conn **v;
	uint32_t i, n = s->n;

	if (n == 0)
		return;
	v = pl_memdup(s->v, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		if (except_user != NULL && strcmp(v[i]->user, except_user) == 0)
			continue;
		if (team != NULL && strcmp(v[i]->team, team) != 0)
			continue;
		gw_fanout_one(v[i], b, k);
	}
	free(v);
}

/* gw_fanout_to - deliver b to the audience of rule r */
static void
gw_fanout_to(const struct gw_event_rule *r, struct gw_blob *b,
    struct gw_event_key *k)
{
	struct gw_chan *ch;
	struct gw_team *t;
	struct gw_user *u;

	switch (r->to) {
	case GW_TO_CHANNEL:
	case GW_TO_CHANNEL_OTHERS:
		if (k->channel != NULL && (ch = gw_cache_chan(k->channel)) != NULL) {
			k->ch = ch;
			gw_fanout_set(&ch->subs, b, k,
			    r->to == GW_TO_CHANNEL_OTHERS ? k->user : NULL, NULL);
		}
		break;
	case GW_TO_TEAM:
		if (k->is_public && k->team != NULL && (t = gw_cache_team(k->team)) != NULL)
			gw_fanout_set(&t->conns, b, k, NULL, NULL);
		break;
	case GW_TO_USER:
		if (k->user != NULL && (u = gw_cache_user(k->user)) != NULL)
			gw_fanout_set(&u->conns, b, k, NULL, NULL);
		break;
	case GW_TO_WATCHERS:
		if (k->user != NULL && (u = gw_cache_user(k->user)) != NULL) {
			if (r->type == PARLEY__EVENT_TYPE__PRESENCE_CHANGE)
				u->presence_seq++;	/* presence.c: batches in flight */
			gw_fanout_set(&u->watchers, b, k, NULL, k->team ? k->team : "");
		}
		break;
	}
}

/* gw_fanout_rule - the rule of an event type, or NULL */
static const struct gw_event_rule *
gw_fanout_rule(Parley__EventType t)
{
	size_t i;

	for (i = 0; i < sizeof(gw_rules) / sizeof(gw_rules[0]); i++)
		if (gw_rules[i].type == t)
			return &gw_rules[i];
	return NULL;
}

/* gw_fanout_dnd_watchers - DND_UPDATED also goes to the user's presence
 * watchers of the same team, as dnd_updated_user */
static void
gw_fanout_dnd_watchers(const Parley__Envelope *env, struct gw_event_key *k)
{
	static const struct gw_event_rule watchers = {
		PARLEY__EVENT_TYPE__DND_UPDATED, GW_TO_WATCHERS, GW_FX_NONE };
	struct gw_blob *b;
	struct pl_buf out;

	pl_buf_init(&out);
	if (pl_event_json_dnd_user(env, &out) == 0 && out.len > 0) {
		b = gw_blob_create(out.data, out.len);
		gw_fanout_to(&watchers, b, k);
		gw_blob_unref(&b);
	}
	pl_buf_fini(&out);
}

/* gw_fanout_deactivated - a user deactivated (active.c refuses it from now
 * on): its held polls answer account_inactive and its WebSockets close with
 * 4004 (a copy of the set: closing changes it) */
static void
gw_fanout_deactivated(const char *user)
{
	struct gw_user *u = gw_cache_user(user);
	struct gw_conn **v, *c;
	size_t i, n;

	gw_active_deactivated(user);
	n = u != NULL ? u->conns.n : 0;
	if (n == 0)
		return;
	v = pl_memdup(u->conns.v, n * sizeof(*v));
	for (i = 0; i < n; i++) {
		c = v[i];
		if (c->poll != NULL)
			gw_poll_refuse(c, "account_inactive");
		else if (c->ws && c->state != GW_CONN_CLOSING)
			gw_conn_close(c, 4004, "account_inactive");
	}
	free(v);
}

/* gw_fanout_deliver - apply and deliver one decoded envelope */
void
gw_fanout_deliver(const Parley__Envelope *env, int64_t ts_ms)
{
	const struct gw_event_rule *r = gw_fanout_rule(env->type);
	struct gw_event_key k;
	struct gw_chan *ch;
	struct gw_blob *b;
	struct pl_buf out;
	uint64_t t0;

	if (r == NULL)
		return;
	gw_fanout_key(env, &k);
	/* a deactivation: the user's connections end first (4004), then the
	 * rest of the team hears user_change */
	if (env->type == PARLEY__EVENT_TYPE__USER_CHANGED &&
	    env->body_case == PARLEY__ENVELOPE__BODY_USER && env->user->deleted &&
	    k.user != NULL && *k.user)
		gw_fanout_deactivated(k.user);
	if (r->fx == GW_FX_JOIN && k.user != NULL)
		gw_cache_join(k.user, k.channel, k.team, k.kind);
	if (r->fx == GW_FX_CREATE)
		gw_fanout_created(env, &k);
	if (env->body_case == PARLEY__ENVELOPE__BODY_MESSAGE && env->message->epoch != 0 &&
	    k.channel != NULL && (ch = gw_cache_chan(k.channel)) != NULL)
		ch->epoch = env->message->epoch;	/* in seq order: the latest */
	pl_buf_init(&out);
	if (pl_event_json(env, &out) == 0 && out.len > 0) {
		b = gw_blob_create(out.data, out.len);
		t0 = pl_clock_mono_us();
		gw_fanout_to(r, b, &k);
		/* once per event, not per recipient (19,000 clock reads) */
		pl_metrics_observe(gw_m.fanout_s, (double)(pl_clock_mono_us() - t0) / 1e6);
		if (ts_ms > 0)
			pl_metrics_observe(gw_m.delivery_s,
			    (double)((int64_t)pl_clock_wall_ms() - ts_ms) / 1000.0);
		gw_blob_unref(&b);
	}
	pl_buf_fini(&out);
	if (env->type == PARLEY__EVENT_TYPE__DND_UPDATED)
		gw_fanout_dnd_watchers(env, &k);
	if (r->fx == GW_FX_LEAVE && k.user != NULL)
		gw_cache_leave(k.user, k.channel);
}

/* gw_fanout_held - a channel event (parley.messages) for a channel with no
 * local subscriber: members.c decides whether a local user may have just
 * become a member (the membership event, on another topic, not seen yet)
 * and then holds it. 1 if held (it is delivered later, in order). */
static int
gw_fanout_held(const Parley__Envelope *env, const struct pl_kafka_msg *m)
{
	const struct gw_event_rule *r = gw_fanout_rule(env->type);
	struct gw_event_key k;

	if (r == NULL || r->to != GW_TO_CHANNEL ||
	    env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE)
		return 0;
	gw_fanout_key(env, &k);
	if (k.channel == NULL || *k.channel == 0)
		return 0;
	return gw_members_hold(k.channel, k.team, k.user, m->payload, m->len,
	    m->timestamp_ms);
}


/* gw_fanout_lag_tick - apply the lagged events that are due, in order */
static void
gw_fanout_lag_tick(void *arg)
{
	uint64_t now = pl_clock_mono_ms();
	struct gw_lagged *l;

	(void)arg;
	while (gw_lag.n > 0 && gw_lag.v[gw_lag.head].due_ms <= now) {
		l = &gw_lag.v[gw_lag.head];
		gw_lag.head = (gw_lag.head + 1) % gw_lag.cap;
		gw_lag.n--;
		gw_fanout_payload(l->payload, l->len, l->ts_ms, NULL);
		free(l->payload);
	}
}

/* gw_fanout_lag_push - keep a copy of m until it is due */
static void
gw_fanout_lag_push(const struct pl_kafka_msg *m)
{
	struct gw_lagged *v;
	uint32_t i;

	if (gw_lag.n == gw_lag.cap) {
		v = pl_malloc((gw_lag.cap ? gw_lag.cap * 2 : 64) * sizeof(*v));
		for (i = 0; i < gw_lag.n; i++)
			v[i] = gw_lag.v[(gw_lag.head + i) % gw_lag.cap];
		free(gw_lag.v);
		gw_lag.v = v;
		gw_lag.cap = gw_lag.cap ? gw_lag.cap * 2 : 64;
		gw_lag.head = 0;
	}
	v = &gw_lag.v[(gw_lag.head + gw_lag.n) % gw_lag.cap];
	v->payload = pl_memdup(m->payload, m->len);
	v->len = m->len;
	v->ts_ms = m->timestamp_ms;
	v->due_ms = pl_clock_mono_ms() + (uint64_t)gw_conf.test_events_lag_ms;
	gw_lag.n++;
	if (gw_lag.timer == NULL)
		pl_loop_timer(gw.loop, 20, 1, gw_fanout_lag_tick, NULL, &gw_lag.timer);
}

/* gw_fanout_lag_stop - drop what is still lagging */
static void
gw_fanout_lag_stop(void)
{
	pl_loop_timer_stop(&gw_lag.timer);
	while (gw_lag.n > 0) {
		free(gw_lag.v[gw_lag.head].payload);
		gw_lag.head = (gw_lag.head + 1) % gw_lag.cap;
		gw_lag.n--;
	}
	free(gw_lag.v);
	memset(&gw_lag, 0, sizeof(gw_lag));
}

/* gw_fanout_payload - decode one envelope, then hold or deliver it; m is
 * the Kafka message when it comes straight from the consumer */
void
gw_fanout_payload(const void *payload, size_t len, int64_t ts_ms,
    const struct pl_kafka_msg *m)
{
	Parley__Envelope *env;
	struct pl_kafka_msg copy;

	env = parley__envelope__unpack(NULL, len, payload);
	if (env == NULL) {
		pl_metrics_inc(gw_m.events_bad);
		pl_log_warn("GW-EVENT-BAD", "topic=%s partition=%d offset=%lld",
		    m ? m->topic : "lagged", m ? (int)m->partition : -1,
		    m ? (long long)m->offset : -1LL);
		return;
	}
	memset(&copy, 0, sizeof(copy));
	copy.payload = payload;
	copy.len = len;
	copy.timestamp_ms = ts_ms;
	if (!gw_fanout_held(env, m ? m : &copy))
		gw_fanout_deliver(env, ts_ms);
	parley__envelope__free_unpacked(env, NULL);
}

/* gw_fanout_msg - one Kafka message */
static void
gw_fanout_msg(const struct pl_kafka_msg *m, void *arg)
{
	(void)arg;
	pl_metrics_inc(gw_m.events_in);
	pl_log_debug("GW-EVENT", "topic=%s partition=%d offset=%lld len=%zu",
	    m->topic, (int)m->partition, (long long)m->offset, m->len);
	if (gw_conf.test_events_lag_ms > 0 && strcmp(m->topic, PL_TOPIC_EVENTS) == 0) {
		gw_fanout_lag_push(m);
		return;
	}
	gw_fanout_payload(m->payload, m->len, m->timestamp_ms, m);
}

/* gw_fanout_ready_check - /readyz: the consumer has its partitions */
static int
gw_fanout_ready_check(void *arg, struct pl_buf *why)
{
	(void)arg;
	if (gw.kafka_assigned)
		return 1;
	pl_buf_puts(why, "kafka consumer not assigned");
	return 0;
}

/* gw_fanout_lag - consumer lag for /metrics */
static double
gw_fanout_lag(void *arg)
{
	(void)arg;
	return gw_consumer ? (double)pl_kafka_consumer_lag(gw_consumer) : -1;
}

/* gw_fanout_start - consume every partition of the event topics from the end */
int
gw_fanout_start(void)
{
	static const struct gw_members_ops members = { gw_fanout_deliver };
	char conf[128], *brokers = gw_services_brokers();
	size_t i;
	int rv;

	gw_members_set_ops(&members);
	pl_ops_add_check("kafka", gw_fanout_ready_check, NULL);
	pl_metrics_gauge_fn("parley_gateway_kafka_lag", "Events not yet consumed (sum over partitions).",
	    NULL, gw_fanout_lag, NULL);
	if (brokers == NULL)
		return PL_ENOTFOUND;
	snprintf(conf, sizeof(conf), "fetch.wait.max.ms=%lld,fetch.min.bytes=1",
	    (long long)gw_conf.fetch_wait_ms);
	rv = pl_kafka_consumer_start(gw.loop, brokers, conf, gw_fanout_msg, NULL,
	    NULL, &gw_consumer);
	free(brokers);
	if (rv != 0)
		return rv;
	for (i = 0; i < sizeof(gw_topics) / sizeof(gw_topics[0]); i++) {
		rv = pl_kafka_consumer_assign(gw_consumer, gw_topics[i], NULL, NULL, 0,
		    PL_KAFKA_OFFSET_END);
		if (rv != 0) {
			pl_log_error("GW-KAFKA-ASSIGN", "topic=%s err=%s", gw_topics[i],
			    pl_err_str(rv));
			return rv;
		}
	}
	gw.kafka = gw_consumer;
	gw.kafka_assigned = 1;
	pl_log_info("GW-KAFKA-ASSIGNED", "topics=%zu", i);
	return 0;
}

/* gw_fanout_ready - the consumer is assigned */
int
gw_fanout_ready(void)
{
	return gw.kafka_assigned;
}

/* gw_fanout_stop - stop consuming */
void
gw_fanout_stop(void)
{
	gw.kafka_assigned = 0;
	gw.kafka = NULL;
	pl_kafka_consumer_stop(&gw_consumer);
	gw_fanout_lag_stop();
}
