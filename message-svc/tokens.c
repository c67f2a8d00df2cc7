/* tokens.c - user tokens: HS256 JWTs with sub = user, tid = team,
 * iss = aud = "parley", iat and exp = iat + PARLEY_TOKEN_TTL_S. The gateway
 * verifies them with the same secret (lib/jwt.h pins the algorithm). */
#include <stdio.h>

#include "clock.h"
#include "jwt.h"
#include "message_svc.h"

/* ms_tokens_issue - a token for user of team (*token_r heap) */
int
ms_tokens_issue(const char *user, const char *team, char **token_r)
{
	char claims[256];
	long long now = (long long)(pl_clock_wall_us() / 1000000);

	snprintf(claims, sizeof(claims), "{\"sub\":\"%s\",\"tid\":\"%s\",\"iss\":\"parley\","
	    "\"aud\":\"parley\",\"iat\":%lld,\"exp\":%lld}", user, team, now,
	    now + (long long)ms_conf.token_ttl_s);
	return pl_jwt_sign(ms_conf.token_secret, claims, token_r);
}
