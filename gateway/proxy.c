/* proxy.c - the PROXY protocol (haproxy's, v1 text and v2 binary) on
 * sockets we accepted, before they are handed to lws.
 *
 * With PARLEY_PROXY_PROTOCOL=1 every accepted socket waits here (a watch on
 * its fd, a deadline of PARLEY_HTTP_HEADER_TIMEOUT_S) until its first bytes
 * show what it is; they are read with MSG_PEEK, so lws later reads exactly
 * what follows the header. The watch is level-triggered and peeking leaves
 * the bytes in the socket, so a socket whose first bytes are not yet
 * enough to decide stops being watched (it would wake the loop at once,
 * again and again) and is peeked at again by the once-a-second sweep:
 *
 *   - from a trusted proxy (PARLEY_TRUSTED_PROXIES): a PROXY header is
 *     required. It is consumed and its source address becomes the client's
 *     (LOCAL / UNKNOWN: the proxy's own). Missing or malformed: closed.
 *   - from anyone else: a PROXY header is refused (closed): only a trusted
 *     proxy may say who the client is. Anything else goes to lws as it is.
 *
 * Refusals are counted in parley_gateway_refused_total{reason="proxy_header"
 * | "proxy_untrusted"}. Without the setting no socket waits here and bytes
 * that look like a PROXY header are just a bad HTTP request to lws. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_proxy.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"

#define GW_PROXY_V1_MAX 107		/* the spec's longest v1 line, CRLF included */
#define GW_PROXY_V2_MAX 512		/* we take v2 headers (with TLVs) up to this */

static const unsigned char gw_proxy_v2_sig[12] = {
	0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a
};
static const char gw_proxy_v1_sig[6] = "PROXY ";

/* one accepted socket waiting for its first bytes */
struct gw_proxy_wait {
	int fd;
	char peer[GW_ADDR_MAX];
	int trusted;
	struct gw_peer *held;		/* untrusted: its address's budget */
	uint64_t deadline_ms;
	struct pl_watch *watch;
	struct gw_proxy_wait *prev, *next;
};

static struct {
	struct gw_proxy_wait *list;
	size_t n;
	struct pl_timer *sweep;
	struct gw_proxy_ops up;		/* where a socket goes next (server.c) */
} gw_proxy;

/* gw_proxy_set_ops - where sockets go once their first bytes are read */
void
gw_proxy_set_ops(const struct gw_proxy_ops *ops)
{
	gw_proxy.up = *ops;
}

/* gw_proxy_prefix - 1 if p (n bytes) starts with sig, 0 if it cannot,
 * PL_EAGAIN if it still may (n shorter than sig, all matching) */
static int
gw_proxy_prefix(const unsigned char *p, size_t n, const void *sig, size_t siglen)
{
	size_t m = n < siglen ? n : siglen;

	if (memcmp(p, sig, m) != 0)
		return 0;
	return n < siglen ? PL_EAGAIN : 1;
}

/* gw_proxy_looks - does a PROXY header (either version) start here: 1, 0,
 * or PL_EAGAIN when too few bytes tell */
int
gw_proxy_looks(const unsigned char *p, size_t n)
{
	int a = gw_proxy_prefix(p, n, gw_proxy_v1_sig, sizeof(gw_proxy_v1_sig));
	int b = gw_proxy_prefix(p, n, gw_proxy_v2_sig, sizeof(gw_proxy_v2_sig));

	if (a == 1 || b == 1)
		return 1;
	return a == PL_EAGAIN || b == PL_EAGAIN ? PL_EAGAIN : 0;
}

/* gw_proxy_v1 - "PROXY TCP4|TCP6 src dst sport dport\r\n" or "PROXY
 * UNKNOWN ...\r\n" */
