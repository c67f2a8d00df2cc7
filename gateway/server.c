/* server.c - the lws context on the gateway's libuv loop, the one protocol
 * callback, and HTTP routing: /ws (upgrade), /api/<method>, /healthz and
 * /readyz and static files, all on one port (/metrics: the ops port, lib/ops_uv.c).
 *
 * The callback is a table from lws reason to handler. Every WebSocket check
 * that can refuse with an HTTP status (path, Origin, token, connection
 * limit, per-user budget, accept bucket) runs in
 * LWS_CALLBACK_HTTP_CONFIRM_UPGRADE, before the 101; the token first, so
 * bogus upgrades never spend the accept bucket of real users. The
 * per-address budget is taken at accept (gw_server_admit) and given back
 * when lws destroys the socket (LWS_CALLBACK_WSI_DESTROY). */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <libwebsockets.h>

#include "backoff.h"
#include "buf.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_auth.h"
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_proxy.h"
#include "gw_reply.h"
#include "gw_server.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "loop.h"
#include "ops.h"

#define GW_PROTOCOL "parley-rtm"
#define GW_JSON "application/json; charset=utf-8"

#define GW_ACCEPT_BATCH 64
/* the most lws hands to one send(): lws 4.1 caps a send at tx_packet_size,
 * or, when that is 0, at rx_buffer_size (its "backwards compatibility"),
 * and copies the rest of the frame into a per-connection buffer to send on
 * the next POLLOUT. Our rx buffer is small (memory per idle connection), so
 * without this every frame over ~0.5 KB was split and copied per recipient.
 * Larger than any frame we write (a 40,000-character text, JSON-escaped). */
#define GW_TX_PACKET (1024 * 1024)
/* a body over max-body is read and dropped up to this, then answered
 * (request_too_large) on the same connection; beyond it (or a Content-Length
 * beyond it) the answer is written at once and the connection closed */
#define GW_BODY_DROP_MAX ((size_t)64 * 1024 * 1024)
#define GW_TOO_LARGE "{\"ok\":false,\"error\":\"request_too_large\"}"

static struct lws_protocols gw_protocols[2];
static int gw_server_created;		/* lws made a wsi in this adoption */
static lws_retry_bo_t gw_retry;
static struct lws_vhost *gw_vhost;
static int gw_listen_fd = -1;
static struct pl_watch *gw_listen_watch;
/* the HTTP front-ends above, set at their init */
static struct gw_server_api_ops gw_server_api_up;
static gw_server_file_fn gw_server_file_up;

/* gw_server_set_api - the Web API's hooks (api.c, at its init) */
void
gw_server_set_api(const struct gw_server_api_ops *ops)
{
	gw_server_api_up = *ops;
}

/* gw_server_set_files - what serves any other GET (static.c, at its init) */
void
gw_server_set_files(gw_server_file_fn fn)
{
	gw_server_file_up = fn;
}

/* gw_server_dispatch - hand a complete /api request to the Web API */
static void
gw_server_dispatch(struct gw_conn *c)
{
	if (gw_server_api_up.dispatch != NULL)
		gw_server_api_up.dispatch(c);
	else
		gw_reply_api_error(c, "unknown_method");
}

/* gw_server_status_text - reason phrases of the statuses we refuse with */
static const char *
gw_server_status_text(int status)
{
	switch (status) {
	case 400: return "Bad Request";
	case 401: return "Unauthorized";
	case 403: return "Forbidden";
	case 404: return "Not Found";
	case 429: return "Too Many Requests";
	default: return "Service Unavailable";
	}
}

/* gw_server_refuse - refuse an upgrade with a complete HTTP/1.1 response
 * written raw: lws would label it HTTP/1.0 here, which WebSocket clients
 * reject as invalid, hiding the status from them */
