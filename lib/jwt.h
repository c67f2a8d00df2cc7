/* jwt.h - HS256 JSON Web Tokens with the algorithm pinned.
 *
 * Verification rejects any header "alg" other than HS256 (no "none", no
 * RS/HS confusion), checks the signature in constant time, then "exp"
 * (PL_EEXPIRED), and "iss"/"aud" when given. */
#ifndef PL_JWT_H
#define PL_JWT_H
#include <stdint.h>
#include <stddef.h>

struct cJSON;

/* the shortest secret signed or verified with: 32 bytes, the HMAC-SHA256
 * output size (RFC 7518 §3.2); shorter ones, and the empty one, are
 * refused with PL_EINVAL so that a missing setting cannot become a key */
#define PL_JWT_SECRET_MIN 32

/* pl_jwt_sign - claims is a JSON object text; *token_r is heap. PL_EINVAL
 * for a secret under PL_JWT_SECRET_MIN bytes (so does pl_jwt_verify). */
int pl_jwt_sign(const char *secret, const char *claims_json, char **token_r);
/* pl_jwt_verify - on 0, *claims_r (if non-NULL) is a cJSON object the caller
 * deletes. now_s is the current unix time. iss/aud NULL skip that check. */
int pl_jwt_verify(const char *secret, const char *token, const char *iss,
    const char *aud, int64_t now_s, struct cJSON **claims_r);

/* base64url without padding; out is heap */
char *pl_b64url_encode(const void *p, size_t n);
int pl_b64url_decode(const char *s, size_t n, unsigned char **out_r, size_t *len_r);

#endif
