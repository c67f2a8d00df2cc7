/* ticket.c - rtm.connect tickets in Redis: stored with SET NX EX at issue,
 * consumed with DEL (1 = this caller consumed it), so a ticket works once
 * across every gateway process sharing the port. Keys carry a hash tag. */
#include <stdlib.h>
#include <hiredis/hiredis.h>

#include "buf.h"
#include "err.h"
#include "gw.h"
#include "gw_ticket.h"
#include "log.h"
#include "mem.h"
#include "redis.h"

struct gw_ticket_op {
	gw_ticket_fn fn;
	void *arg;
	int consume;
};

/* gw_ticket_done - Redis answered */
static void
gw_ticket_done(int rv, struct redisReply *r, void *arg)
{
	struct gw_ticket_op *op = arg;

	if (rv == 0 && r == NULL)
		rv = PL_EIO;
	if (rv == 0 && r->type == REDIS_REPLY_ERROR) {
		pl_log_warn("GW-TICKET-REDIS", "err=\"%s\"", r->str);
		rv = PL_EIO;
	}
	if (rv == 0 && op->consume)
		rv = (r->type == REDIS_REPLY_INTEGER && r->integer == 1) ? 0 : PL_EPERM;
	else if (rv == 0)
		rv = r->type == REDIS_REPLY_STATUS ? 0 : PL_EEXIST;
	op->fn(rv, op->arg);
	free(op);
}

/* gw_ticket_cmd - run one command; fn is called exactly once */
static int
gw_ticket_cmd(int consume, gw_ticket_fn fn, void *arg, int argc,
    const char **argv)
{
	struct gw_ticket_op *op = pl_calloc(1, sizeof(*op));
	int rv;

	op->fn = fn;
	op->arg = arg;
	op->consume = consume;
	rv = pl_redis_cmd(gw.redis, gw_ticket_done, op, argc, argv, NULL);
	if (rv != 0) {
		free(op);
		return rv;
	}
	return 0;
}

/* gw_ticket_key - "{tk:<jti>}" style key (heap) */
static char *
gw_ticket_key(const char *jti)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_printf(&b, "{tk:%s}:ticket", jti);
	return pl_buf_steal(&b, NULL);
}

/* gw_ticket_store - SET key user NX EX ttl */
int
gw_ticket_store(const char *jti, const char *user, gw_ticket_fn fn, void *arg)
{
	char ttl[24], *key = gw_ticket_key(jti);
	const char *argv[] = { "SET", key, user, "NX", "EX", ttl };
	int rv;

	snprintf(ttl, sizeof(ttl), "%lld", (long long)gw_conf.ticket_ttl_s);
	rv = gw_ticket_cmd(0, fn, arg, 6, argv);
	free(key);
	return rv;
}

/* gw_ticket_consume - DEL key: rv 0 only for the one caller that deleted it */
int
gw_ticket_consume(const char *jti, gw_ticket_fn fn, void *arg)
{
	char *key = gw_ticket_key(jti);
	const char *argv[] = { "DEL", key };
	int rv;

	rv = gw_ticket_cmd(1, fn, arg, 2, argv);
	free(key);
	return rv;
}
