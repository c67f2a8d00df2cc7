/* members.c - channels new to this gateway: the lazy membership look-up.
 *
 * The race. A user is made a member of a *new* channel (conversations.open
 * of a DM or group, conversations.create) only on parley.events
 * (CHANNEL_CREATED, MEMBER_JOINED; key = team), while the channel's messages
 * come on parley.messages (key = channel). The two are different partitions,
 * often on different brokers, fetched independently: the channel's first
 * message can reach this gateway before the event that subscribes the local
 * member, and would be dropped ("no local subscriber"). Later membership
 * changes are not affected: join/invite/leave/kick also put a
 * CHANNEL_JOIN/LEAVE on the channel's own partition, in seq order.
 *
 * The fence. A channel event (parley.messages) for a channel that has no
 * local subscriber, of a team that has local connections, and that is not
 * known to have no local member, is held, and message-svc is asked for the
 * channel's members (conversations.members, as the event's author: a member,
 * so it may see even a private channel). The directory is written before any
 * event is announced, so the answer includes every member the message could
 * be for. The local connections of those members are subscribed, and the
 * held events are then delivered in order (every later event of the channel
 * is held behind them while the look-up runs, so seq order holds). If no
 * member is local the channel is remembered as "no local member" (bounded
 * set, cleared when full): its later events are dropped without asking, as
 * before. That memory stays right because any later member of it arrives
 * either in order on the channel's partition (CHANNEL_JOIN) or through
 * session.boot, and both put the channel in the edge cache, which is checked
 * first.
 *
 * The look-up pages through conversations.members (1000 ids a page, the
 * most message-svc gives; a page is also bounded in bytes), subscribing the
 * local members of each page as it comes and asking for the next with its
 * cursor; the held events are released after the last page.
 *
 * Cost: at most one look-up per channel per gateway process while it has no
 * local member (then one more after the set is cleared); none for channels
 * with a local subscriber or of teams with no local connection. A look-up
 * that fails (message-svc down, breaker open) releases what it held to the
 * subscribers known by then (MEMBER_JOINED may have arrived meanwhile), as
 * the gateway did before; those who miss an event see the seq gap and
 * resume. Held events per channel are bounded by PARLEY_MAX_HOLD (overflow
 * releases at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>

#include "err.h"
#include "gw.h"
#include "gw_cache.h"
#include "gw_members.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "strmap.h"

#define GW_MEMBERS_NONE_MAX 65536	/* channels remembered as "no local member" */
#define GW_MEMBERS_PAGE "1000"		/* ids per conversations.members page */

struct gw_held {
	void *payload;
	size_t len;
	int64_t ts_ms;
};

