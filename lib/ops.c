/* ops.c - the operator endpoints: /healthz, /readyz, /metrics.
 *
 * pl_ops_handle is the loop-agnostic content; pl_ops_http_start serves it
 * with libevent's evhttp for the libevent daemons. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <netinet/in.h>

#include <event2/event.h>
#include <event2/http.h>
#include <event2/buffer.h>
#include <event2/listener.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "ops.h"

#define PL_OPS_TEXT "text/plain; charset=utf-8"
#define PL_OPS_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct pl_ops_check {
	char *name;
	pl_ops_check_fn fn;
	void *arg;
};

struct pl_ops_http {
	struct evhttp *http;
	int port;
};

static struct pl_ops_check *pl_ops_checks;
static size_t pl_ops_nchecks;
static int pl_ops_draining;

/* pl_ops_add_check - register a readiness check (lives until exit) */
void
pl_ops_add_check(const char *name, pl_ops_check_fn fn, void *arg)
{
	pl_ops_checks = pl_realloc(pl_ops_checks,
	    (pl_ops_nchecks + 1) * sizeof(*pl_ops_checks));
	pl_ops_checks[pl_ops_nchecks].name = pl_strdup(name);
	pl_ops_checks[pl_ops_nchecks].fn = fn;
	pl_ops_checks[pl_ops_nchecks].arg = arg;
	pl_ops_nchecks++;
}

/* pl_ops_set_draining - while draining /readyz answers 503 "draining" */
void
pl_ops_set_draining(int on)
{
	pl_ops_draining = on;
}

/* pl_ops_healthz - the loop runs, so we are alive */
static int
pl_ops_healthz(struct pl_buf *body)
{
	pl_buf_puts(body, "ok\n");
	return 200;
}

/* pl_ops_readyz - 200 when every check passes; else 503 and the failing ones */
static int
pl_ops_readyz(struct pl_buf *body)
{
	struct pl_buf why;
	size_t i;
	int failing = 0;

	if (pl_ops_draining) {
		pl_buf_puts(body, "draining\n");
		return 503;
	}
	pl_buf_init(&why);
	for (i = 0; i < pl_ops_nchecks; i++) {
		pl_buf_reset(&why);
		if (pl_ops_checks[i].fn(pl_ops_checks[i].arg, &why))
			continue;
		if (failing++ == 0)
			pl_buf_puts(body, "not ready\n");
		pl_buf_printf(body, "%s: %s\n", pl_ops_checks[i].name,
		    why.len ? why.data : "failing");
	}
	pl_buf_fini(&why);
	if (failing)
		return 503;
	pl_buf_puts(body, "ready\n");
	return 200;
}

/* pl_ops_metrics - the registry in Prometheus text format */
static int
pl_ops_metrics(struct pl_buf *body)
{
	pl_metrics_render(body);
	return 200;
}

static const struct {
	const char *path;
	int (*fn)(struct pl_buf *body);
	const char *content_type;
} pl_ops_paths[] = {
	{ "/healthz", pl_ops_healthz, PL_OPS_TEXT },
	{ "/readyz", pl_ops_readyz, PL_OPS_TEXT },
	{ "/metrics", pl_ops_metrics, PL_OPS_METRICS },
};

/* pl_ops_handle - fill body for path; returns the HTTP status (404 for others) */
int
pl_ops_handle(const char *path, struct pl_buf *body, const char **content_type_r)
{
	size_t i;

	*content_type_r = PL_OPS_TEXT;
	for (i = 0; i < sizeof(pl_ops_paths) / sizeof(pl_ops_paths[0]); i++) {
		if (path && strcmp(path, pl_ops_paths[i].path) == 0) {
			*content_type_r = pl_ops_paths[i].content_type;
			return pl_ops_paths[i].fn(body);
		}
	}
	pl_buf_puts(body, "not found\n");
	return 404;
}