static int
gw_server_refuse(struct lws *wsi, int status, const char *code, int retry_after)
{
	char body[160], ra[48] = "";
	unsigned char buf[LWS_PRE + 512];
	int bn, n;

	bn = snprintf(body, sizeof(body), "{\"ok\":false,\"error\":\"%s\"}", code);
	if (retry_after > 0)
		snprintf(ra, sizeof(ra), "Retry-After: %d\r\n", retry_after);
	n = snprintf((char *)buf + LWS_PRE, sizeof(buf) - LWS_PRE,
	    "HTTP/1.1 %d %s\r\nContent-Type: " GW_JSON "\r\nContent-Length: %d\r\n"
	    "%sConnection: close\r\n\r\n%s", status, gw_server_status_text(status),
	    bn, ra, body);
	lws_write(wsi, buf + LWS_PRE, (size_t)n, LWS_WRITE_HTTP_HEADERS);
	return 1;
}

/* gw_server_confirm - every check before the 101: >0 refused, 0 go on */
static int
gw_server_confirm(struct lws *wsi, struct gw_conn *c, void *in)
{
	char *origin = gw_http_hdr(wsi, WSI_TOKEN_ORIGIN);
	char *host = gw_http_hdr(wsi, WSI_TOKEN_HOST);
	char path[64] = "";
	struct gw_auth a;
	int ok, ticket, retry = 0, rv;

	lws_hdr_copy(wsi, path, sizeof(path), WSI_TOKEN_GET_URI);
	ok = gw_auth_origin_ok(gw_conf.allowed_origins, origin, host);
	free(origin);
	free(host);
	if (strcmp(path, "/ws") != 0 && strcmp(path, "/ws/") != 0)
		return gw_server_refuse(wsi, 404, "not_found", 0);
	if (!ok) {
		pl_metrics_inc(gw_m.refused_origin);
		return gw_server_refuse(wsi, 403, "origin_not_allowed", 0);
	}
	if (gw.draining)
		return gw_server_refuse(wsi, 503, "draining", (int)pl_jitter_ms(1, 5));
	/* the token first (an HMAC, no I/O): only authenticated upgrades
	 * reach the limits below, so bogus ones cannot use them up */
	if ((rv = gw_auth_ws(wsi, &a, &ticket)) != 0) {
		pl_metrics_inc(gw_m.refused_auth);
		return gw_server_refuse(wsi, 401, gw_auth_err_code(rv), 0);
	}
	if (gw_active_deleted(a.user)) {	/* deactivated (active.c) */
		pl_metrics_inc(gw_m.refused_auth);
		return gw_server_refuse(wsi, 401, "account_inactive", 0);
	}
	if ((rv = gw_limits_user_admit(a.user, &retry)) != 0) {
		pl_metrics_inc(gw_m.refused_user);
		return gw_server_refuse(wsi, 429, "too_many_connections", retry);
	}
	if ((rv = gw_limits_admit(gw_conn_count(), &retry)) != 0) {
		pl_metrics_inc(gw_m.refused_limit);
		return gw_server_refuse(wsi, 503, "too_many_connections", retry);
	}
	(void)c;
	(void)in;
	return 0;
}

/* gw_server_ops - /healthz, /readyz on the client port */
static int
gw_server_ops(struct lws *wsi, const char *path)
{
	struct pl_buf body;
	const char *ctype = "text/plain";
	int status, rv;

	pl_buf_init(&body);
	status = pl_ops_handle(path, &body, &ctype);
	rv = gw_http_respond(wsi, status, ctype, body.data ? body.data : "", body.len, 0);
	pl_buf_fini(&body);
	if (rv < 0 || lws_http_transaction_completed(wsi))
		return -1;
	return 0;
}

/* gw_server_too_large - answer request_too_large now and hang up: the rest
 * of the body is not read (PROTOCOL.md: HTTP 200 with an error) */
static int
gw_server_too_large(struct gw_conn *c)
{
	pl_log_info("GW-HTTP-TOO-LARGE", "path=%s dropped=%zu", c->http->path,
	    c->http->dropped);
	gw_http_respond(c->wsi, 200, GW_JSON, GW_TOO_LARGE, sizeof(GW_TOO_LARGE) - 1, 0);
	return -1;
}

/* gw_server_body_limit - a declared Content-Length over max-body: drop the
 * body as it comes (answered at its end), or, when even that is too much,
 * answer now and close */