/* one channel whose look-up is running */
struct gw_lookup {
	char id[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char user[GW_ID_MAX + 1];	/* asks as the event's author */
	int local;			/* local members found so far */
	struct gw_held *v;
	size_t n, cap;
};

static struct {
	struct pl_strmap *running;		/* channel -> struct gw_lookup */
	struct pl_strmap *none;		/* channel -> (void *)1: no local member */
	struct pl_metric *lookups, *failed;
	struct gw_members_ops up;		/* delivery of released events */
} gw_members;

/* gw_members_set_ops - where released events go (fanout.c, at its start) */
void
gw_members_set_ops(const struct gw_members_ops *ops)
{
	gw_members.up = *ops;
}

/* gw_members_init - empty tables and the metrics */
int
gw_members_init(void)
{
	gw_members.running = pl_strmap_create();
	gw_members.none = pl_strmap_create();
	gw_members.lookups = pl_metrics_counter("parley_gateway_member_lookups_total",
	    "Membership look-ups for channels new to this gateway, by result.",
	    "result=\"ok\"");
	gw_members.failed = pl_metrics_counter("parley_gateway_member_lookups_total",
	    "Membership look-ups for channels new to this gateway, by result.",
	    "result=\"failed\"");
	return 0;
}

/* gw_members_free_lookup - free a look-up and what it still holds */
static void
gw_members_free_lookup(const char *k, void *v, void *arg)
{
	struct gw_lookup *lk = v;
	uint32_t i;

	(void)k;
	(void)arg;
	for (i = 0; i < lk->n; i++)
		free(lk->v[i].payload);
	free(lk->v);
	free(lk);
}

/* gw_members_fini - drop everything (late replies find nothing) */
void
gw_members_fini(void)
{
	if (gw_members.running == NULL)
		return;
	pl_strmap_each(gw_members.running, gw_members_free_lookup, NULL);
	pl_strmap_free(&gw_members.running, NULL);
	pl_strmap_free(&gw_members.none, NULL);
}

/* gw_members_push - keep a copy of one event */
static void
gw_members_push(struct gw_lookup *lk, const void *payload, size_t len, int64_t ts_ms)
{
	lk->v = pl_grow(lk->v, &lk->cap, lk->n + 1, 4, sizeof(*lk->v));
	lk->v[lk->n].payload = pl_memdup(payload, len);
	lk->v[lk->n].len = len;
	lk->v[lk->n].ts_ms = ts_ms;
	lk->n++;
}

/* gw_members_release - the look-up is over: deliver what it held, in order */
static void
gw_members_release(const char *channel)
{
	struct gw_lookup *lk = pl_strmap_get(gw_members.running, channel);
	Parley__Envelope *env;
	uint32_t i;

	if (lk == NULL)
		return;
	pl_strmap_del(gw_members.running, channel);
	for (i = 0; i < lk->n; i++) {
		env = parley__envelope__unpack(NULL, lk->v[i].len, lk->v[i].payload);
		if (env == NULL)
			continue;
		if (gw_members.up.deliver != NULL)
			gw_members.up.deliver(env, lk->v[i].ts_ms);
		parley__envelope__free_unpacked(env, NULL);
	}
	gw_members_free_lookup(NULL, lk, NULL);
}

/* gw_members_none - remember that channel has no local member */
static void
gw_members_none(const char *channel)
{
	if (pl_strmap_count(gw_members.none) >= GW_MEMBERS_NONE_MAX)
		pl_strmap_free(&gw_members.none, NULL);
	if (gw_members.none == NULL)
		gw_members.none = pl_strmap_create();
	pl_strmap_put(gw_members.none, channel, (void *)1);
}

/* gw_members_apply - subscribe the local connections of one page of the
 * members list; the count, and the next page's cursor in *next_r (heap,
 * NULL after the last page) */
static int
gw_members_apply(const struct gw_lookup *lk, const Parley__Reply *reply, char **next_r)
{
	cJSON *root, *arr, *it, *meta, *cur;
	int n = 0;

	*next_r = NULL;
	if (reply == NULL || !reply->ok || reply->json == NULL ||
	    (root = cJSON_Parse(reply->json)) == NULL)
		return PL_EPROTO;
	arr = cJSON_GetObjectItemCaseSensitive(root, "members");
	cJSON_ArrayForEach(it, arr) {
		const struct gw_user *u;

		if (!cJSON_IsString(it) || (u = gw_cache_user(it->valuestring)) == NULL ||
		    u->conns.n == 0)
			continue;	/* not connected here (maybe only watched) */
		gw_cache_join(it->valuestring, lk->id, lk->team, NULL);
		n++;
	}
	meta = cJSON_GetObjectItemCaseSensitive(root, "response_metadata");
	cur = cJSON_GetObjectItemCaseSensitive(meta, "next_cursor");
	if (cJSON_IsString(cur) && cur->valuestring[0] != '\0' &&
	    cJSON_GetArraySize(arr) > 0)
		*next_r = pl_strdup(cur->valuestring);
	cJSON_Delete(root);
	return n;
}

static int gw_members_start(struct gw_lookup *lk, const char *cursor);

/* gw_members_done - message-svc answered (or failed) one page of a look-up:
 * ask for the next page, or release what the look-up held */
static void
gw_members_done(int rv, Parley__Reply *reply, void *arg)
{
	char *channel = arg, *next = NULL;
	struct gw_lookup *lk;
	int n = -1;

	lk = gw_members.running ? pl_strmap_get(gw_members.running, channel) : NULL;
	if (lk != NULL) {
		if (rv == 0)
			n = gw_members_apply(lk, reply, &next);
		if (n >= 0)
			lk->local += n;
		if (next != NULL && gw_members_start(lk, next) == 0) {
			free(next);
			free(channel);
			return;		/* the next page; still holding */
		}
		if (next != NULL)
			n = -1;		/* the next page could not be asked for */
		free(next);
		pl_metrics_inc(n >= 0 ? gw_members.lookups : gw_members.failed);
		if (n < 0)
			pl_log_warn("GW-MEMBERS-LOOKUP", "channel=%s err=%s error=%s",
			    channel, pl_err_str(rv), reply && reply->error ? reply->error : "");
		else
			pl_log_debug("GW-MEMBERS-LOOKUP", "channel=%s local_members=%d held=%zu",
			    channel, lk->local, lk->n);
		if (n >= 0 && lk->local == 0 && gw_cache_chan(channel) == NULL)
			gw_members_none(channel);
		gw_members_release(channel);
	}
	free(channel);
}

/* gw_members_start - ask message-svc for a page of channel's members
 * (cursor NULL: the first) */
static int
gw_members_start(struct gw_lookup *lk, const char *cursor)
{
	Parley__Request req;
	Parley__Caller caller;
	char *arg = pl_strdup(lk->id);
	int rv;

	pl_request_init(&req, "conversations.members");
	gw_request_caller(&req, &caller, lk->user, lk->team, 0, "");
	req.source = "gateway";
	pl_request_param(&req, "channel", lk->id);
	pl_request_param(&req, "limit", GW_MEMBERS_PAGE);
	if (cursor != NULL)
		pl_request_param(&req, "cursor", cursor);
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_members_done, arg);
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		free(arg);
	return rv;
}

