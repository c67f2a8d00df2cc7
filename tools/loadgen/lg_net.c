/*
 * lg_net.c - the load generator's epoll engine.
 *
 * A connection walks IDLE -> CONNECTING (non-blocking connect from
 * 127.0.0.x) -> UPGRADING (request sent, waiting for 101) -> OPEN (frames
 * flow; the mode says when it is READY). Any failure goes to BACKOFF with
 * a full-jitter delay (uniform in [0, min(cap, base * 2^attempt))) when the
 * scenario wants reconnects, else to DEAD. Read buffers exist only while a
 * frame is partial; write buffers only while the socket is full.
 */
#include "loadgen.h"
#include "lg_ws.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <stdio.h>
#include <unistd.h>

#define LG_NET_RBUF (256 * 1024)
#define LG_BACKOFF_BASE_MS 100
#define LG_BACKOFF_CAP_MS 5000

/* lg_now_ns - CLOCK_MONOTONIC: shared by every process of the machine */
uint64_t
lg_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* lg_rand - xorshift64 in [0, n) */
uint32_t
lg_rand(struct lg_worker *w, uint32_t n)
{
	w->rng ^= w->rng << 13;
	w->rng ^= w->rng >> 7;
	w->rng ^= w->rng << 17;
	return n ? (uint32_t)(w->rng % n) : 0;
}

/* lg_ms - worker-relative milliseconds */
static uint32_t
lg_ms(struct lg_worker *w)
{
	return (uint32_t)((w->t_now - w->t_base) / 1000000ull);
}

/* lg_net_ctl - (re)arm the connection's epoll interest */
static void
lg_net_ctl(struct lg_worker *w, uint32_t local, int op, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.u32 = local };

	epoll_ctl(w->ep, op, w->conns[local].fd, &ev);
}

/* lg_net_socket - a non-blocking socket bound to this user's source address */
static int
lg_net_socket(struct lg_worker *w, uint32_t user)
{
	struct sockaddr_in src = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0), one = 1;

	if (fd < 0)
		return -errno;
	src.sin_addr.s_addr = htonl(0x7f000002u + user % (uint32_t)w->cfg->nsrc);
	setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (bind(fd, (struct sockaddr *)&src, sizeof(src)) < 0) {
		int e = errno;

		close(fd);
		return -e;
	}
	return fd;
}

/* lg_net_start - begin connecting user lo+local */
int
lg_net_start(struct lg_worker *w, uint32_t local)
{
	struct lg_conn *c = &w->conns[local];
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons((uint16_t)w->cfg->port) };
	int fd = lg_net_socket(w, w->lo + local);

	inet_pton(AF_INET, w->cfg->host, &dst.sin_addr);
	if (fd < 0) {
		w->st.connect_fail++;
		c->state = LG_C_DEAD;
		return fd;
	}
	c->fd = fd;
	if (connect(fd, (struct sockaddr *)&dst, sizeof(dst)) < 0 && errno != EINPROGRESS) {
		w->st.connect_fail++;
		c->state = LG_C_CONNECTING;
		w->handshaking++;
		lg_net_down(w, local, 1);
		return -1;
	}
	c->state = LG_C_CONNECTING;
	w->handshaking++;
	lg_net_ctl(w, local, EPOLL_CTL_ADD, EPOLLOUT | EPOLLIN);
	return 0;
}

/* lg_net_down - close; back off and retry, or give up */
void
lg_net_down(struct lg_worker *w, uint32_t local, int reconnect)
{
	struct lg_conn *c = &w->conns[local];
	uint32_t cap;

	if (c->state == LG_C_IDLE || c->state == LG_C_BACKOFF || c->state == LG_C_DEAD)
		return;
	if (c->state == LG_C_READY) {
		const struct lg_ledger *l = &w->ledger;

		w->ready--;
		w->st.disconnects++;
		/* warm-up counts connections that are up and have had it */
		if (w->warm_got != NULL && w->warm_got[local] > 0 &&
		    w->warm_got[local] == l->first[local + 1] - l->first[local])
			w->warm_done--;
		if (w->warm_got != NULL)
			w->warm_got[local] = 0;
	} else {
		w->handshaking--;
	}
	close(c->fd);
	c->fd = -1;
	free(c->rbuf);
	free(c->wbuf);
	c->rbuf = c->wbuf = NULL;
	c->rlen = c->wlen = 0;
	if (!reconnect || w->phase >= 2) {
		c->state = LG_C_DEAD;
		return;
	}
	cap = LG_BACKOFF_BASE_MS << (c->attempts < 6 ? c->attempts : 6);
	if (cap > LG_BACKOFF_CAP_MS)
		cap = LG_BACKOFF_CAP_MS;
	if (c->attempts < 255)
		c->attempts++;
	c->state = LG_C_BACKOFF;
	c->t_down_ms = lg_ms(w);
	c->t_mark_ms = lg_ms(w) + lg_rand(w, cap);
}

