/* gw_cache.h - cache.c: the edge cache: users, teams, channels and, per
 * channel, the local connections of its members; per connection the seq
 * range written of each channel. Fan-out fills it from the event topics,
 * connections attach to it when booted; every layer reads it. */
#ifndef GW_CACHE_H
#define GW_CACHE_H
#include <stddef.h>
#include <stdint.h>

#include "gw.h"
#include "gw_set.h"

struct gw_chan {
	char id[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char kind;			/* 'C' public, 'G' private, 'D' dm, 'M' group */
	uint32_t epoch;			/* recent-history epoch last seen (0: unknown) */
	struct gw_set subs;		/* local connections of members */
};
/* per connection and channel: the seq range written on this connection
 * (lo = first, hi = highest), so no seq is written twice or backwards */
struct gw_seen {
	int64_t lo, hi;
};
struct gw_user {
	char id[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	char *name;
	struct gw_set conns;		/* this user's local connections */
	struct gw_set watchers;		/* connections with presence_sub on us */
	uint32_t presence_seq;		/* presence_change events delivered */
};
struct gw_team {
	char id[GW_ID_MAX + 1];
	char *name;
	char *domain;
	struct gw_set conns;
};
int gw_cache_init(void);
void gw_cache_fini(void);
struct gw_chan *gw_cache_chan(const char *id);
struct gw_user *gw_cache_user(const char *id);
struct gw_team *gw_cache_team(const char *id);
/* c's seq range of channel ch (NULL: c is not subscribed to ch) */
struct gw_seen *gw_cache_seen(struct gw_conn *c, const struct gw_chan *ch);
/* attach a booted connection: its user, team and channels */
void gw_cache_attach(struct gw_conn *c, const Parley__Boot *boot);
void gw_cache_detach(struct gw_conn *c);
int gw_cache_member(const struct gw_conn *c, const char *channel);
/* membership changes from the event topics */
void gw_cache_join(const char *user, const char *channel, const char *team,
    const char *kind);
void gw_cache_leave(const char *user, const char *channel);
void gw_cache_watch(struct gw_conn *c, const char *user);
size_t gw_cache_channels(void);

#endif