/* pl_ops_http_cb - evhttp request: answer from pl_ops_handle */
static void
pl_ops_http_cb(struct evhttp_request *req, void *arg)
{
	const struct evhttp_uri *uri = evhttp_request_get_evhttp_uri(req);
	const char *path = uri ? evhttp_uri_get_path(uri) : NULL;
	struct evbuffer *out = evbuffer_new();
	struct pl_buf body;
	const char *ctype;
	int status;

	pl_buf_init(&body);
	status = pl_ops_handle(path, &body, &ctype);
	if (body.len)
		evbuffer_add(out, body.data, body.len);
	evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type", ctype);
	evhttp_send_reply(req, status, status == 200 ? "OK" :
	    status == 404 ? "Not Found" : "Service Unavailable", out);
	evbuffer_free(out);
	pl_buf_fini(&body);
}

/* pl_ops_bound_port - the local port of a bound evhttp socket */
static int
pl_ops_bound_port(struct evhttp_bound_socket *s)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	int fd = (int)evhttp_bound_socket_get_fd(s);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
		return -errno;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

/* pl_ops_http_start - serve the ops paths on addr; write the bound port */
int
pl_ops_http_start(struct event_base *base, const char *addr,
    const char *port_file, struct pl_ops_http **r)
{
	struct pl_ops_http *h = pl_calloc(1, sizeof(*h));
	struct evhttp_bound_socket *s;
	char *host = NULL;
	int port, rv;

	if ((rv = pl_parse_hostport(addr, &host, &port)) != 0)
		goto fail;
	rv = PL_EIO;
	if ((h->http = evhttp_new(base)) == NULL)
		goto fail;
	evhttp_set_allowed_methods(h->http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
	evhttp_set_gencb(h->http, pl_ops_http_cb, h);
	s = evhttp_bind_socket_with_handle(h->http, *host ? host : "0.0.0.0",
	    (uint16_t)port);
	if (s == NULL) {
		pl_log_error("OPS-BIND-FAIL", "addr=%s err=\"%s\"", addr, strerror(errno));
		goto fail;
	}
	if ((h->port = pl_ops_bound_port(s)) < 0)
		goto fail;
	if (port_file && *port_file && (rv = pl_write_port_file(port_file, h->port)) != 0)
		goto fail;
	pl_log_info("OPS-LISTEN", "addr=%s port=%d", addr, h->port);
	free(host);
	*r = h;
	return 0;
fail:
	if (h->http)
		evhttp_free(h->http);
	free(h);
	free(host);
	return rv;
}

/* pl_ops_http_stop - close the listener and free the server */
void
pl_ops_http_stop(struct pl_ops_http **h)
{
	if (*h == NULL)
		return;
	evhttp_free((*h)->http);
	pl_free(h);
}

int
pl_ops_http_port(const struct pl_ops_http *h)
{
	return h->port;
}

/* mkdir_parents - create the missing parent directories of path */
static void
mkdir_parents(const char *path)
{
	char *p = pl_strdup(path), *s;

	for (s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	free(p);
}

/* pl_write_file - write text + "\n" to path atomically (tmp + rename) */
int
pl_write_file(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text);
	int fd, rv = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path, (int)getpid()) >= sizeof(tmp))
		return PL_EINVAL;
	mkdir_parents(path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		rv = errno ? -errno : PL_EIO;
	if (close(fd) != 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) != 0)
		rv = -errno;
	if (rv != 0)
		unlink(tmp);
	return rv;
}

/* pl_write_port_file - write "port\n" to path atomically */
int
pl_write_port_file(const char *path, int port)
{
	char text[16];

	snprintf(text, sizeof(text), "%d", port);
	return pl_write_file(path, text);
}

/* pl_parse_hostport - split "host:port" ("[::1]:80" too); host_r is heap */
int
pl_parse_hostport(const char *addr, char **host_r, int *port_r)
{
	const char *colon, *hs = addr, *he;
	char *end;
	long port;

	if (addr == NULL || (colon = strrchr(addr, ':')) == NULL)
		return PL_EINVAL;
	he = colon;
	if (*addr == '[') {
		if (colon == addr || colon[-1] != ']')
			return PL_EINVAL;
		hs = addr + 1;
		he = colon - 1;
	} else if (memchr(addr, ':', (size_t)(colon - addr)) != NULL) {
		return PL_EINVAL;	/* bare IPv6 needs brackets */
	}
	port = strtol(colon + 1, &end, 10);
	if (colon[1] == '\0' || *end != '\0' || port < 0 || port > 65535)
		return PL_EINVAL;
	*host_r = pl_strndup(hs, (size_t)(he - hs));
	*port_r = (int)port;
	return 0;
}
