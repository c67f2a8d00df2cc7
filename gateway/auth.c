/* auth.c - who is calling: user tokens (HS256 JWT, lib/jwt.h), the admin
 * token, rtm.connect tickets, and the Origin check of browsers.
 *
 * User tokens carry sub (user), tid (team), iss "parley", aud "parley" and
 * exp. Tickets are JWTs with aud "parley-ws", a jti and a 30 s exp: the
 * signature lets a bad or stale ticket be refused before the upgrade, and
 * the jti (stored in Redis at issue, deleted at use, ticket.c) makes it
 * single-use across every gateway process sharing the port. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_auth.h"
#include "gw_http.h"
#include "ids.h"
#include "json.h"
#include "jwt.h"
#include "mem.h"

#define GW_ISS "parley"
#define GW_AUD "parley"
#define GW_AUD_WS "parley-ws"

/* gw_auth_claims - copy sub/tid/exp (and jti) out of verified claims */
static int
gw_auth_claims(const cJSON *claims, struct gw_auth *a)
{
	const char *sub = pl_json_str(claims, "sub");
	const char *tid = pl_json_str(claims, "tid");
	const char *jti = pl_json_str(claims, "jti");
	int64_t exp = 0, uexp = 0;

	if (sub == NULL || tid == NULL || !pl_id_valid(sub, "UW") ||
	    !pl_id_valid(tid, "TE"))
		return PL_EPERM;
	(void)pl_json_int(claims, "exp", &exp);
	(void)pl_json_int(claims, "uexp", &uexp);
	memset(a, 0, sizeof(*a));
	snprintf(a->user, sizeof(a->user), "%s", sub);
	snprintf(a->team, sizeof(a->team), "%s", tid);
	if (jti != NULL)
		snprintf(a->jti, sizeof(a->jti), "%s", jti);
	a->exp_s = exp;
	a->uexp_s = uexp;
	return 0;
}

/* gw_auth_verify - verify token against aud and fill a */
static int
gw_auth_verify(const char *token, const char *aud, struct gw_auth *a)
{
	cJSON *claims = NULL;
	int rv;

	if (token == NULL || *token == 0)
		return PL_EINVAL;
	rv = pl_jwt_verify(gw_conf.token_secret, token, GW_ISS, aud,
	    (int64_t)(pl_clock_wall_ms() / 1000), &claims);
	if (rv == PL_EEXPIRED)
		return rv;
	if (rv != 0)
		return PL_EPERM;
	rv = gw_auth_claims(claims, a);
	cJSON_Delete(claims);
	return rv;
}

/* gw_auth_token - verify a user token */
int
gw_auth_token(const char *token, struct gw_auth *a)
{
	return gw_auth_verify(token, GW_AUD, a);
}

/* gw_auth_ticket_verify - verify an rtm.connect ticket (not yet consumed);
 * the connection it opens inherits the original token's expiry (uexp, 0 =
 * none), not the ticket's 30 s */
int
gw_auth_ticket_verify(const char *ticket, struct gw_auth *a)
{
	int rv = gw_auth_verify(ticket, GW_AUD_WS, a);

	if (rv == 0 && a->jti[0] == 0)
		return PL_EPERM;
	if (rv == 0)
		a->exp_s = a->uexp_s;
	return rv;
}

/* gw_auth_ticket_sign - a new single-use ticket for user (heap strings);
 * uexp_s is the expiry of the token that asked for it (0: none): the ticket
 * never outlives it, and carries it to the connection */
int
gw_auth_ticket_sign(const char *user, const char *team, int64_t uexp_s,
    char **ticket_r, char **jti_r)
{
	char claims[320], *jti = pl_random_hex(12);
	int64_t exp = (int64_t)(pl_clock_wall_ms() / 1000) + gw_conf.ticket_ttl_s;
	int rv;

	if (uexp_s > 0 && uexp_s < exp)
		exp = uexp_s;
	snprintf(claims, sizeof(claims),
	    "{\"sub\":\"%s\",\"tid\":\"%s\",\"jti\":\"%s\",\"iss\":\"" GW_ISS
	    "\",\"aud\":\"" GW_AUD_WS "\",\"exp\":%lld,\"uexp\":%lld}", user, team, jti,
	    (long long)exp, (long long)uexp_s);
	rv = pl_jwt_sign(gw_conf.token_secret, claims, ticket_r);
	if (rv != 0) {
		free(jti);
		return rv;
	}
	*jti_r = jti;
	return 0;
}