static int
gw_server_body_limit(struct lws *wsi, struct gw_conn *c)
{
	char cl[32] = "";
	unsigned long long n;

	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	n = strtoull(cl, NULL, 10);
	if (n <= (unsigned long long)gw_conf.max_body)
		return 0;
	c->http->too_large = 1;
	return n > GW_BODY_DROP_MAX ? gw_server_too_large(c) : 0;
}

/* gw_server_param_refused - answer a request whose parameters could not
 * be decoded within the bounds (before its token is looked at) */
static void
gw_server_param_refused(struct gw_conn *c, int rv)
{
	pl_metrics_inc(rv == PL_ETOOBIG ? gw_m.params_refused_count :
	    rv == PL_EPROTO ? gw_m.params_refused_key : gw_m.params_refused_syntax);
	pl_log_info("GW-HTTP-PARAMS", "path=%s err=%s", c->http->path, pl_err_str(rv));
	gw_reply_api_error(c, gw_params_error(rv));
}

/* gw_server_release_headers - everything the request needs from its
 * headers is copied (gw_http): give its lws header slot back. lws 4.1
 * keeps the slot until the transaction completes otherwise, so 256 held
 * polls or slow message-svc answers took every slot of the process and no
 * new connection was served. Only once the body is read: lws needs the
 * slot to read a body (it attaches one again if it is missing). */
static void
gw_server_release_headers(struct lws *wsi)
{
	lws_http_headers_detach(wsi);
}

/* gw_server_has_body - a POST whose body lws will read: a Content-Length
 * above 0, or a Transfer-Encoding. Without either (curl -X POST with no
 * data) lws reads nothing and never reports a body's completion, so the
 * request is answered at once as one with an empty body instead of waiting
 * for the connection's timeout. */
static int
gw_server_has_body(struct lws *wsi)
{
	char cl[32] = "";

	if (lws_hdr_total_length(wsi, WSI_TOKEN_HTTP_TRANSFER_ENCODING) > 0)
		return 1;
	if (lws_hdr_copy(wsi, cl, sizeof(cl), WSI_TOKEN_HTTP_CONTENT_LENGTH) <= 0)
		return 0;
	return strtoull(cl, NULL, 10) > 0;
}

static int gw_server_body_done(struct gw_conn *c);

/* gw_server_api - start an /api/<method> transaction */
static int
gw_server_api(struct lws *wsi, struct gw_conn *c, const char *path)
{
	struct gw_http *h = pl_calloc(1, sizeof(*h));
	char frag[8192];
	int i, n, rv = 0;

	c->wsi = wsi;
	c->http = h;
	h->start_us = pl_clock_mono_us();
	snprintf(h->method, sizeof(h->method), "%s", path + 5);
	h->path = pl_strdup(path);
	h->auth = gw_http_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	h->ctype = gw_http_hdr(wsi, WSI_TOKEN_HTTP_CONTENT_TYPE);
	h->host = gw_http_hdr(wsi, WSI_TOKEN_HOST);
	h->is_post = lws_hdr_total_length(wsi, WSI_TOKEN_POST_URI) > 0;
	gw_conn_register(c);
	/* lws has split the query at '&' and url-decoded each fragment */
	for (i = 0; rv == 0 && (n = lws_hdr_copy_fragment(wsi, frag, sizeof(frag),
	    WSI_TOKEN_HTTP_URI_ARGS, i)) > 0; i++)
		rv = gw_params_query(&h->params, frag, (size_t)n);
	h->param_err = rv;
	if (h->is_post && gw_server_has_body(wsi))
		return gw_server_body_limit(wsi, c);
	if (h->is_post)		/* lws reads no body: nothing would end it */
		return gw_server_body_done(c);
	gw_server_release_headers(wsi);
	if (rv != 0)
		gw_server_param_refused(c, rv);
	else
		gw_server_dispatch(c);
	return 0;
}

