/* opsport.c - this gateway process's own ops port: /metrics, /healthz and
 * /readyz on ops-addr, apart from the client port.
 *
 * The client port is shared by every gateway process (SO_REUSEPORT), so a
 * scrape of /metrics there reached whichever process the kernel picked. The
 * ops port is this process's alone (no SO_REUSEPORT: two processes given
 * the same fixed port is a start-up error, not a silent share). Port 0
 * picks a free port. It is bound first thing at start-up, before any
 * service is dialled (a taken port fails fast: a process that dies right
 * after dialling message-svc's ipc socket can stop nng 1.5.2's listener
 * from accepting, nanomsg/nng#1518), and answers once the loop runs; its
 * port is written to ops-port-file only after the client port listens
 * (gw_opsport_announce), so a port file means both are there. It stays
 * open while draining (/readyz answers 503).
 *
 * A small HTTP/1.x server on libuv, not lws: lws picks a vhost by the Host
 * header, so a second lws vhost cannot be told apart from the client one.
 * One request per connection (Connection: close), GET or HEAD, the request
 * head at most GW_OPSPORT_HEAD bytes and GW_OPSPORT_TIMEOUT_MS long, at most
 * GW_OPSPORT_CONNS connections (more are closed at once). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "buf.h"
#include "err.h"
#include "gateway.h"
#include "log.h"
#include "mem.h"
#include "ops.h"

#define GW_OPSPORT_HEAD 8192
#define GW_OPSPORT_TIMEOUT_MS 10000
#define GW_OPSPORT_CONNS 64

/* one ops connection: read the head, write one answer, close */
struct gw_opsreq {
	uv_tcp_t tcp;
	uv_timer_t timer;
	uv_write_t wr;
	struct pl_buf out;
	char head[GW_OPSPORT_HEAD + 1];
	size_t n;
	int open_handles;	/* tcp and timer, freed when both are closed */
	int closing;
	struct gw_opsreq *prev, *next;
};

static struct {
	uv_tcp_t srv;
	int listening, port, conns;
	struct gw_opsreq *list;
} gw_ops;

/* gw_opsport_closed - one handle closed; free after the second */
static void
gw_opsport_closed(uv_handle_t *h)
{
	struct gw_opsreq *r = h->data;

	if (--r->open_handles > 0)
		return;
	pl_buf_fini(&r->out);
	free(r);
}

/* gw_opsport_close - unlink and close both handles (once) */
static void
gw_opsport_close(struct gw_opsreq *r)
{
	if (r->closing)
		return;
	r->closing = 1;
	if (r->prev)
		r->prev->next = r->next;
	else
		gw_ops.list = r->next;
	if (r->next)
		r->next->prev = r->prev;
	gw_ops.conns--;
	uv_close((uv_handle_t *)&r->timer, gw_opsport_closed);
	uv_close((uv_handle_t *)&r->tcp, gw_opsport_closed);
}

/* gw_opsport_written - the answer is out: hang up */
static void
gw_opsport_written(uv_write_t *w, int status)
{
	(void)status;
	gw_opsport_close(w->data);
}

/* gw_opsport_reason - reason phrases of the statuses answered here */
static const char *
gw_opsport_reason(int status)
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

/* gw_opsport_answer - route the request line and write the whole answer */
static void
gw_opsport_answer(struct gw_opsreq *r, int status)
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
		pl_buf_printf(&body, "%s\n", gw_opsport_reason(status));
	}
	pl_buf_printf(&r->out, "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\nCache-Control: no-store\r\nConnection: close\r\n\r\n",
	    status, gw_opsport_reason(status), ctype, body.len);
	if (!head_only && body.len)
		pl_buf_append(&r->out, body.data, body.len);
	pl_buf_fini(&body);
	uv_read_stop((uv_stream_t *)&r->tcp);
	uv_timer_stop(&r->timer);
	b = uv_buf_init(r->out.data, (unsigned int)r->out.len);
	r->wr.data = r;
	if (uv_write(&r->wr, (uv_stream_t *)&r->tcp, &b, 1, gw_opsport_written) != 0)
		gw_opsport_close(r);
}

