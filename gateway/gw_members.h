/* gw_members.h - members.c: channels new to this gateway: hold their events,
 * look up the members, deliver in order (see the file's comment). Released
 * events go up to fan-out through gw_members_ops (set by fanout.c at its
 * start). */
#ifndef GW_MEMBERS_H
#define GW_MEMBERS_H
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

/* the up-call of released events, set by fanout.c at its start */
struct gw_members_ops {
	/* deliver an event held during its channel's look-up, in order */
	void (*deliver)(const Parley__Envelope *env, int64_t ts_ms);
};
void gw_members_set_ops(const struct gw_members_ops *ops);
int gw_members_init(void);
void gw_members_fini(void);
/* an event of channel (parley.messages; payload is the Kafka value, copied
 * when held): 1 if held, to be delivered in order after a look-up of the
 * channel's members; 0: deliver it now */
int gw_members_hold(const char *channel, const char *team, const char *user,
    const void *payload, size_t len, int64_t ts_ms);
size_t gw_members_count(void);

#endif