/* gw_server_body_done - a POST body is complete: decode and dispatch */
static int
gw_server_body_done(struct gw_conn *c)
{
	struct gw_http *h = c->http;
	int rv = 0;

	if (h == NULL)
		return -1;
	if (h->too_large) {
		pl_log_info("GW-HTTP-TOO-LARGE", "path=%s dropped=%zu", h->path, h->dropped);
		gw_reply_api_error(c, "request_too_large");
		return 0;
	}
	gw_server_release_headers(c->wsi);
	if ((rv = h->param_err) == 0 && h->body.len > 0) {
		if (h->ctype != NULL && strstr(h->ctype, "application/json") != NULL)
			rv = gw_params_json(&h->params, h->body.data, h->body.len);
		else
			rv = gw_params_form(&h->params, h->body.data, h->body.len);
	}
	if (rv != 0) {
		gw_server_param_refused(c, rv);
		return 0;
	}
	gw_server_dispatch(c);
	return 0;
}

/* gw_server_http - route a plain HTTP request */
static int
gw_server_http(struct lws *wsi, struct gw_conn *c, void *in, size_t len)
{
	const char *path = in;

	memset(c, 0, sizeof(*c));
	if (strncmp(path, "/api/", 5) == 0 && path[5] != 0)
		return gw_server_api(wsi, c, path);
	/* for load balancers; /metrics is on each process's ops port (lib/ops_uv.c) */
	if (strcmp(path, "/healthz") == 0 || strcmp(path, "/readyz") == 0)
		return gw_server_ops(wsi, path);
	if (strcmp(path, "/ws") == 0) {
		static const char need[] = "{\"ok\":false,\"error\":\"websocket_upgrade_required\"}";

		gw_http_respond(wsi, 400, GW_JSON, need, sizeof(need) - 1, 0);
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	}
	if (gw_server_file_up == NULL)
		return -1;
	return gw_server_file_up(wsi, path);
}

/* gw_server_request_timeout - the body did not arrive within the whole-
 * request deadline: answer request_timeout (408) and hang up */
static int
gw_server_request_timeout(struct gw_conn *c)
{
	static const char body[] = "{\"ok\":false,\"error\":\"request_timeout\"}";

	pl_metrics_inc(gw_m.http_timeouts);
	pl_log_info("GW-HTTP-TIMEOUT", "path=%s bytes=%zu", c->http->path,
	    c->http->body.len + c->http->dropped);
	gw_http_respond(c->wsi, 408, GW_JSON, body, sizeof(body) - 1, 0);
	return -1;
}

/* gw_server_http_body - append a chunk of a POST body, bounded in size and
 * in time: lws restarts its content timeout at every chunk, so a body
 * trickled a byte at a time would otherwise never end */
static int
gw_server_http_body(struct gw_conn *c, void *in, size_t len)
{
	struct gw_http *h = c->http;

	if (h == NULL)
		return -1;
	if (pl_clock_mono_us() - h->start_us >
	    (uint64_t)gw_conf.http_request_timeout_s * 1000000u)
		return gw_server_request_timeout(c);
	if (!h->too_large && h->body.len + len > (size_t)gw_conf.max_body) {
		h->too_large = 1;
		h->dropped = h->body.len;
		pl_buf_fini(&h->body);
	}
	if (!h->too_large) {
		pl_buf_append(&h->body, in, len);
		return 0;
	}
	h->dropped += len;
	return h->dropped > GW_BODY_DROP_MAX ? gw_server_too_large(c) : 0;
}

/* gw_server_http_writeable - send the kept response and finish the
 * transaction */
static int
gw_server_http_writeable(struct gw_conn *c)
{
	struct gw_http *h = c->http;
	int rv;

	if (h == NULL || !h->resp_ready)
		return 0;
	rv = gw_http_respond(c->wsi, h->status, h->resp_type, h->resp.data ? h->resp.data : "",
	    h->resp.len, h->retry_after);
	gw_conn_unregister(c);
	gw_http_free(&c->http);
	if (rv < 0)
		return -1;
	return lws_http_transaction_completed(c->wsi) ? -1 : 0;
}

/* gw_server_http_closed - the HTTP connection went away */
static void
gw_server_http_closed(struct gw_conn *c)
{
	if (gw_server_api_up.closed != NULL)
		gw_server_api_up.closed(c);
	if (c->http != NULL) {
		gw_conn_unregister(c);
		gw_http_free(&c->http);
	}
}

