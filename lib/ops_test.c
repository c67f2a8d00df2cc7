/* ops_test.c - status codes and bodies of /healthz, /readyz, /metrics, and
 * the evhttp server on port 0 with its port file. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <sys/socket.h>

#include <event2/event.h>

#include "err.h"
#include "metrics.h"
#include "ops.h"
#include "pl_test.h"

static int redis_up;

static int
check_redis(void *arg, struct pl_buf *why)
{
	if (!redis_up)
		pl_buf_puts(why, "not connected");
	return redis_up;
}

static int check_always(void *arg, struct pl_buf *why) { return 1; }

static int
handle(const char *path, char *body, size_t n, const char **ctype)
{
	struct pl_buf b;
	int st;

	pl_buf_init(&b);
	st = pl_ops_handle(path, &b, ctype);
	snprintf(body, n, "%s", b.data ? b.data : "");
	pl_buf_fini(&b);
	return st;
}

PL_TEST(test_paths)
{
	char body[8192];
	const char *ct;

	PL_CHECK_EQ_INT(handle("/healthz", body, sizeof(body), &ct), 200);
	PL_CHECK_EQ_STR(body, "ok\n");
	PL_CHECK_EQ_INT(handle("/nope", body, sizeof(body), &ct), 404);
	pl_metrics_inc(pl_metrics_counter("parley_t_total", "T.", NULL));
	PL_CHECK_EQ_INT(handle("/metrics", body, sizeof(body), &ct), 200);
	PL_CHECK_EQ_STR(ct, "text/plain; version=0.0.4; charset=utf-8");
	PL_CHECK(strstr(body, "\nparley_t_total 1\n") != NULL);
	pl_metrics_reset_for_tests();
}

PL_TEST(test_readyz)
{
	char body[1024];
	const char *ct;

	PL_CHECK_EQ_INT(handle("/readyz", body, sizeof(body), &ct), 200);
	PL_CHECK_EQ_STR(body, "ready\n");
	pl_ops_add_check("always", check_always, NULL);
	pl_ops_add_check("redis", check_redis, NULL);
	redis_up = 0;
	PL_CHECK_EQ_INT(handle("/readyz", body, sizeof(body), &ct), 503);
	PL_CHECK_EQ_STR(body, "not ready\nredis: not connected\n");
	redis_up = 1;
	PL_CHECK_EQ_INT(handle("/readyz", body, sizeof(body), &ct), 200);
	pl_ops_set_draining(1);
	PL_CHECK_EQ_INT(handle("/readyz", body, sizeof(body), &ct), 503);
	PL_CHECK_EQ_STR(body, "draining\n");
	PL_CHECK_EQ_INT(handle("/healthz", body, sizeof(body), &ct), 200);
	pl_ops_set_draining(0);
	PL_CHECK_EQ_INT(handle("/readyz", body, sizeof(body), &ct), 200);
}

static const struct {
	const char *addr, *host;
	int rv, port;
} hostports[] = {
	{ "127.0.0.1:9101", "127.0.0.1", 0, 9101 },
	{ "[::1]:80", "::1", 0, 80 },
	{ ":0", "", 0, 0 },
	{ "localhost:65535", "localhost", 0, 65535 },
	{ "localhost:65536", NULL, PL_EINVAL, 0 },
	{ "nohost", NULL, PL_EINVAL, 0 },
	{ "::1:80", NULL, PL_EINVAL, 0 },
	{ "h:", NULL, PL_EINVAL, 0 },
	{ "h:8x", NULL, PL_EINVAL, 0 },
};

PL_TEST(test_parse_hostport)
{
	size_t i;

	for (i = 0; i < sizeof(hostports) / sizeof(hostports[0]); i++) {
		char *host = NULL;
		int port = -1;

		PL_CHECK_EQ_INT(pl_parse_hostport(hostports[i].addr, &host, &port),
		    hostports[i].rv);
		if (hostports[i].rv == 0) {
			PL_CHECK_EQ_STR(host, hostports[i].host);
			PL_CHECK_EQ_INT(port, hostports[i].port);
		}
		free(host);
	}
}

struct client {
	int fd;
	char resp[4096];
	size_t len;
};

static void
client_cb(evutil_socket_t fd, short what, void *arg)
{
	struct client *c = arg;
	ssize_t n = read(fd, c->resp + c->len, sizeof(c->resp) - 1 - c->len);

	if (n > 0) {
		c->len += (size_t)n;
		c->resp[c->len] = '\0';
	}
}

/* GET path from the server over a real socket, driving the base meanwhile */
static int
http_get(struct event_base *base, int port, const char *path, char *body, size_t n)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct client c = { .len = 0 };
	struct event *ev;
	char req[256];
	int status = -1, i;

	inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
	c.fd = socket(AF_INET, SOCK_STREAM, 0);
	if (connect(c.fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
		return -1;
	snprintf(req, sizeof(req), "GET %s HTTP/1.0\r\nHost: x\r\n\r\n", path);
	if (write(c.fd, req, strlen(req)) < 0)
		return -1;
	ev = event_new(base, c.fd, EV_READ | EV_PERSIST, client_cb, &c);
	event_add(ev, NULL);
	for (i = 0; i < 200 && !strstr(c.resp, "\r\n\r\n") ; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	for (i = 0; i < 20; i++)
		event_base_loop(base, EVLOOP_ONCE | EVLOOP_NONBLOCK), usleep(1000);
	event_free(ev);
	close(c.fd);
	sscanf(c.resp, "HTTP/1.%*d %d", &status);
	snprintf(body, n, "%s", strstr(c.resp, "\r\n\r\n") ? strstr(c.resp, "\r\n\r\n") + 4 : "");
	return status;
}

PL_TEST(test_http_port0)
{
	struct event_base *base = event_base_new();
	struct pl_ops_http *h = NULL;
	char path[] = "/tmp/pl_ops_test.XXXXXX", pf[128], body[4096];
	int port = 0;
	FILE *f;

	PL_CHECK(mkdtemp(path) != NULL);
	snprintf(pf, sizeof(pf), "%s/ops.port", path);
	PL_CHECK_EQ_INT(pl_ops_http_start(base, "127.0.0.1:0", pf, &h), 0);
	PL_CHECK(h != NULL && pl_ops_http_port(h) > 0);
	f = fopen(pf, "r");
	PL_CHECK(f != NULL);
	if (f) {
		PL_CHECK_EQ_INT(fscanf(f, "%d", &port), 1);
		fclose(f);
	}
	PL_CHECK_EQ_INT(port, pl_ops_http_port(h));
	PL_CHECK_EQ_INT(http_get(base, port, "/healthz", body, sizeof(body)), 200);
	PL_CHECK_EQ_STR(body, "ok\n");
	PL_CHECK_EQ_INT(http_get(base, port, "/missing", body, sizeof(body)), 404);
	pl_ops_set_draining(1);
	PL_CHECK_EQ_INT(http_get(base, port, "/readyz", body, sizeof(body)), 503);
	PL_CHECK_EQ_STR(body, "draining\n");
	pl_ops_set_draining(0);
	PL_CHECK_EQ_INT(http_get(base, port, "/metrics", body, sizeof(body)), 200);
	PL_CHECK(strstr(body, "process_open_fds") != NULL);
	pl_ops_http_stop(&h);
	PL_CHECK(h == NULL);
	PL_CHECK_EQ_INT(pl_ops_http_start(base, "bad", NULL, &h), PL_EINVAL);
	unlink(pf);
	rmdir(path);
	event_base_free(base);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_paths),
	PL_TEST_CASE(test_readyz),
	PL_TEST_CASE(test_parse_hostport),
	PL_TEST_CASE(test_http_port0),
};
PL_TEST_MAIN(tests)