static int
gw_proxy_v1(const unsigned char *p, size_t n, struct gw_proxy_hdr *h)
{
	char line[GW_PROXY_V1_MAX + 1], *f[7], *save = NULL, *end;
	unsigned char addr[16];
	const unsigned char *crlf = NULL;
	size_t i, len;
	int nf = 0, af;
	long port;

	for (i = 0; i + 1 < n && i + 1 < GW_PROXY_V1_MAX; i++) {
		if (p[i] == '\r' && p[i + 1] == '\n') {
			crlf = p + i;
			break;
		}
	}
	if (crlf == NULL)
		return n >= GW_PROXY_V1_MAX ? PL_EPROTO : PL_EAGAIN;
	len = (size_t)(crlf - p);
	memcpy(line, p, len);
	line[len] = 0;
	h->len = len + 2;
	h->addr[0] = 0;
	for (f[nf] = strtok_r(line, " ", &save); f[nf] != NULL && nf < 6;)
		f[++nf] = strtok_r(NULL, " ", &save);
	if (nf >= 2 && strcmp(f[1], "UNKNOWN") == 0)
		return 1;
	if (nf != 6 || f[6] != NULL)
		return PL_EPROTO;
	if (strcmp(f[1], "TCP4") == 0)
		af = AF_INET;
	else if (strcmp(f[1], "TCP6") == 0)
		af = AF_INET6;
	else
		return PL_EPROTO;
	if (inet_pton(af, f[2], addr) != 1 || inet_pton(af, f[3], addr) != 1)
		return PL_EPROTO;
	for (i = 4; i < 6; i++) {
		errno = 0;
		port = strtol(f[i], &end, 10);
		if (*end != 0 || errno != 0 || port < 0 || port > 65535 || f[i][0] == '-')
			return PL_EPROTO;
	}
	inet_pton(af, f[2], addr);
	inet_ntop(af, addr, h->addr, sizeof(h->addr));
	return 1;
}

/* gw_proxy_v2 - the binary header: signature, version/command, family,
 * length, addresses (and TLVs, skipped) */
static int
gw_proxy_v2(const unsigned char *p, size_t n, struct gw_proxy_hdr *h)
{
	size_t len;

	if (n < 16)
		return PL_EAGAIN;
	if ((p[12] >> 4) != 2 || (p[12] & 0x0f) > 1)
		return PL_EPROTO;
	len = (size_t)p[14] << 8 | p[15];
	if (16 + len > GW_PROXY_V2_MAX)
		return PL_EPROTO;
	if (n < 16 + len)
		return PL_EAGAIN;
	h->len = 16 + len;
	h->addr[0] = 0;
	if ((p[12] & 0x0f) == 0)
		return 1;		/* LOCAL: the proxy's own (health checks) */
	if (p[13] == 0x11 && len >= 12)
		inet_ntop(AF_INET, p + 16, h->addr, sizeof(h->addr));
	else if (p[13] == 0x21 && len >= 36)
		inet_ntop(AF_INET6, p + 16, h->addr, sizeof(h->addr));
	else if (p[13] == 0x11 || p[13] == 0x21)
		return PL_EPROTO;	/* too short for its addresses */
	return 1;
}

/* gw_proxy_parse - a PROXY header at p (n bytes so far): 1 complete (h
 * filled: its length, the source address or "" for LOCAL / UNKNOWN),
 * PL_EAGAIN need more bytes, PL_EPROTO not a valid header */
int
gw_proxy_parse(const unsigned char *p, size_t n, struct gw_proxy_hdr *h)
{
	int v1 = gw_proxy_prefix(p, n, gw_proxy_v1_sig, sizeof(gw_proxy_v1_sig));
	int v2 = gw_proxy_prefix(p, n, gw_proxy_v2_sig, sizeof(gw_proxy_v2_sig));

	if (v1 == 1)
		return gw_proxy_v1(p, n, h);
	if (v2 == 1)
		return gw_proxy_v2(p, n, h);
	return v1 == PL_EAGAIN || v2 == PL_EAGAIN ? PL_EAGAIN : PL_EPROTO;
}

/* gw_proxy_done - stop waiting on w (the fd is closed unless handed on) */
static void
gw_proxy_done(struct gw_proxy_wait *w, int close_fd)
{
	pl_loop_unwatch(&w->watch);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		gw_proxy.list = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	gw_proxy.n--;
	if (close_fd) {
		close(w->fd);
		gw_limits_peer_put(&w->held);
	}
	free(w);
}

/* gw_proxy_refuse - close a socket whose preamble is not acceptable */
static void
gw_proxy_refuse(struct gw_proxy_wait *w, struct pl_metric *m, const char *why)
{
	pl_metrics_inc(m);
	pl_log_info("GW-PROXY-REFUSED", "peer=%s trusted=%d why=%s", w->peer, w->trusted, why);
	gw_proxy_done(w, 1);
}

