/* reply.c - Slack error replies on both transports: the Web API's
 * {"ok":false,"error":code}, RTM's {"type":"error",...} frames and its
 * {"ok":false,"reply_to",...} answers to a failed send. They sit
 * below the front-ends (api.c, rtm.c, poll.c, resume.c, presence.c) and
 * the server (server.c refuses undecodable parameters), so none of those
 * calls another for an error. */
#include "buf.h"
#include "gw.h"
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_reply.h"

#define GW_REPLY_JSON "application/json; charset=utf-8"

/* gw_reply_api_error - answer a Web API request 200 {"ok":false,"error":code} */
void
gw_reply_api_error(struct gw_conn *c, const char *code)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"ok\":false,\"error\":");
	pl_buf_json_str(&b, code);
	pl_buf_puts(&b, "}");
	gw_http_reply(c, 200, GW_REPLY_JSON, b.data, b.len);
	pl_buf_fini(&b);
}

/* gw_reply_rtm_send - end an RTM error frame with its error object and
 * send it on c */
static void
gw_reply_rtm_send(struct gw_conn *c, struct pl_buf *b, const char *code,
    const char *msg)
{
	pl_buf_puts(b, ",\"error\":{\"code\":");
	pl_buf_json_str(b, code);
	pl_buf_puts(b, ",\"msg\":");
	pl_buf_json_str(b, msg);
	pl_buf_puts(b, "}}");
	gw_conn_send(c, b->data, b->len);
	pl_buf_fini(b);
}

/* gw_reply_rtm_error - {"type":"error","reply_to"?,"error":{"code","msg"}} */
void
gw_reply_rtm_error(struct gw_conn *c, int64_t reply_to, const char *code,
    const char *msg)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"error\"");
	if (reply_to >= 0)
		pl_buf_printf(&b, ",\"reply_to\":%lld", (long long)reply_to);
	gw_reply_rtm_send(c, &b, code, msg);
}

/* gw_reply_rtm_fail - the answer to a client frame that failed:
 * {"ok":false,"reply_to","error":{"code","msg"}} */
void
gw_reply_rtm_fail(struct gw_conn *c, int64_t reply_to, const char *code,
    const char *msg)
{
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"ok\":false,\"reply_to\":%lld", (long long)reply_to);
	gw_reply_rtm_send(c, &b, code, msg);
}

/* gw_reply_rtm_limited - the rate limit error with retry_after (seconds) */
void
gw_reply_rtm_limited(struct gw_conn *c, int64_t reply_to, double wait_s)
{
	struct pl_buf b;
	int ra = (int)(wait_s + 0.999);

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"error\"");
	if (reply_to >= 0)
		pl_buf_printf(&b, ",\"reply_to\":%lld", (long long)reply_to);
	pl_buf_printf(&b, ",\"error\":{\"code\":\"rate_limited\",\"msg\":\"too many"
	    " messages\"},\"retry_after\":%d}", ra < 1 ? 1 : ra);
	gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
}
