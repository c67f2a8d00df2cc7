/* cache.c - the edge cache (Flannel): the users, teams and channels of the
 * connected users, and the indexes fan-out needs: channel -> local member
 * connections, user -> connections, user -> presence watchers.
 *
 * Filled from session.boot when a connection goes live, kept current from
 * the membership events (join/leave on parley.messages and parley.events),
 * and emptied as connections leave: an entry lives while a set refers to it.
 * A connection is in a channel's set only while its user is a member, which
 * is what makes fan-out members-only (invariant 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "gw.h"
#include "gw_cache.h"
#include "gw_metrics.h"
#include "gw_set.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "strmap.h"

static struct {
	struct pl_strmap *chans, *users, *teams;
} gw_cache;

/* gw_cache_init - empty indexes */
int
gw_cache_init(void)
{
	gw_cache.chans = pl_strmap_create();
	gw_cache.users = pl_strmap_create();
	gw_cache.teams = pl_strmap_create();
	return 0;
}

/* gw_cache_max_channels - channels one connection may be subscribed to */
static size_t
gw_cache_max_channels(void)
{
	return gw_conf.max_user_channels > 0 ? (size_t)gw_conf.max_user_channels : 10000;
}

/* gw_cache_capped - c is at the channel cap: ch is not subscribed (its
 * events do not reach c; a resume or a new boot after leaving channels
 * does). Counted, logged at most once per connection. */
static void
gw_cache_capped(struct gw_conn *c, const struct gw_chan *ch)
{
	pl_metrics_inc(gw_m.channels_capped);
	if (c->nchans == gw_cache_max_channels() && !c->chans_capped) {
		c->chans_capped = 1;
		pl_log_warn("GW-CACHE-CHANNEL-CAP", "conn=%s user=%s channel=%s max=%zu",
		    c->session, c->user, ch->id, gw_cache_max_channels());
	}
}

/* gw_cache_free_ent - free one entry of any index */
static void
gw_cache_free_chan(const char *k, void *v, void *arg)
{
	struct gw_chan *ch = v;

	(void)k;
	(void)arg;
	gw_set_fini(&ch->subs);
	free(ch);
}

static void
gw_cache_free_user(const char *k, void *v, void *arg)
{
	struct gw_user *u = v;

	(void)k;
	(void)arg;
	gw_set_fini(&u->conns);
	gw_set_fini(&u->watchers);
	free(u->name);
	free(u);
}

static void
gw_cache_free_team(const char *k, void *v, void *arg)
{
	struct gw_team *t = v;

	(void)k;
	(void)arg;
	gw_set_fini(&t->conns);
	free(t->name);
	free(t->domain);
	free(t);
}

/* gw_cache_fini - free everything (connections are gone or going) */
void
gw_cache_fini(void)
{
	if (gw_cache.chans == NULL)
		return;
	pl_strmap_each(gw_cache.chans, gw_cache_free_chan, NULL);
	pl_strmap_each(gw_cache.users, gw_cache_free_user, NULL);
	pl_strmap_each(gw_cache.teams, gw_cache_free_team, NULL);
	pl_strmap_free(&gw_cache.chans, NULL);
	pl_strmap_free(&gw_cache.users, NULL);
	pl_strmap_free(&gw_cache.teams, NULL);
}

struct gw_chan *
gw_cache_chan(const char *id)
{
	return gw_cache.chans ? pl_strmap_get(gw_cache.chans, id) : NULL;
}

struct gw_user *
gw_cache_user(const char *id)
{
	return gw_cache.users ? pl_strmap_get(gw_cache.users, id) : NULL;
}

struct gw_team *
gw_cache_team(const char *id)
{
	return gw_cache.teams ? pl_strmap_get(gw_cache.teams, id) : NULL;
}

size_t
gw_cache_channels(void)
{
	return gw_cache.chans ? pl_strmap_count(gw_cache.chans) : 0;
}

/* gw_cache_kind - 'C' public, 'G' private, 'D' dm, 'M' group */
static char
gw_cache_kind(const char *kind, const char *id)
{
	if (kind != NULL && strcmp(kind, "private") == 0)
		return 'G';
	if (kind != NULL && strcmp(kind, "dm") == 0)
		return 'D';
	if (kind != NULL && strcmp(kind, "group") == 0)
		return 'M';
	if (kind != NULL && strcmp(kind, "public") == 0)
		return 'C';
	return id[0];
}