/* gw_members_hold - an event of channel from parley.messages, before it is
 * delivered: 1 when held (it will be delivered after the look-up), 0 when
 * it is to be delivered now */
int
gw_members_hold(const char *channel, const char *team, const char *user,
    const void *payload, size_t len, int64_t ts_ms)
{
	struct gw_lookup *lk;

	if (gw_members.running == NULL)
		return 0;
	if ((lk = pl_strmap_get(gw_members.running, channel)) != NULL) {
		if (lk->n >= (uint32_t)gw_conf.max_hold) {
			gw_members_release(channel);	/* overflow: at once */
			return 0;
		}
		gw_members_push(lk, payload, len, ts_ms);
		return 1;
	}
	if (gw_cache_chan(channel) != NULL || pl_strmap_get(gw_members.none, channel) != NULL)
		return 0;
	if (team == NULL || gw_cache_team(team) == NULL || user == NULL || *user == 0 ||
	    strlen(channel) > GW_ID_MAX || strlen(team) > GW_ID_MAX)
		return 0;
	if (strlen(user) > GW_ID_MAX)
		return 0;
	lk = pl_calloc(1, sizeof(*lk));
	snprintf(lk->id, sizeof(lk->id), "%s", channel);
	snprintf(lk->team, sizeof(lk->team), "%s", team);
	snprintf(lk->user, sizeof(lk->user), "%s", user);
	if (gw_members_start(lk, NULL) != 0) {
		gw_members_free_lookup(NULL, lk, NULL);
		pl_metrics_inc(gw_members.failed);
		return 0;
	}
	gw_members_push(lk, payload, len, ts_ms);
	pl_strmap_put(gw_members.running, lk->id, lk);
	return 1;
}

/* gw_members_count - look-ups running (tests, metrics) */
size_t
gw_members_count(void)
{
	return gw_members.running ? pl_strmap_count(gw_members.running) : 0;
}
