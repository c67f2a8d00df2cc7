/* gw_reply.h - reply.c: Slack error replies on both transports:
 * {"ok":false,"error"} for the Web API, {"type":"error"} frames for RTM.
 * Below the front-ends and the server, so none of them calls another for an
 * error. */
#ifndef GW_REPLY_H
#define GW_REPLY_H
#include <stdint.h>

struct gw_conn;

/* answer the Web API request on c: 200 {"ok":false,"error":code} */
void gw_reply_api_error(struct gw_conn *c, const char *code);
/* an RTM error frame (reply_to < 0: none) */
void gw_reply_rtm_error(struct gw_conn *c, int64_t reply_to, const char *code,
    const char *msg);
/* the answer to a client frame that failed: {"ok":false,"reply_to",
 * "error":{"code","msg"}} */
void gw_reply_rtm_fail(struct gw_conn *c, int64_t reply_to, const char *code,
    const char *msg);
/* rate_limited with retry_after (whole seconds, at least 1) */
void gw_reply_rtm_limited(struct gw_conn *c, int64_t reply_to, double wait_s);

#endif