/* gw_cache_user_get - the user entry, created on first use */
static struct gw_user *
gw_cache_user_get(const char *id, const char *team)
{
	struct gw_user *u = pl_strmap_get(gw_cache.users, id);

	if (u == NULL) {
		u = pl_calloc(1, sizeof(*u));
		snprintf(u->id, sizeof(u->id), "%s", id);
		pl_strmap_put(gw_cache.users, u->id, u);
	}
	if (team != NULL && *team)
		snprintf(u->team, sizeof(u->team), "%s", team);
	return u;
}

/* gw_cache_user_put - drop the user entry once nothing refers to it */
static void
gw_cache_user_put(struct gw_user *u)
{
	if (u->conns.n > 0 || u->watchers.n > 0)
		return;
	pl_strmap_del(gw_cache.users, u->id);
	gw_cache_free_user(NULL, u, NULL);
}

/* gw_cache_chan_sub - put c into channel id's subscribers */
static void
gw_cache_chan_sub(struct gw_conn *c, const char *id, const char *team, char kind,
    uint32_t epoch, int fresh)
{
	struct gw_chan *ch = pl_strmap_get(gw_cache.chans, id);
	size_t i;

	if (strlen(id) > GW_ID_MAX)
		return;
	if (ch == NULL) {
		ch = pl_calloc(1, sizeof(*ch));
		snprintf(ch->id, sizeof(ch->id), "%s", id);
		pl_strmap_put(gw_cache.chans, ch->id, ch);
	}
	if (team != NULL && *team)
		snprintf(ch->team, sizeof(ch->team), "%s", team);
	if (kind)
		ch->kind = kind;
	if (epoch != 0)
		ch->epoch = epoch;
	if (fresh) {
		/* attach adds c to each channel once, in order: a repeated id
		 * of the boot list finds c last in the channel's set (O(1);
		 * the scan below made a boot of n channels O(n^2)) */
		if (ch->subs.n > 0 && ch->subs.v[ch->subs.n - 1] == c)
			return;
	} else {
		for (i = 0; i < c->nchans; i++)
			if (c->chans[i] == ch)
				return;
	}
	if (c->nchans >= gw_cache_max_channels()) {
		gw_cache_capped(c, ch);
		return;
	}
	if (c->nchans == c->capchans) {
		size_t cap = c->capchans;

		c->chans = pl_grow(c->chans, &cap, c->nchans + 1, 4, sizeof(*c->chans));
		c->seen = pl_grow(c->seen, &c->capchans, c->nchans + 1, 4, sizeof(*c->seen));
	}
	c->seen[c->nchans].lo = c->seen[c->nchans].hi = 0;
	c->chans[c->nchans++] = ch;
	gw_set_add(&ch->subs, c);
}

/* gw_cache_chan_unsub - take c out of ch; free ch when nobody is left */
static void
gw_cache_chan_unsub(struct gw_conn *c, struct gw_chan *ch)
{
	size_t i;

	for (i = 0; i < c->nchans; i++) {
		if (c->chans[i] == ch) {
			c->chans[i] = c->chans[--c->nchans];
			c->seen[i] = c->seen[c->nchans];
			break;
		}
	}
	gw_set_del(&ch->subs, c);
	if (ch->subs.n == 0) {
		pl_strmap_del(gw_cache.chans, ch->id);
		gw_cache_free_chan(NULL, ch, NULL);
	}
}

/* gw_cache_team_set - the team entry of c, with boot's names */
static void
gw_cache_team_set(struct gw_conn *c, const Parley__Team *team)
{
	struct gw_team *t = pl_strmap_get(gw_cache.teams, c->team);

	if (t == NULL) {
		t = pl_calloc(1, sizeof(*t));
		snprintf(t->id, sizeof(t->id), "%s", c->team);
		pl_strmap_put(gw_cache.teams, t->id, t);
	}
	if (team != NULL && team->name != NULL && *team->name) {
		free(t->name);
		free(t->domain);
		t->name = pl_strdup(team->name);
		t->domain = pl_strdup(team->domain ? team->domain : "");
	}
	gw_set_add(&t->conns, c);
	c->t = t;
}

/* gw_cache_attach - a booted connection joins the indexes */
void
gw_cache_attach(struct gw_conn *c, const Parley__Boot *boot)
{
	const Parley__Channel *ch;
	int fresh = c->nchans == 0;	/* the O(1) duplicate test holds only then */
	size_t i;

	c->u = gw_cache_user_get(c->user, c->team);
	if (boot->self != NULL && boot->self->name != NULL) {
		free(c->u->name);
		c->u->name = pl_strdup(boot->self->name);
	}
	gw_set_add(&c->u->conns, c);
	gw_cache_team_set(c, boot->team);
	for (i = 0; i < boot->n_channels; i++) {
		ch = boot->channels[i];
		if (ch->id != NULL && *ch->id && !ch->archived)
			gw_cache_chan_sub(c, ch->id, ch->team, gw_cache_kind(ch->kind, ch->id),
			    ch->epoch, fresh);
	}
}

