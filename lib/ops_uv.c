/* ops_uv.c - the ops paths (/healthz, /readyz, /metrics) served on a libuv
 * loop: pl_ops_handle's content, as ops.c serves it with evhttp for the
 * libevent daemons. pl_daemon_main opens it for a libuv daemon (the gateway).
 *
 * The gateway's client port is shared by every gateway process
 * (SO_REUSEPORT), so a scrape of /metrics there reached whichever process
 * the kernel picked. The ops port is the process's alone (no SO_REUSEPORT:
 * two processes given the same fixed port is a start-up error, not a silent
 * share). Port 0 picks a free port. The skeleton binds it before init dials
 * any service (a taken port fails fast: a process that dies right after
 * dialling message-svc's ipc socket can stop nng 1.5.2's listener from
 * accepting, nanomsg/nng#1518); it answers once the loop runs and stays open
 * while draining (/readyz answers 503).
 *
 * A small HTTP/1.x server on libuv, not lws: lws picks a vhost by the Host
 * header, so a second lws vhost cannot be told apart from the gateway's
 * client one. One request per connection (Connection: close), GET or HEAD,
 * the request head at most PL_OPS_UV_HEAD bytes and PL_OPS_UV_TIMEOUT_MS
 * long, at most PL_OPS_UV_CONNS connections (more are closed at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "ops.h"

#define PL_OPS_UV_HEAD 8192
#define PL_OPS_UV_TIMEOUT_MS 10000
#define PL_OPS_UV_CONNS 64

/* one ops connection: read the head, write one answer, close */
struct pl_ops_uvreq {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	struct pl_buf out;
	char head[PL_OPS_UV_HEAD + 1];
	size_t n;
	int open_handles;	/* tcp and timer, freed when both are closed */
	int closing;
	struct pl_ops_uv *ops;
	struct pl_ops_uvreq *prev, *next;
};

/* the server: freed when its listener has closed */
struct pl_ops_uv {
	uv_tcp_t srv;
	int port, conns;
	struct pl_ops_uvreq *list;
};

/* pl_ops_uv_closed - one handle closed; free after the second */
static void
pl_ops_uv_closed(uv_handle_t *h)
{
	struct pl_ops_uvreq *r = h->data;

	if (--r->open_handles > 0)
		return;
	pl_buf_fini(&r->out);
	free(r);
}

/* pl_ops_uv_close - unlink and close both handles (once) */
static void
pl_ops_uv_close(struct pl_ops_uvreq *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	if (r->prev)
		r->prev->next = r->next;
	else
		r->ops->list = r->next;
	if (r->next)
		r->next->prev = r->prev;
	r->ops->conns--;
	uv_close((uv_handle_t *)&r->timer, pl_ops_uv_closed);
	uv_close((uv_handle_t *)&r->tcp, pl_ops_uv_closed);
}

/* pl_ops_uv_written - the answer is out: hang up */
static void
pl_ops_uv_written(uv_write_t *w, int status)
{
	(void)status;
	pl_ops_uv_close(w->data);
}

/* pl_ops_uv_reason - reason phrases of the statuses answered here */
static const char *
pl_ops_uv_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 404: return "Not Found";
	case 405: return "Method Not Allowed";
	case 431: return "Request Header Fields Too Large";
	case 503: return "Service Unavailable";
	default: return "Bad Request";
	}
}

/* pl_ops_uv_answer - route the request line and write the whole answer */
static void
pl_ops_uv_answer(struct pl_ops_uvreq *r, int status)
{
	struct pl_buf body;
	const char *ctype = "text/plain; charset=utf-8";
	char *path = NULL, *sp, *q;
	int head_only = strncmp(r->head, "HEAD ", 5) == 0;
	uv_buf_t b;

	pl_buf_init(&body);
	if (status == 0 && !head_only && strncmp(r->head, "GET ", 4) != 0)
		status = 405;
	if (status == 0) {
		path = r->head + (head_only ? 5 : 4);
		if ((sp = strpbrk(path, " \r\n")) != NULL)
			*sp = '\0';
		if ((q = strchr(path, '?')) != NULL)
			*q = '\0';
		status = pl_ops_handle(path, &body, &ctype);
	} else {
		pl_buf_printf(&body, "%s\n", pl_ops_uv_reason(status));
	}
	pl_buf_printf(&r->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
	    status, pl_ops_uv_reason(status), ctype, body.len);
	if (!head_only && body.len)
		pl_buf_append(&r->out, body.data, body.len);
	pl_buf_fini(&body);
	uv_read_stop((uv_stream_t *)&r->tcp);
	uv_timer_stop(&r->timer);
	b = uv_buf_init(r->out.data, (unsigned int)r->out.len);
	r->wr.data = r;
	if (uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, pl_ops_uv_written) != 0)
		pl_ops_uv_close(r);
}

