/* gw_proxy.h - proxy.c: the PROXY protocol (v1, v2) on accepted sockets,
 * before lws sees them; a socket then goes back up to the server
 * (gw_proxy_ops). */
#ifndef GW_PROXY_H
#define GW_PROXY_H
#include <stddef.h>

#include "gw_limits.h"

struct gw_proxy_hdr {
	size_t len;			/* bytes of the header */
	char addr[GW_ADDR_MAX];		/* client address; "" for LOCAL/UNKNOWN */
};
/* 1 complete, PL_EAGAIN more bytes needed, PL_EPROTO invalid */
int gw_proxy_parse(const unsigned char *p, size_t n, struct gw_proxy_hdr *h);
/* 1 if a PROXY header starts at p, 0 if not, PL_EAGAIN if too short to say */
int gw_proxy_looks(const unsigned char *p, size_t n);
/* Where a socket goes once its first bytes are read, set by server.c at
 * its start (an up-call: the server hands sockets down to proxy.c). */
struct gw_proxy_ops {
	/* from a trusted proxy: charge addr (the header's client address) for
	 * fd and give it to lws, or refuse it (503, closed) */
	void (*admit)(int fd, const char *addr);
	/* not a PROXY header: give fd to lws with the budget peer already
	 * holds (owned, may be NULL) */
	void (*adopt)(int fd, struct gw_peer *peer);
};
void gw_proxy_set_ops(const struct gw_proxy_ops *ops);
/* hold an accepted socket until its first bytes (see proxy.c): held is
 * the budget an untrusted peer already took (owned), NULL from a trusted
 * proxy (its sockets are charged to the header's address) */
void gw_proxy_wait(int fd, const char *peer, struct gw_peer *held);
void gw_proxy_fini(void);

#endif
