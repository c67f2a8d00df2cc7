/* gw_limits.h - limits.c: connection budgets (per process, per user, per
 * client address), the accept bucket, trusted proxies, the per-connection
 * send rate and the Web API's rate-limit buckets. */
#ifndef GW_LIMITS_H
#define GW_LIMITS_H
#include <stddef.h>

struct gw_conn;

#define GW_ADDR_MAX 46			/* INET6_ADDRSTRLEN */
int gw_limits_init(void);
void gw_limits_fini(void);
/* Connection budget. Per client address (every accepted socket, HTTP or
 * WebSocket): take at accept, put when lws destroys the socket. The peer
 * entry is shared by the sockets of one address and freed with the last. */
struct gw_peer;
/* 0 with *peer_r, or PL_EAGAIN over PARLEY_MAX_CONNS_IP (exempt addresses
 * are counted but never refused) */
int gw_limits_peer_take(const char *addr, struct gw_peer **peer_r);
void gw_limits_peer_put(struct gw_peer **peer);
size_t gw_limits_peer_count(const char *addr);
/* 1 if addr (text) is a trusted proxy (PARLEY_TRUSTED_PROXIES) */
int gw_limits_trusted(const char *addr);
/* per user: WebSockets of user on this process below PARLEY_MAX_CONNS_USER:
 * 0, or PL_EAGAIN with *retry_after_r */
int gw_limits_user_admit(const char *user, int *retry_after_r);
void gw_limits_user_add(struct gw_conn *c);
void gw_limits_user_del(struct gw_conn *c);
/* admit a new WebSocket while conns are open: 0, or PL_EAGAIN with
 * *retry_after_r seconds */
int gw_limits_admit(size_t conns, int *retry_after_r);
/* per-connection send rate: 1 allowed, 0 limited with *retry_after_s */
int gw_limits_send(struct gw_conn *c, double *retry_after_s);
/* Web API: one call from key's bucket (per_min per minute, burst); 0, or
 * PL_EAGAIN with *retry_after_r seconds. Off with PARLEY_RATE_LIMITS=0. */
int gw_limits_api_init(void);
void gw_limits_api_fini(void);
int gw_limits_api(const char *key, double per_min, double burst,
    int *retry_after_r);
size_t gw_limits_api_buckets(void);

#endif