/* gw_auth_admin - 1 if token is the admin token (constant time) */
int
gw_auth_admin(const char *token)
{
	const char *want = gw_conf.admin_token;
	size_t n, i;
	unsigned diff;

	if (token == NULL || want == NULL || *want == 0)
		return 0;
	n = strlen(want);
	if (strlen(token) != n)
		return 0;
	for (i = 0, diff = 0; i < n; i++)
		diff |= (unsigned char)token[i] ^ (unsigned char)want[i];
	return diff == 0;
}

/* gw_auth_bearer - the token of an "Authorization: Bearer x" header */
const char *
gw_auth_bearer(const char *header)
{
	if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
		return NULL;
	header += 7;
	while (*header == ' ')
		header++;
	return *header ? header : NULL;
}

/* gw_auth_err_code - Slack's error code for an auth failure */
const char *
gw_auth_err_code(int rv)
{
	if (rv == PL_EINVAL)
		return "not_authed";
	if (rv == PL_EEXPIRED)
		return "token_expired";
	return "invalid_auth";
}

/* gw_origin_host - the host[:port] of an origin "scheme://host[:port]" */
static const char *
gw_origin_host(const char *origin)
{
	const char *p = strstr(origin, "://");

	return p ? p + 3 : origin;
}

/* gw_origin_match - does one list entry (len n) allow origin */
static int
gw_origin_match(const char *e, size_t n, const char *origin)
{
	const char *star = memchr(e, '*', n);
	size_t ol = strlen(origin), pre, suf;

	if (n == 1 && e[0] == '*')
		return 1;
	if (star == NULL)
		return ol == n && strncasecmp(e, origin, n) == 0;
	pre = (size_t)(star - e);
	suf = n - pre - 1;
	if (ol <= pre + suf || strncasecmp(origin, e, pre) != 0 ||
	    strncasecmp(origin + ol - suf, star + 1, suf) != 0)
		return 0;
	/* the wildcard stands for host labels only */
	return memchr(origin + pre, '/', ol - pre - suf) == NULL;
}

/* gw_auth_origin_ok - may a browser of this Origin connect */
int
gw_auth_origin_ok(const char *list, const char *origin, const char *host)
{
	const char *p, *e;
	size_t n;

	if (origin == NULL || *origin == 0)
		return 1;
	if (host != NULL && *host && strcasecmp(gw_origin_host(origin), host) == 0)
		return 1;
	for (p = list ? list : ""; *p; p = *e ? e + 1 : e) {
		while (*p == ' ')
			p++;
		e = strchr(p, ',');
		if (e == NULL)
			e = p + strlen(p);
		n = (size_t)(e - p);
		while (n > 0 && p[n - 1] == ' ')
			n--;
		if (n > 0 && gw_origin_match(p, n, origin))
			return 1;
	}
	return 0;
}

/* gw_auth_ws - authenticate a WebSocket upgrade from ticket / Bearer / token */
int
gw_auth_ws(struct lws *wsi, struct gw_auth *a, int *ticket_r)
{
	char *hdr = gw_http_hdr(wsi, WSI_TOKEN_HTTP_AUTHORIZATION);
	char *ticket = gw_http_arg(wsi, "ticket"), *token = NULL;
	const char *bearer = gw_auth_bearer(hdr);
	int rv;

	*ticket_r = 0;
	if (ticket != NULL) {
		*ticket_r = 1;
		rv = gw_auth_ticket_verify(ticket, a);
	} else {
		token = bearer ? NULL : gw_http_arg(wsi, "token");
		rv = gw_auth_token(bearer ? bearer : token, a);
	}
	free(hdr);
	free(ticket);
	free(token);
	return rv;
}
