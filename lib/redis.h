/* redis.h - an async hiredis connection on the loop (a hiredis adapter over
 * pl_loop, so it serves the libevent daemons and the libuv gateway alike) that
 * reconnects by itself.
 *
 * Redis is a cache: while it is down every command completes at once with
 * reply NULL (rv PL_EUNAVAIL) and the connection is retried with backoff.
 * Callbacks run on the loop thread; the reply is valid only during the call.
 * A command accepted by pl_redis_cmd* (return 0) calls back exactly once,
 * never from inside the submit (a refusal while down comes from a zero-delay
 * timer). A -ERR reply completes with rv PL_EIO and the reply. Commands
 * pending at pl_redis_stop complete with PL_ECLOSED. */
#ifndef PL_REDIS_H
#define PL_REDIS_H
#include <stddef.h>

#include "loop.h"
struct redisReply;
struct pl_redis;

typedef void (*pl_redis_fn)(int rv, struct redisReply *reply, void *arg);

/* addr: "127.0.0.1:6379" or "unix:/path/redis.sock" */
int pl_redis_start(struct pl_loop *l, const char *addr, struct pl_redis **r);
int pl_redis_connected(const struct pl_redis *r);
/* argv-style command (binary safe); cb may be NULL */
int pl_redis_cmd(struct pl_redis *r, pl_redis_fn cb, void *arg, int argc,
    const char **argv, const size_t *argvlen);
/* printf-style command (hiredis format: %s %b %d) */
int pl_redis_cmdf(struct pl_redis *r, pl_redis_fn cb, void *arg,
    const char *fmt, ...);
void pl_redis_stop(struct pl_redis **r);

#endif
