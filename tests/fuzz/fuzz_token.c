/* fuzz_token.c - the token parser and verifier (lib/jwt.c through
 * gateway/auth.c). The first byte picks what the rest is:
 *   0  a token as a client sends it: an Authorization header value
 *      (gw_auth_bearer), then gw_auth_token, gw_auth_ticket_verify and
 *      gw_auth_admin on the bearer token
 *   1  a claims object: signed with the gateway's secret (pl_jwt_sign), so
 *      the claim checks behind a good signature run (exp, iss, aud, sub,
 *      tid, jti) in both gw_auth_token and gw_auth_ticket_verify
 *   2  "list\norigin\nhost": the browser Origin check (gw_auth_origin_ok) */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gw.h"
#include "gw.h"
#include "gw_auth.h"
#include "jwt.h"
#include "mem.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* fuzz_token_check - every verifier on tok; a success must name a user */
static void
fuzz_token_check(const char *tok)
{
	struct gw_auth a;

	if (gw_auth_token(tok, &a) == 0 && (a.user[0] == 0 || a.team[0] == 0))
		abort();
	if (gw_auth_ticket_verify(tok, &a) == 0 && a.jti[0] == 0)
		abort();
	(void)gw_auth_err_code(gw_auth_token(tok, &a));
	(void)gw_auth_admin(tok);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s, *tok = NULL, *origin, *host;
	const char *bearer;

	if (size < 1)
		return 0;
	fuzz_gw_settings();
	gw_conf.admin_token = "fuzz-admin-token-fuzz-admin-token";
	s = pl_strndup((const char *)data + 1, size - 1);
	switch (data[0] % 3) {
	case 0:
		if ((bearer = gw_auth_bearer(s)) != NULL)
			fuzz_token_check(bearer);
		fuzz_token_check(s);
		break;
	case 1:
		if (pl_jwt_sign(gw_conf.token_secret, s, &tok) == 0)
			fuzz_token_check(tok);
		free(tok);
		break;
	default:
		if ((origin = strchr(s, '\n')) == NULL)
			break;
		*origin++ = 0;
		if ((host = strchr(origin, '\n')) != NULL)
			*host++ = 0;
		(void)gw_auth_origin_ok(s, origin, host);
		break;
	}
	free(s);
	return 0;
}
