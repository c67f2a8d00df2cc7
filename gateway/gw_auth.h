/* gw_auth.h - auth.c: who is calling: user tokens (HS256), the admin token,
 * rtm.connect tickets, the Origin check of browsers, and a WebSocket
 * upgrade's credentials (ticket, Bearer or ?token=). */
#ifndef GW_AUTH_H
#define GW_AUTH_H
#include <stdint.h>

#include "gw.h"

struct lws;

struct gw_auth {
	char user[GW_ID_MAX + 1];
	char team[GW_ID_MAX + 1];
	int64_t exp_s;			/* for a ticket: the original token's */
	int64_t uexp_s;			/* tickets: the original token's exp */
	int admin;
	char jti[40];			/* tickets only */
};
/* verify a user token; PL_EPERM invalid, PL_EEXPIRED expired */
int gw_auth_token(const char *token, struct gw_auth *a);
/* admin token (constant time) */
int gw_auth_admin(const char *token);
/* "Bearer x" -> x, else NULL */
const char *gw_auth_bearer(const char *header);
/* 1 if origin may connect: no Origin (non-browser) always; the same origin
 * as host (the Host header) always; else list is comma-separated origins,
 * "*" allows all, and a "*" before a domain (as in https + *.example.com)
 * allows its subdomains */
int gw_auth_origin_ok(const char *list, const char *origin, const char *host);
/* tickets: sign a 30 s single-use ws ticket */
int gw_auth_ticket_sign(const char *user, const char *team, int64_t uexp_s,
    char **ticket_r, char **jti_r);
int gw_auth_ticket_verify(const char *ticket, struct gw_auth *a);
const char *gw_auth_err_code(int rv);
/* authenticate a WebSocket upgrade (ticket, Bearer or ?token=) */
int gw_auth_ws(struct lws *wsi, struct gw_auth *a, int *ticket_r);

#endif