/* gw_server_destroyed - lws frees a socket's wsi (every one, whatever its
 * state): its address gives the socket back */
static void
gw_server_destroyed(struct lws *wsi)
{
	struct gw_peer *p = lws_get_opaque_user_data(wsi);

	if (p == NULL)
		return;
	lws_set_opaque_user_data(wsi, NULL);
	gw_limits_peer_put(&p);
}

/* gw_server_cb - the protocol callback: one branch per reason we serve */
static int
gw_server_cb(struct lws *wsi, enum lws_callback_reasons reason, void *user,
    void *in, size_t len)
{
	struct gw_conn *c = user;

	switch (reason) {
	case LWS_CALLBACK_HTTP:
		return gw_server_http(wsi, c, in, len);
	case LWS_CALLBACK_HTTP_BODY:
		return gw_server_http_body(c, in, len);
	case LWS_CALLBACK_HTTP_BODY_COMPLETION:
		return gw_server_body_done(c);
	case LWS_CALLBACK_HTTP_WRITEABLE:
		return gw_server_http_writeable(c);
	case LWS_CALLBACK_HTTP_FILE_COMPLETION:
		return lws_http_transaction_completed(wsi) ? -1 : 0;
	case LWS_CALLBACK_CLOSED_HTTP:
		if (c != NULL && !c->ws)
			gw_server_http_closed(c);
		return 0;
	case LWS_CALLBACK_HTTP_CONFIRM_UPGRADE:
		return gw_server_confirm(wsi, c, in);
	case LWS_CALLBACK_ESTABLISHED:
		c->wsi = wsi;
		return gw_conn_established(c);
	case LWS_CALLBACK_RECEIVE:
		return gw_conn_receive(c, in, len);
	case LWS_CALLBACK_WS_PEER_INITIATED_CLOSE:
		return gw_conn_peer_close(c, in, len);
	case LWS_CALLBACK_RECEIVE_PONG:
		gw_conn_pong(c);
		return 0;
	case LWS_CALLBACK_SERVER_WRITEABLE:
		return gw_conn_writeable(c);
	case LWS_CALLBACK_CLOSED:
		gw_conn_closed(c);
		return 0;
	case LWS_CALLBACK_WSI_CREATE:
		gw_server_created = 1;
		return 0;
	case LWS_CALLBACK_WSI_DESTROY:
		gw_server_destroyed(wsi);
		return 0;
	default:
		return lws_callback_http_dummy(wsi, reason, user, in, len);
	}
}

/* gw_server_lws_log - lws's own log lines, as one event */
static void
gw_server_lws_log(int level, const char *line)
{
	size_t n = strlen(line);

	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		n--;
	pl_log_warn("GW-LWS", "level=%d msg=\"%.*s\"", level, (int)n, line);
}

/* gw_server_listen - our own listening socket with SO_REUSEPORT: lws 4.1
 * sets only SO_REUSEADDR on Linux (ALLOW_LISTEN_SHARE is a Windows option
 * there), so several gateway processes could not share the port; we accept
 * and hand each socket to lws (lws_adopt_socket_vhost) */
static int
gw_server_listen(const char *host, int port)
{
	struct sockaddr_in sa;
	socklen_t sl = sizeof(sa);
	int fd, one = 1;

	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_port = htons((uint16_t)port);
	if (inet_pton(AF_INET, host && *host ? host : "0.0.0.0", &sa.sin_addr) != 1)
		return PL_EINVAL;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0 ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0 ||
	    bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 4096) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl) != 0) {
		int rv = -errno;

		close(fd);
		return rv;
	}
	gw_listen_fd = fd;
	gw.port = ntohs(sa.sin_port);
	return 0;
}

/* gw_server_refuse_socket - over the per-address budget: a complete 503
 * written raw (best effort: the socket is new, its buffer empty) and close */
