/*
 * floor - the raw epoll WebSocket server the benchmarks measure Parley against.
 *
 *   floor [--addr 127.0.0.1] [--port 0] [--port-file F]
 *
 * Several floors may share a port (SO_REUSEPORT). Every 10 s, and on exit
 * (SIGTERM/SIGINT), it prints "floor-stats conns=N rss_kb=K" to stderr.
 */
#include "floor.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define FLOOR_MAX_FD 65536
#define FLOOR_WBUF_MAX (1u << 20)
#define FLOOR_RBUF_MAX 65536

static struct floor_conn *floor_conns[FLOOR_MAX_FD];
static int floor_ep, floor_nconn;
static volatile sig_atomic_t floor_stop;
static int floor_reap_fds[FLOOR_MAX_FD], floor_nreap;

/* floor_mark - close c after this batch of events (never inside a fan-out) */
static void
floor_mark(struct floor_conn *c)
{
	if (c->closing)
		return;
	c->closing = 1;
	floor_reap_fds[floor_nreap++] = c->fd;
}

/* floor_close - leave every channel, close, free */
static void
floor_close(struct floor_conn *c)
{
	for (uint16_t i = 0; i < c->nchan; i++)
		floor_chan_leave(c->chans[i], c);
	floor_conns[c->fd] = NULL;
	close(c->fd);
	free(c->chans);
	free(c->rbuf);
	free(c->wbuf);
	free(c);
	floor_nconn--;
}

/* floor_keep - queue the unsent tail of a write and ask for EPOLLOUT */
static void
floor_keep(struct floor_conn *c, const uint8_t *buf, size_t len)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT, .data.fd = c->fd };

	if (c->wlen - c->woff + len > FLOOR_WBUF_MAX) {
		floor_mark(c);                  /* slow consumer: 4008 semantics */
		return;
	}
	if (c->wbuf == NULL)
		epoll_ctl(floor_ep, EPOLL_CTL_MOD, c->fd, &ev);
	c->wbuf = realloc(c->wbuf, c->wlen + len);
	if (c->wbuf == NULL)
		abort();
	memcpy(c->wbuf + c->wlen, buf, len);
	c->wlen += (uint32_t)len;
}

/* floor_send - write() now; keep what the socket did not take */
static void
floor_send(struct floor_conn *c, const uint8_t *buf, size_t len)
{
	ssize_t n = 0;

	if (c->closing)
		return;
	if (c->wbuf == NULL) {
		n = write(c->fd, buf, len);
		if (n < 0 && errno != EAGAIN) {
			floor_mark(c);
			return;
		}
		if (n < 0)
			n = 0;
	}
	if ((size_t)n < len)
		floor_keep(c, buf + n, len - (size_t)n);
}

/* floor_send_text - one text frame */
static void
floor_send_text(struct floor_conn *c, const char *s, size_t len)
{
	uint8_t frame[512];
	size_t hl;

	if (len > sizeof(frame) - 10)
		return;
	hl = floor_ws_header(frame, 0x1, len);
	memcpy(frame + hl, s, len);
	floor_send(c, frame, hl + len);
}

/* floor_flush - EPOLLOUT: drain the kept bytes */
static void
floor_flush(struct floor_conn *c)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.fd = c->fd };
	ssize_t n = write(c->fd, c->wbuf + c->woff, c->wlen - c->woff);

	if (n < 0 && errno != EAGAIN) {
		floor_mark(c);
		return;
	}
	c->woff += n > 0 ? (uint32_t)n : 0;
	if (c->woff < c->wlen)
		return;
	free(c->wbuf);
	c->wbuf = NULL;
	c->wlen = c->woff = 0;
	epoll_ctl(floor_ep, EPOLL_CTL_MOD, c->fd, &ev);
}

/* floor_join_query - join the channels listed in "ch=A,B" of the request line */
static void
floor_join_query(struct floor_conn *c, const char *req, const char *eol)
{
	const char *p = memmem(req, (size_t)(eol - req), "ch=", 3), *e;

	if (p == NULL)
		return;
	for (p += 3; p < eol && *p != ' ' && *p != '&'; p = e + (*e == ',')) {
		struct floor_chan *ch;

		for (e = p; e < eol && *e != ',' && *e != ' ' && *e != '&'; e++)
			;
		ch = floor_chan_get(p, (size_t)(e - p));
		if (ch == NULL)
			continue;
		c->chans = realloc(c->chans, (c->nchan + 1) * sizeof(*c->chans));
		if (c->chans == NULL)
			abort();
		c->chans[c->nchan++] = ch;
		floor_chan_join(ch, c);
	}
}