/* gw_opsport_alloc - read into the rest of the head buffer */
static void
gw_opsport_alloc(uv_handle_t *h, size_t want, uv_buf_t *buf)
{
	struct gw_opsreq *r = h->data;

	(void)want;
	*buf = uv_buf_init(r->head + r->n, (unsigned int)(GW_OPSPORT_HEAD - r->n));
}

/* gw_opsport_read - until the blank line that ends the head */
static void
gw_opsport_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct gw_opsreq *r = s->data;

	(void)buf;
	if (nread < 0) {
		gw_opsport_close(r);
		return;
	}
	r->n += (size_t)nread;
	r->head[r->n] = '\0';
	if (strstr(r->head, "\r\n\r\n") != NULL || strstr(r->head, "\n\n") != NULL)
		gw_opsport_answer(r, 0);
	else if (r->n >= GW_OPSPORT_HEAD)
		gw_opsport_answer(r, 431);
}

/* gw_opsport_timeout - the head did not come in time */
static void
gw_opsport_timeout(uv_timer_t *t)
{
	gw_opsport_close(t->data);
}

/* gw_opsport_conn - accept one connection (closed at once over the cap) */
static void
gw_opsport_conn(uv_stream_t *srv, int status)
{
	struct gw_opsreq *r;

	if (status != 0)
		return;
	r = pl_calloc(1, sizeof(*r));
	pl_buf_init(&r->out);
	uv_tcp_init(gw.uv, &r->tcp);
	uv_timer_init(gw.uv, &r->timer);
	r->tcp.data = r->timer.data = r;
	r->open_handles = 2;
	r->next = gw_ops.list;
	if (r->next)
		r->next->prev = r;
	gw_ops.list = r;
	gw_ops.conns++;
	if (uv_accept(srv, (uv_stream_t *)&r->tcp) != 0 || gw_ops.conns > GW_OPSPORT_CONNS ||
	    uv_read_start((uv_stream_t *)&r->tcp, gw_opsport_alloc, gw_opsport_read) != 0) {
		gw_opsport_close(r);
		return;
	}
	uv_timer_start(&r->timer, gw_opsport_timeout, GW_OPSPORT_TIMEOUT_MS, 0);
}

/* gw_opsport_start - listen on ops-addr (the port file: gw_opsport_announce) */
int
gw_opsport_start(void)
{
	struct sockaddr_storage ss;
	int sl = sizeof(ss), port, rv;
	char *host = NULL;

	if ((rv = pl_parse_hostport(gw_conf.ops_addr, &host, &port)) != 0)
		return rv;
	rv = uv_ip4_addr(*host ? host : "0.0.0.0", port, (struct sockaddr_in *)&ss);
	free(host);
	if (rv != 0)
		return PL_EINVAL;
	uv_tcp_init(gw.uv, &gw_ops.srv);
	gw_ops.listening = 1;
	if ((rv = uv_tcp_bind(&gw_ops.srv, (struct sockaddr *)&ss, 0)) != 0 ||
	    (rv = uv_listen((uv_stream_t *)&gw_ops.srv, 128, gw_opsport_conn)) != 0 ||
	    (rv = uv_tcp_getsockname(&gw_ops.srv, (struct sockaddr *)&ss, &sl)) != 0) {
		pl_log_error("GW-OPS-LISTEN-FAIL", "addr=%s err=%s", gw_conf.ops_addr,
		    uv_strerror(rv));
		return rv;	/* a negative errno, as libuv's codes are on Unix */
	}
	gw_ops.port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
	pl_log_info("GW-OPS-LISTEN", "addr=%s port=%d", gw_conf.ops_addr, gw_ops.port);
	return 0;
}

/* gw_opsport_announce - write the ops port file (after the client port) */
int
gw_opsport_announce(void)
{
	if (gw_conf.ops_port_file[0] == '\0')
		return 0;
	return pl_write_port_file(gw_conf.ops_port_file, gw_ops.port);
}

/* gw_opsport_port - the bound ops port (0 before gw_opsport_start) */
int
gw_opsport_port(void)
{
	return gw_ops.port;
}

/* gw_opsport_stop - close the listener and every open ops connection */
void
gw_opsport_stop(void)
{
	if (gw_ops.listening) {
		gw_ops.listening = 0;
		uv_close((uv_handle_t *)&gw_ops.srv, NULL);
	}
	while (gw_ops.list != NULL)
		gw_opsport_close(gw_ops.list);
}
