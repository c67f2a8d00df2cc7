/* online.c - "who of these users has a live connection": the one question
 * push asks presence-svc. It reads presence-svc's connection sets in the
 * shared Redis: a user is online while "{u:<user>}:conns" holds a session
 * seen within online-ttl-ms (presence-svc/conns.c). presence-svc's batch
 * RPC (presence.query) answers active/away, and away includes users with a
 * live connection (manual or auto away): not this question. Should it
 * answer "connected" too, calling it is a change of this file only.
 * When Redis does not answer, everyone counts as online: a push is late
 * (retried by the next scan), never sent to someone reading. */
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "err.h"
#include "mem.h"
#include "notify.h"
#include "redis.h"

struct online_q {
	int *online;
	int left, failed;
	ns_online_fn done;
	void *arg;
};

struct online_one {
	struct online_q *q;
	int i;
};

/* online_answer - one ZCOUNT answered */
static void
online_answer(int rv, struct redisReply *reply, void *arg)
{
	struct online_one *o = arg;
	struct online_q *q = o->q;

	if (rv != 0 || reply == NULL || reply->type != REDIS_REPLY_INTEGER)
		q->failed = 1;
	else
		q->online[o->i] = reply->integer > 0;
	free(o);
	if (--q->left == 0) {
		q->done(q->failed ? PL_EUNAVAIL : 0, q->arg);
		free(q);
	}
}

/* ns_online - ask for users[0..n) */
int
ns_online(char (*users)[NS_ID_MAX + 1], int n, int *online, ns_online_fn done, void *arg)
{
	struct online_q *q;
	char key[NS_ID_MAX + 16], min[32];
	int i;

	if (ns.redis == NULL || !pl_redis_connected(ns.redis))
		return PL_EUNAVAIL;
	if (n == 0)
		return PL_EINVAL;
	q = pl_calloc(1, sizeof(*q));
	q->online = online;
	q->left = n;
	q->done = done;
	q->arg = arg;
	snprintf(min, sizeof(min), "%llu", (unsigned long long)(pl_clock_wall_us() / 1000 -
	    (uint64_t)ns_conf.online_ttl_ms));
	for (i = 0; i < n; i++) {
		struct online_one *o = pl_calloc(1, sizeof(*o));

		o->q = q;
		o->i = i;
		online[i] = 1;
		snprintf(key, sizeof(key), "{u:%s}:conns", users[i]);
		if (pl_redis_cmdf(ns.redis, online_answer, o, "ZCOUNT %s %s +inf", key,
		    min) != 0) {
			struct redisReply none = { 0 };

			none.type = REDIS_REPLY_NIL;
			online_answer(PL_EUNAVAIL, &none, o);
		}
	}
	return 0;
}