static void
gw_server_refuse_socket(int fd, const char *addr)
{
	static const char body[] = "{\"ok\":false,\"error\":\"too_many_connections\"}";
	char resp[256];
	int n;

	pl_metrics_inc(gw_m.refused_ip);
	pl_log_debug("GW-REFUSED-IP", "addr=%s held=%zu", addr, gw_limits_peer_count(addr));
	n = snprintf(resp, sizeof(resp), "HTTP/1.1 503 Service Unavailable\r\n"
	    "Content-Type: " GW_JSON "\r\nContent-Length: %zu\r\nRetry-After: 10\r\n"
	    "Connection: close\r\n\r\n%s", sizeof(body) - 1, body);
	if (send(fd, resp, (size_t)n, MSG_DONTWAIT | MSG_NOSIGNAL) < 0)
		pl_log_debug("GW-REFUSED-IP-SEND", "err=%s", strerror(errno));
	shutdown(fd, SHUT_WR);
	close(fd);
}

static void gw_server_adopt(int fd, struct gw_peer *peer);

/* gw_server_admit - charge addr for the socket and give it to lws */
static void
gw_server_admit(int fd, const char *addr)
{
	struct gw_peer *peer;

	if (gw_limits_peer_take(addr, &peer) != 0) {
		gw_server_refuse_socket(fd, addr);
		return;
	}
	gw_server_adopt(fd, peer);
}

/* gw_server_adopt - give fd to lws; peer (the budget it holds, owned) goes
 * with it and comes back in LWS_CALLBACK_WSI_DESTROY */
static void
gw_server_adopt(int fd, struct gw_peer *peer)
{
	lws_adopt_desc_t info;
	int one = 1;

	/* lws sets TCP_NODELAY only on sockets it accepts itself, not on
	 * adopted ones: without it Nagle held the body of a keep-alive Web
	 * API answer (written after its headers) until the client's delayed
	 * ACK, 40 ms per request after the first */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) != 0)
		pl_log_debug("GW-NODELAY", "fd=%d err=%s", fd, strerror(errno));
	memset(&info, 0, sizeof(info));
	info.vh = gw_vhost;
	info.type = LWS_ADOPT_SOCKET | LWS_ADOPT_HTTP | LWS_ADOPT_ALLOW_SSL;
	info.fd.sockfd = fd;
	info.opaque = peer;		/* given back in LWS_CALLBACK_WSI_DESTROY */
	gw_server_created = 0;
	if (lws_adopt_descriptor_vhost_via_info(&info) != NULL)
		return;
	/* lws closed fd. A failure after it made the wsi destroys it (and so
	 * gives the budget back, maybe later); one before did not */
	pl_log_warn("GW-ADOPT", "fd=%d", fd);
	if (!gw_server_created)
		gw_limits_peer_put(&peer);
}

/* gw_server_accept - accept a batch; each socket goes to lws at once, or,
 * with the PROXY protocol on, first waits for its header (proxy.c) */
static void
gw_server_accept(void *arg)
{
	struct sockaddr_in sa;
	struct gw_peer *peer;
	socklen_t sl;
	char addr[GW_ADDR_MAX];
	int i, fd;

	(void)arg;
	for (i = 0; i < GW_ACCEPT_BATCH && gw_listen_fd >= 0; i++) {
		sl = sizeof(sa);
		fd = accept4(gw_listen_fd, (struct sockaddr *)&sa, &sl,
		    SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
				pl_log_warn("GW-ACCEPT", "err=%s", strerror(errno));
			return;
		}
		if (sa.sin_family != AF_INET ||
		    inet_ntop(AF_INET, &sa.sin_addr, addr, sizeof(addr)) == NULL)
			snprintf(addr, sizeof(addr), "unknown");
		if (!gw_conf.proxy_protocol)
			gw_server_admit(fd, addr);
		else if (gw_limits_trusted(addr))
			gw_proxy_wait(fd, addr, NULL);	/* charged to the header's address */
		else if (gw_limits_peer_take(addr, &peer) == 0)
			gw_proxy_wait(fd, addr, peer);	/* charged while it waits too */
		else
			gw_server_refuse_socket(fd, addr);
	}
}

/* what proxy.c does with a socket whose first bytes it has read */
static const struct gw_proxy_ops gw_server_proxy_ops = {
	gw_server_admit, gw_server_adopt,
};