/* lg_net_flush - write the kept bytes; 0 or -1 */
static int
lg_net_flush(struct lg_worker *w, uint32_t local)
{
	struct lg_conn *c = &w->conns[local];
	ssize_t n = write(c->fd, c->wbuf, c->wlen);

	if (n < 0)
		return errno == EAGAIN ? 0 : -1;
	memmove(c->wbuf, c->wbuf + n, c->wlen - (size_t)n);
	c->wlen -= (uint32_t)n;
	if (c->wlen == 0) {
		free(c->wbuf);
		c->wbuf = NULL;
		lg_net_ctl(w, local, EPOLL_CTL_MOD, c->slow ? EPOLLRDHUP : EPOLLIN);
	}
	return 0;
}

/* lg_net_write - write now, keep the rest; 0 or -1 */
static int
lg_net_write(struct lg_worker *w, uint32_t local, const void *buf, size_t len)
{
	struct lg_conn *c = &w->conns[local];
	ssize_t n = 0;

	if (c->wbuf == NULL) {
		n = write(c->fd, buf, len);
		if (n < 0 && errno != EAGAIN)
			return -1;
		if (n < 0)
			n = 0;
		if ((size_t)n == len)
			return 0;
		lg_net_ctl(w, local, EPOLL_CTL_MOD, EPOLLIN | EPOLLOUT);
	}
	c->wbuf = realloc(c->wbuf, c->wlen + len - (size_t)n);
	if (c->wbuf == NULL)
		abort();
	memcpy(c->wbuf + c->wlen, (const uint8_t *)buf + n, len - (size_t)n);
	c->wlen += (uint32_t)(len - (size_t)n);
	return 0;
}

/* lg_net_send_frame - one masked frame */
static int
lg_net_send_frame(struct lg_worker *w, uint32_t local, int op, const void *p, size_t n)
{
	uint8_t frame[8192];
	int len = lg_ws_encode(frame, sizeof(frame), op, p, n, (uint32_t)lg_rand(w, UINT32_MAX));

	if (len < 0)
		return -1;
	return lg_net_write(w, local, frame, (size_t)len);
}

/* lg_net_send_text - a text frame to an open connection; 0 or -1 */
int
lg_net_send_text(struct lg_worker *w, uint32_t local, const char *s, size_t n)
{
	struct lg_conn *c = &w->conns[local];

	if (c->state != LG_C_OPEN && c->state != LG_C_READY)
		return -1;
	if (lg_net_send_frame(w, local, LG_WS_TEXT, s, n) < 0) {
		lg_net_down(w, local, 1);
		return -1;
	}
	return 0;
}

/* lg_net_set_slow - stop (or resume) reading; a server close still shows as RDHUP */
void
lg_net_set_slow(struct lg_worker *w, uint32_t local, int slow)
{
	struct lg_conn *c = &w->conns[local];

	c->slow = (uint8_t)slow;
	if (c->state == LG_C_OPEN || c->state == LG_C_READY)
		lg_net_ctl(w, local, EPOLL_CTL_MOD, slow ? EPOLLRDHUP : EPOLLIN);
}

/* lg_net_connected - connect finished: send the upgrade request */
static void
lg_net_connected(struct lg_worker *w, uint32_t local)
{
	struct lg_conn *c = &w->conns[local];
	char path[4096], req[4600], host[64];
	int err = 0, n;
	socklen_t sl = sizeof(err);

	getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &sl);
	snprintf(host, sizeof(host), "%s:%d", w->cfg->host, w->cfg->port);
	if (err != 0 || w->mode->path(w, local, path, sizeof(path)) < 0 ||
	    (n = lg_ws_request(req, sizeof(req), host, path)) < 0) {
		w->st.connect_fail++;
		lg_net_down(w, local, 1);
		return;
	}
	c->state = LG_C_UPGRADING;
	w->st.connected++;
	lg_net_ctl(w, local, EPOLL_CTL_MOD, EPOLLIN);
	if (lg_net_write(w, local, req, (size_t)n) < 0)
		lg_net_down(w, local, 1);
}

/* lg_net_control - close, ping; 0 or -1 to drop the connection */
static int
lg_net_control(struct lg_worker *w, uint32_t local, const struct lg_ws_frame *f)
{
	if (f->opcode == LG_WS_PING)
		return lg_net_send_frame(w, local, LG_WS_PONG, f->payload, f->len);
	if (f->opcode != LG_WS_CLOSE)
		return 0;
	w->st.server_closes++;
	if (lg_ws_close_code(f) == 4008)
		w->st.closed_4008++;
	return -1;
}