/* floor_upgrade - answer 101 and hello; 0, 1 when incomplete, -1 bad */
static int
floor_upgrade(struct floor_conn *c, size_t *used)
{
	const char *req = (const char *)c->rbuf, *end, *key, *eol;
	char accept[29], out[256];
	int n;

	end = memmem(req, c->rlen, "\r\n\r\n", 4);
	if (end == NULL)
		return c->rlen > 8000 ? -1 : 1;
	key = memmem(req, (size_t)(end - req), "Sec-WebSocket-Key: ", 19);
	eol = memmem(req, (size_t)(end - req), "\r\n", 2);
	if (key == NULL || eol == NULL)
		return -1;
	key += 19;
	if (floor_ws_accept_key(key, strcspn(key, "\r"), accept) < 0)
		return -1;
	n = snprintf(out, sizeof(out), "HTTP/1.1 101 Switching Protocols\r\n"
	    "Upgrade: websocket\r\nConnection: Upgrade\r\n"
	    "Sec-WebSocket-Accept: %s\r\n\r\n", accept);
	floor_send(c, (uint8_t *)out, (size_t)n);
	floor_join_query(c, req, eol);
	c->upgraded = 1;
	*used = (size_t)(end - req) + 4;
	floor_send_text(c, "{\"type\":\"hello\"}", 16);
	return 0;
}

/* floor_on_message - {"type":"message"}: fan out, then ack */
static void
floor_on_message(struct floor_conn *c, const char *js, size_t n, long long id)
{
	const char *chn, *text;
	size_t chl, tl;
	struct floor_chan *ch;
	char out[128];
	uint32_t seq;
	int k;

	if (floor_json_str(js, n, "channel", &chn, &chl) < 0 ||
	    floor_json_str(js, n, "text", &text, &tl) < 0 ||
	    (ch = floor_chan_get(chn, chl)) == NULL)
		return;
	seq = floor_chan_fanout(ch, text, tl);
	k = snprintf(out, sizeof(out), "{\"ok\":true,\"reply_to\":%lld,\"seq\":%u}", id, seq);
	floor_send_text(c, out, (size_t)k);
}

/* floor_on_text - dispatch by "type" */
static void
floor_on_text(struct floor_conn *c, const char *js, size_t n)
{
	const char *type;
	size_t tl;
	long long id = floor_json_int(js, n, "id");
	char out[96];
	int k;

	if (floor_json_str(js, n, "type", &type, &tl) < 0)
		return;
	if (tl == 7 && memcmp(type, "message", 7) == 0) {
		floor_on_message(c, js, n, id);
		return;
	}
	if (tl == 4 && memcmp(type, "ping", 4) == 0)
		k = snprintf(out, sizeof(out), "{\"type\":\"pong\",\"reply_to\":%lld}", id);
	else if (tl == 6 && memcmp(type, "resume", 6) == 0)
		k = snprintf(out, sizeof(out), "{\"type\":\"resumed\",\"reply_to\":%lld}", id);
	else
		return;
	floor_send_text(c, out, (size_t)k);
}

/* floor_frames - every complete frame in rbuf; bytes used, -1 to close */
static long
floor_frames(struct floor_conn *c)
{
	size_t off = 0;
	int op, n;
	uint8_t *p;
	size_t pl;

	while ((n = floor_ws_parse(c->rbuf + off, c->rlen - off, &op, &p, &pl)) > 0) {
		off += (size_t)n;
		if (op == 0x8)
			return -1;
		if (op == 0x9) {
			uint8_t f[136];
			size_t hl = floor_ws_header(f, 0xA, pl);

			memcpy(f + hl, p, pl);
			floor_send(c, f, hl + pl);
		} else if (op == 0x1) {
			floor_on_text(c, (const char *)p, pl);
		}
	}
	return n < 0 ? -1 : (long)off;
}

/* floor_read - read, then handshake or frames; keep the partial rest */
static void
floor_read(struct floor_conn *c)
{
	uint8_t tmp[16384];
	ssize_t r = read(c->fd, tmp, sizeof(tmp));
	size_t used = 0;
	long k;

	if (r <= 0) {
		if (r == 0 || errno != EAGAIN)
			floor_mark(c);
		return;
	}
	if (c->rlen + (size_t)r > FLOOR_RBUF_MAX) {
		floor_mark(c);
		return;
	}
	c->rbuf = realloc(c->rbuf, c->rlen + (size_t)r);
	if (c->rbuf == NULL)
		abort();
	memcpy(c->rbuf + c->rlen, tmp, (size_t)r);
	c->rlen += (uint32_t)r;
	if (!c->upgraded) {
		int rv = floor_upgrade(c, &used);

		if (rv < 0)
			floor_mark(c);
		if (rv != 0)
			return;
	}
	memmove(c->rbuf, c->rbuf + used, c->rlen - used);
	c->rlen -= (uint32_t)used;
	k = floor_frames(c);
	if (k < 0) {
		floor_mark(c);
		return;
	}
	memmove(c->rbuf, c->rbuf + k, c->rlen - (size_t)k);
	c->rlen -= (uint32_t)k;
	if (c->rlen == 0) {
		free(c->rbuf);
		c->rbuf = NULL;
	}
}