/* gw_server_start - create the lws context on our uv loop and listen */
int
gw_server_start(void)
{
	struct lws_context_creation_info info;
	static void *loops[1];
	char *host = NULL;
	int port, rv;

	if ((rv = pl_parse_hostport(gw_conf.http_addr, &host, &port)) != 0)
		return rv;
	lws_set_log_level(getenv("GW_LWS_DEBUG") ? 0xff : LLL_ERR, gw_server_lws_log);
	gw_protocols[0].name = GW_PROTOCOL;
	gw_protocols[0].callback = gw_server_cb;
	gw_protocols[0].per_session_data_size = sizeof(struct gw_conn);
	gw_protocols[0].rx_buffer_size = (size_t)gw_conf.rx_buffer;
	gw_protocols[0].tx_packet_size = GW_TX_PACKET;
	/* no lws validity timers (pings and dead peers are conn.c's sweep):
	 * lws re-inserts them into a sorted list, O(connections), per frame */
	gw_retry.secs_since_valid_ping = 0;
	gw_retry.secs_since_valid_hangup = 0;
	loops[0] = gw.uv;
	memset(&info, 0, sizeof(info));
	info.port = CONTEXT_PORT_NO_LISTEN_SERVER;
	info.protocols = gw_protocols;
	info.options = LWS_SERVER_OPTION_LIBUV | LWS_SERVER_OPTION_VALIDATE_UTF8 |
	    LWS_SERVER_OPTION_DISABLE_IPV6;
	info.foreign_loops = loops;
	info.timeout_secs = (unsigned int)gw_conf.pong_timeout_s;
	info.retry_and_idle_policy = &gw_retry;
	/* header slots: each HTTP request holds one only while its headers
	 * are read (gw_server_api detaches it); slow headers lose it after
	 * http-header-timeout-s; PARLEY_MAX_CONNS_IP keeps one address from
	 * holding more than a part of them */
	info.max_http_header_pool2 = (unsigned int)gw_conf.http_header_pool;
	info.timeout_secs_ah_idle = (unsigned int)gw_conf.http_header_timeout_s;
	info.pt_serv_buf_size = 32768;
	gw.lws = lws_create_context(&info);
	if (gw.lws == NULL || (gw_vhost = lws_get_vhost_by_name(gw.lws, "default")) == NULL) {
		free(host);
		return PL_EIO;
	}
	gw_proxy_set_ops(&gw_server_proxy_ops);
	rv = gw_server_listen(strcmp(host, "0.0.0.0") == 0 ? "" : host, port);
	free(host);
	if (rv != 0)
		return rv;
	if ((rv = pl_loop_watch(gw.loop, gw_listen_fd, gw_server_accept, NULL,
	    &gw_listen_watch)) != 0)
		return rv;
	if (gw_conf.http_port_file[0] &&
	    (rv = pl_write_port_file(gw_conf.http_port_file, gw.port)) != 0)
		return rv;
	pl_log_info("GW-LISTEN", "addr=%s port=%d", gw_conf.http_addr, gw.port);
	return 0;
}

/* gw_server_deprecate - close the listen socket; connections stay */
void
gw_server_deprecate(void)
{
	pl_loop_unwatch(&gw_listen_watch);
	if (gw_listen_fd >= 0)
		close(gw_listen_fd);
	gw_listen_fd = -1;
}

/* the context between gw_server_stop and gw_server_free */
static struct lws_context *gw_lws_closing;

/* gw_server_stop - destroy the context (its uv handles close on the loop) */
void
gw_server_stop(void)
{
	gw_server_deprecate();
	gw_proxy_fini();
	if (gw.lws == NULL)
		return;
	gw_lws_closing = gw.lws;
	lws_context_destroy(gw.lws);
	gw.lws = NULL;
	gw_vhost = NULL;
}

/* gw_server_free - after the loop has delivered the close callbacks: on a
 * foreign loop lws frees the context only in this second destroy */
void
gw_server_free(void)
{
	lws_context_destroy(gw_lws_closing);
	gw_lws_closing = NULL;
}