/* pl_ops_uv_alloc - read into the rest of the head buffer */
static void
pl_ops_uv_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
	struct pl_ops_uvreq *r = h->data;

	(void)want;
	*buf = uv_buf_init(r->head + r->n, (unsigned int)(PL_OPS_UV_HEAD - r->n));
}

/* pl_ops_uv_read - until the blank line that ends the head */
static void
pl_ops_uv_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct pl_ops_uvreq *r = s->data;

	(void)buf;
	if (nread < 0) {
		pl_ops_uv_close(r);
		return;
	}
	r->n += (size_t)nread;
	r->head[r->n] = '\0';
	if (strstr(r->head, "\r\n\r\n") != NULL || strstr(r->head, "\n\n") != NULL)
		pl_ops_uv_answer(r, 0);
	else if (r->n >= PL_OPS_UV_HEAD)
		pl_ops_uv_answer(r, 431);
}

/* pl_ops_uv_timeout - the head did not come in time */
static void
pl_ops_uv_timeout(uv_timer_t *t)
{
	pl_ops_uv_close(t->data);
}

/* pl_ops_uv_conn - accept one connection (closed at once over the cap) */
static void
pl_ops_uv_conn(uv_stream_t *srv, int status)
{
	struct pl_ops_uv *h = srv->data;
	struct pl_ops_uvreq *r;

	if (status != 0)
		return;
	r = pl_calloc(1, sizeof(*r));
	pl_buf_init(&r->out);
	uv_tcp_init(srv->loop, &r->tcp);
	uv_timer_init(srv->loop, &r->timer);
	r->tcp.data = r->timer.data = r;
	r->open_handles = 2;
	r->ops = h;
	r->next = h->list;
	if (r->next)
		r->next->prev = r;
	h->list = r;
	h->conns++;
	if (uv_accept(srv, (uv_stream_t *)&r->tcp) != 0 || h->conns > PL_OPS_UV_CONNS ||
	    uv_read_start((uv_stream_t *)&r->tcp, pl_ops_uv_alloc, pl_ops_uv_read) != 0) {
		pl_ops_uv_close(r);
		return;
	}
	uv_timer_start(&r->timer, pl_ops_uv_timeout, PL_OPS_UV_TIMEOUT_MS, 0);
}

/* pl_ops_uv_free - the listener is closed: free the server */
static void
pl_ops_uv_free(uv_handle_t *srv)
{
	free(srv->data);
}

/* pl_ops_uv_start - serve the ops paths on addr; write the bound port */
int
pl_ops_uv_start(struct uv_loop_s *uv, const char *addr, const char *port_file,
    struct pl_ops_uv **r)
{
	struct pl_ops_uv *h;
	struct sockaddr_storage ss;
	int sl = sizeof(ss), port, rv;
	char *host = NULL;

	if ((rv = pl_parse_hostport(addr, &host, &port)) != 0)
		return rv;
	rv = uv_ip4_addr(*host ? host : "0.0.0.0", port, (struct sockaddr_in *)&ss);
	free(host);
	if (rv != 0)
		return PL_EINVAL;
	h = pl_calloc(1, sizeof(*h));
	uv_tcp_init(uv, &h->srv);
	h->srv.data = h;
	if ((rv = uv_tcp_bind(&h->srv, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&h->srv, 128, pl_ops_uv_conn)) != 0 ||
	    (rv = uv_tcp_getsockname(&h->srv, (struct sockaddr *)&ss, &sl)) != 0) {
		pl_log_error("OPS-BIND-FAIL", "addr=%s err=\"%s\"", addr, uv_strerror(rv));
		goto fail;	/* rv: a negative errno, as libuv's codes are on Unix */
	}
	h->port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	if (port_file && *port_file && (rv = pl_write_port_file(port_file, h->port)) != 0)
		goto fail;
	pl_log_info("OPS-LISTEN", "addr=%s port=%d", addr, h->port);
	*r = h;
	return 0;
fail:
	uv_close((uv_handle_t *)&h->srv, pl_ops_uv_free);
	return rv;
}

/* pl_ops_uv_port - the bound port */
int
pl_ops_uv_port(const struct pl_ops_uv *h)
{
	return h->port;
}

/* pl_ops_uv_stop - close the listener and every open ops connection; the
 * memory goes when the loop has run their close callbacks */
void
pl_ops_uv_stop(struct pl_ops_uv **hp)
{
	struct pl_ops_uv *h = *hp;

	if (h == NULL)
		return;
	*hp = NULL;
	while (h->list != NULL)
		pl_ops_uv_close(h->list);
	uv_close((uv_handle_t *)&h->srv, pl_ops_uv_free);
}