/* gw_cache_detach - a closing connection leaves every index */
void
gw_cache_detach(struct gw_conn *c)
{
	if (gw_cache.chans == NULL) {
		free(c->chans);
		free(c->seen);
		c->chans = NULL;
		c->seen = NULL;
		return;
	}
	gw_cache_watch(c, NULL);
	while (c->nchans > 0)
		gw_cache_chan_unsub(c, c->chans[c->nchans - 1]);
	free(c->chans);
	free(c->seen);
	c->chans = NULL;
	c->seen = NULL;
	c->capchans = 0;
	if (c->u != NULL) {
		gw_set_del(&c->u->conns, c);
		gw_cache_user_put(c->u);
		c->u = NULL;
	}
	if (c->t != NULL) {
		gw_set_del(&c->t->conns, c);
		if (c->t->conns.n == 0) {
			pl_strmap_del(gw_cache.teams, c->t->id);
			gw_cache_free_team(NULL, c->t, NULL);
		}
		c->t = NULL;
	}
}

/* gw_cache_member - is c's user a member of channel (as this gateway knows) */
int
gw_cache_member(const struct gw_conn *c, const char *channel)
{
	size_t i;

	for (i = 0; i < c->nchans; i++)
		if (strcmp(c->chans[i]->id, channel) == 0)
			return 1;
	return 0;
}

/* gw_cache_seen - c's written seq range of ch, NULL if c is not in ch */
struct gw_seen *
gw_cache_seen(struct gw_conn *c, const struct gw_chan *ch)
{
	size_t i;

	for (i = 0; ch != NULL && i < c->nchans; i++)
		if (c->chans[i] == ch)
			return &c->seen[i];
	return NULL;
}

/* gw_cache_join - user became a member: subscribe its local connections */
void
gw_cache_join(const char *user, const char *channel, const char *team,
    const char *kind)
{
	struct gw_user *u = gw_cache_user(user);
	uint32_t i;

	if (u == NULL || channel == NULL || *channel == 0)
		return;
	for (i = 0; i < u->conns.n; i++)
		if (u->conns.v[i]->state == GW_CONN_LIVE)
			gw_cache_chan_sub(u->conns.v[i], channel, team,
			    gw_cache_kind(kind, channel), 0, 0);
	pl_log_debug("GW-CACHE-JOIN", "user=%s channel=%s conns=%zu", user, channel,
	    u->conns.n);
}

/* gw_cache_leave - user is no longer a member: unsubscribe at once */
void
gw_cache_leave(const char *user, const char *channel)
{
	struct gw_user *u = gw_cache_user(user);
	struct gw_chan *ch;
	uint32_t i;

	if (u == NULL || channel == NULL)
		return;
	for (i = 0; i < u->conns.n; i++) {
		ch = gw_cache_chan(channel);
		if (ch == NULL)
			break;
		if (gw_set_has(&ch->subs, u->conns.v[i]))
			gw_cache_chan_unsub(u->conns.v[i], ch);
	}
	pl_log_debug("GW-CACHE-LEAVE", "user=%s channel=%s", user, channel);
}

/* gw_cache_watch - c watches user's presence; user NULL clears c's list */
void
gw_cache_watch(struct gw_conn *c, const char *user)
{
	struct gw_user *u;
	uint16_t i;

	if (user == NULL) {
		for (i = 0; i < c->npsubs; i++) {
			u = gw_cache_user(c->psubs[i]);
			if (u != NULL) {
				gw_set_del(&u->watchers, c);
				gw_cache_user_put(u);
			}
		}
		free(c->psubs);
		c->psubs = NULL;
		c->npsubs = 0;
		return;
	}
	for (i = 0; i < c->npsubs; i++)
		if (strcmp(c->psubs[i], user) == 0)
			return;
	c->psubs = pl_realloc(c->psubs, (c->npsubs + 1u) * sizeof(*c->psubs));
	snprintf(c->psubs[c->npsubs++], GW_ID_MAX + 1, "%s", user);
	u = gw_cache_user_get(user, NULL);
	gw_set_add(&u->watchers, c);
}