/* lg_net_frames - every complete frame of buf; bytes used or -1 */
static long
lg_net_frames(struct lg_worker *w, uint32_t local, uint8_t *buf, size_t n)
{
	struct lg_ws_frame f;
	size_t off = 0;
	int k;

	while ((k = lg_ws_parse(buf + off, n - off, &f)) > 0) {
		off += (size_t)k;
		if (f.opcode == LG_WS_TEXT && f.fin) {
			if (w->mode->on_text(w, local, (char *)f.payload, f.len) < 0)
				return -1;
		} else if (f.opcode >= 0x8) {
			if (lg_net_control(w, local, &f) < 0)
				return -1;
		} else {
			w->st.proto_errors++;   /* fragments: never sent by these servers */
		}
		if (w->conns[local].fd < 0)
			return -1;              /* the handler closed it */
	}
	if (k < 0)
		w->st.proto_errors++;
	return k < 0 ? -1 : (long)off;
}

/* lg_net_head - the 101 answer; bytes used, 0 more, -1 failed */
static long
lg_net_head(struct lg_worker *w, uint32_t local, uint8_t *buf, size_t n)
{
	int k = lg_ws_response((const char *)buf, n);

	if (k == 0)
		return 0;
	if (k < 0) {
		w->st.connect_fail++;
		if (k == -503)
			w->st.server_errors++;
		return -1;
	}
	w->conns[local].state = LG_C_OPEN;
	return k;
}

/* lg_net_consume - head or frames out of buf; bytes used or -1 */
static long
lg_net_consume(struct lg_worker *w, uint32_t local, uint8_t *buf, size_t n)
{
	long used = 0, k;

	if (w->conns[local].state == LG_C_UPGRADING) {
		used = lg_net_head(w, local, buf, n);
		if (used <= 0)
			return used;
	}
	k = lg_net_frames(w, local, buf + used, n - (size_t)used);
	return k < 0 ? -1 : used + k;
}

/* lg_net_read - read once; hand complete frames on; keep the partial tail */
static void
lg_net_read(struct lg_worker *w, uint32_t local)
{
	static uint8_t buf[LG_NET_RBUF];
	struct lg_conn *c = &w->conns[local];
	size_t have = c->rlen;
	ssize_t r;
	long used;

	if (have)
		memcpy(buf, c->rbuf, have);
	r = read(c->fd, buf + have, sizeof(buf) - have);
	if (r <= 0) {
		if (r == 0 || errno != EAGAIN) {
			if (c->state == LG_C_READY)
				w->st.eof_resets++;     /* no close frame came first */
			lg_net_down(w, local, 1);
		}
		return;
	}
	have += (size_t)r;
	used = lg_net_consume(w, local, buf, have);
	if (used < 0) {
		lg_net_down(w, local, 1);
		return;
	}
	c->rlen = (uint32_t)(have - (size_t)used);
	free(c->rbuf);
	c->rbuf = NULL;
	if (c->rlen == 0)
		return;
	c->rbuf = malloc(c->rlen);
	if (c->rbuf == NULL)
		abort();
	memcpy(c->rbuf, buf + used, c->rlen);
}

/* lg_net_event - one epoll event */
static void
lg_net_event(struct lg_worker *w, const struct epoll_event *e)
{
	uint32_t local = e->data.u32;
	struct lg_conn *c = &w->conns[local];

	if (c->slow && (e->events & (EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
		w->st.slow_closed++;
		lg_net_down(w, local, 0);
		return;
	}
	if (c->state == LG_C_CONNECTING) {
		lg_net_connected(w, local);
		return;
	}
	if (e->events & EPOLLOUT && c->wbuf != NULL && lg_net_flush(w, local) < 0) {
		lg_net_down(w, local, 1);
		return;
	}
	if (e->events & (EPOLLIN | EPOLLHUP | EPOLLERR) && !c->slow)
		lg_net_read(w, local);
}

/* lg_net_poll - wait up to timeout_ms and dispatch; events handled */
int
lg_net_poll(struct lg_worker *w, int timeout_ms)
{
	struct epoll_event evs[1024];
	int n = epoll_wait(w->ep, evs, 1024, timeout_ms);

	w->t_now = lg_now_ns();
	for (int i = 0; i < n; i++) {
		if (evs[i].data.u32 == UINT32_MAX)
			continue;               /* the control pipe: the scenario reads it */
		lg_net_event(w, &evs[i]);
	}
	return n;
}