/* floor_accept - take every pending connection */
static void
floor_accept(int lfd)
{
	int fd, one = 1;

	while ((fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.fd = fd };
		struct floor_conn *c;

		if (fd >= FLOOR_MAX_FD) {
			close(fd);
			continue;
		}
		setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
		c = calloc(1, sizeof(*c));
		if (c == NULL)
			abort();
		c->fd = fd;
		floor_conns[fd] = c;
		floor_nconn++;
		epoll_ctl(floor_ep, EPOLL_CTL_ADD, fd, &ev);
	}
}

/* floor_listen - bound, listening, SO_REUSEPORT socket; its fd or -1 */
static int
floor_listen(const char *addr, int *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)*port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0 || inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -1;
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(fd, 65535) < 0)
		return -1;
	getsockname(fd, (struct sockaddr *)&sa, &sl);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* floor_stats - connection count and VmRSS to stderr */
static void
floor_stats(void)
{
	char line[256];
	long rss = -1;
	FILE *f = fopen("/proc/self/status", "r");

	while (f != NULL && fgets(line, sizeof(line), f) != NULL)
		if (strncmp(line, "VmRSS:", 6) == 0)
			rss = atol(line + 6);
	if (f != NULL)
		fclose(f);
	fprintf(stderr, "floor-stats conns=%d rss_kb=%ld\n", floor_nconn, rss);
}

/* floor_write_port - port into path, via a temporary file and rename */
static void
floor_write_port(const char *path, int port)
{
	char tmp[4096];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (f == NULL)
		return;
	fprintf(f, "%d\n", port);
	fclose(f);
	rename(tmp, path);
}

/* floor_on_signal - stop the loop */
static void
floor_on_signal(int sig)
{
	(void)sig;
	floor_stop = 1;
}

/* floor_event - one epoll event */
static void
floor_event(int lfd, const struct epoll_event *e)
{
	struct floor_conn *c;

	if (e->data.fd == lfd) {
		floor_accept(lfd);
		return;
	}
	c = floor_conns[e->data.fd];
	if (c == NULL)
		return;
	if (e->events & EPOLLOUT && c->wbuf != NULL)
		floor_flush(c);
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->closing)
		floor_read(c);
}

/* floor_reap - close connections marked closing */
static void
floor_reap(void)
{
	while (floor_nreap > 0) {
		int fd = floor_reap_fds[--floor_nreap];

		if (floor_conns[fd] != NULL)
			floor_close(floor_conns[fd]);
	}
}

int
main(int argc, char **argv)
{
	const char *addr = "127.0.0.1", *port_file = NULL;
	int port = 0, lfd;
	struct epoll_event lev = { .events = EPOLLIN }, evs[512];
	time_t last = time(NULL);

	for (int i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--addr") == 0)
			addr = argv[i + 1];
		else if (strcmp(argv[i], "--port") == 0)
			port = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--port-file") == 0)
			port_file = argv[i + 1];
	}
	floor_chan_init(floor_send);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, floor_on_signal);
	signal(SIGINT, floor_on_signal);
	if ((lfd = floor_listen(addr, &port)) < 0) {
		fprintf(stderr, "floor: cannot listen on %s:%d: %s\n", addr, port, strerror(errno));
		return 1;
	}
	floor_ep = epoll_create1(0);
	lev.data.fd = lfd;
	epoll_ctl(floor_ep, EPOLL_CTL_ADD, lfd, &lev);
	fprintf(stderr, "floor-listening addr=%s port=%d pid=%d\n", addr, port, (int)getpid());
	if (port_file != NULL)
		floor_write_port(port_file, port);
	while (!floor_stop) {
		int n = epoll_wait(floor_ep, evs, 512, 1000);

		for (int i = 0; i < n; i++)
			floor_event(lfd, &evs[i]);
		floor_reap();
		if (time(NULL) - last >= 10) {
			last = time(NULL);
			floor_stats();
		}
	}
	floor_stats();
	return 0;
}