/* gw_proxy_partial - too few bytes to decide: wait for the sweep */
static void
gw_proxy_partial(struct gw_proxy_wait *w)
{
	pl_loop_unwatch(&w->watch);
}

/* gw_proxy_readable - the first bytes of a waiting socket */
static void
gw_proxy_readable(void *arg)
{
	struct gw_proxy_wait *w = arg;
	unsigned char buf[GW_PROXY_V2_MAX];
	struct gw_proxy_hdr h;
	struct gw_peer *held;
	ssize_t n = recv(w->fd, buf, sizeof(buf), MSG_PEEK);
	int fd = w->fd, rv;
	char addr[GW_ADDR_MAX];

	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (n <= 0) {
		gw_proxy_done(w, 1);	/* gone before saying anything */
		return;
	}
	if (!w->trusted) {
		if ((rv = gw_proxy_looks(buf, (size_t)n)) == PL_EAGAIN) {
			gw_proxy_partial(w);
			return;
		}
		if (rv == 1) {
			gw_proxy_refuse(w, gw_m.refused_proxy_untrusted, "untrusted");
			return;
		}
		held = w->held;
		gw_proxy_done(w, 0);
		gw_proxy.up.adopt(fd, held);
		return;
	}
	if ((rv = gw_proxy_parse(buf, (size_t)n, &h)) == PL_EAGAIN &&
	    (size_t)n < sizeof(buf)) {
		gw_proxy_partial(w);
		return;
	}
	if (rv != 1) {
		gw_proxy_refuse(w, gw_m.refused_proxy_header, "malformed");
		return;
	}
	if (recv(fd, buf, h.len, 0) != (ssize_t)h.len) {	/* consume it */
		gw_proxy_refuse(w, gw_m.refused_proxy_header, "short");
		return;
	}
	snprintf(addr, sizeof(addr), "%s", h.addr[0] ? h.addr : w->peer);
	gw_proxy_done(w, 0);
	gw_proxy.up.admit(fd, addr);
}

/* gw_proxy_sweep - close sockets that said nothing in time; peek again at
 * those that had said too little */
static void
gw_proxy_sweep(void *arg)
{
	struct gw_proxy_wait *w, *next;
	uint64_t now = pl_clock_mono_ms();

	(void)arg;
	for (w = gw_proxy.list; w != NULL; w = next) {
		next = w->next;
		if (now >= w->deadline_ms)
			gw_proxy_refuse(w, gw_m.refused_proxy_header, "timeout");
		else if (w->watch == NULL)
			gw_proxy_readable(w);	/* may free w: next is taken */
	}
}

/* gw_proxy_wait - hold accepted fd until its first bytes arrive; it is then
 * closed or handed on (gw_proxy_ops: admit / adopt) */
void
gw_proxy_wait(int fd, const char *peer, struct gw_peer *held)
{
	struct gw_proxy_wait *w = pl_calloc(1, sizeof(*w));

	w->fd = fd;
	snprintf(w->peer, sizeof(w->peer), "%s", peer);
	w->trusted = held == NULL;
	w->held = held;
	w->deadline_ms = pl_clock_mono_ms() + (uint64_t)gw_conf.http_header_timeout_s * 1000u;
	if (pl_loop_watch(gw.loop, fd, gw_proxy_readable, w, &w->watch) != 0) {
		close(fd);
		gw_limits_peer_put(&w->held);
		free(w);
		return;
	}
	w->next = gw_proxy.list;
	if (w->next != NULL)
		w->next->prev = w;
	gw_proxy.list = w;
	gw_proxy.n++;
	if (gw_proxy.sweep == NULL)
		pl_loop_timer(gw.loop, 1000, 1, gw_proxy_sweep, NULL, &gw_proxy.sweep);
}

/* gw_proxy_fini - close every waiting socket and the sweep */
void
gw_proxy_fini(void)
{
	while (gw_proxy.list != NULL)
		gw_proxy_done(gw_proxy.list, 1);
	pl_loop_timer_stop(&gw_proxy.sweep);
}
