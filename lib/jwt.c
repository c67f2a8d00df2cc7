/* jwt.c - HS256 JSON Web Tokens with the algorithm pinned.
 *
 * Order of checks in pl_jwt_verify: shape (three base64url parts), header
 * alg == "HS256" exactly, signature (constant time), then claims: exp, nbf,
 * iss, aud. The signature is checked before the claims are even parsed, so
 * unauthenticated input never reaches more than the header parser. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "buf.h"
#include "err.h"
#include "jwt.h"
#include "mem.h"

#define PL_JWT_SIG_LEN 32
#define PL_JWT_HEADER "{\"alg\":\"HS256\",\"typ\":\"JWT\"}"

static const char pl_b64url_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/* pl_b64url_encode - base64url without padding (heap) */
char *
pl_b64url_encode(const void *p, size_t n)
{
	const unsigned char *s = p;
	char *out = pl_malloc((n + 2) / 3 * 4 + 1), *o = out;
	size_t i;

	for (i = 0; i + 2 < n; i += 3) {
		uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
		*o++ = pl_b64url_chars[v >> 18];
		*o++ = pl_b64url_chars[(v >> 12) & 63];
		*o++ = pl_b64url_chars[(v >> 6) & 63];
		*o++ = pl_b64url_chars[v & 63];
	}
	if (n - i == 1) {
		*o++ = pl_b64url_chars[s[i] >> 2];
		*o++ = pl_b64url_chars[(s[i] & 3) << 4];
	} else if (n - i == 2) {
		*o++ = pl_b64url_chars[s[i] >> 2];
		*o++ = pl_b64url_chars[((s[i] & 3) << 4) | (s[i + 1] >> 4)];
		*o++ = pl_b64url_chars[(s[i + 1] & 15) << 2];
	}
	*o = '\0';
	return out;
}

/* pl_b64url_val - value of one symbol, -1 if not base64url */
static int
pl_b64url_val(char c)
{
	const char *p = c ? strchr(pl_b64url_chars, c) : NULL;

	return p ? (int)(p - pl_b64url_chars) : -1;
}

/* pl_b64url_decode - strict base64url (no padding); *out_r is heap, NUL-ended */
int
pl_b64url_decode(const char *s, size_t n, unsigned char **out_r, size_t *len_r)
{
	unsigned char *out;
	uint32_t acc = 0;
	size_t i, len = 0;
	int bits = 0, v;

	if (n % 4 == 1)
		return PL_EINVAL;
	out = pl_malloc(n * 3 / 4 + 1);
	for (i = 0; i < n; i++) {
		if ((v = pl_b64url_val(s[i])) < 0)
			goto fail;
		acc = (acc << 6) | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[len++] = (unsigned char)(acc >> bits);
		}
	}
	/* left-over bits must be zero (one canonical spelling per value) */
	if (acc & ((1u << bits) - 1))
		goto fail;
	out[len] = '\0';
	*out_r = out;
	*len_r = len;
	return 0;
fail:
	free(out);
	return PL_EINVAL;
}

/* pl_jwt_hmac - HMAC-SHA256 of n bytes of msg under secret into mac */
static int
pl_jwt_hmac(const char *secret, const char *msg, size_t n,
    unsigned char mac[PL_JWT_SIG_LEN])
{
	unsigned int len = 0;

	if (secret == NULL || strlen(secret) < PL_JWT_SECRET_MIN)
		return PL_EINVAL;
	if (HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg,
	    n, mac, &len) == NULL || len != PL_JWT_SIG_LEN)
		return PL_EINTERNAL;
	return 0;
}

/* pl_jwt_sign - claims is a JSON object text; *token_r is heap */
int
pl_jwt_sign(const char *secret, const char *claims_json, char **token_r)
{
	unsigned char mac[PL_JWT_SIG_LEN];
	cJSON *claims = cJSON_Parse(claims_json);
	struct pl_buf b;
	char *part;
	int rv;

	if (!cJSON_IsObject(claims) || secret == NULL) {
		cJSON_Delete(claims);
		return PL_EINVAL;
	}
	cJSON_Delete(claims);
	pl_buf_init(&b);
	part = pl_b64url_encode(PL_JWT_HEADER, strlen(PL_JWT_HEADER));
	pl_buf_printf(&b, "%s.", part);
	free(part);
	part = pl_b64url_encode(claims_json, strlen(claims_json));
	pl_buf_puts(&b, part);
	free(part);
	if ((rv = pl_jwt_hmac(secret, b.data, b.len, mac)) != 0) {
		pl_buf_fini(&b);
		return rv;
	}
	part = pl_b64url_encode(mac, sizeof(mac));
	pl_buf_printf(&b, ".%s", part);
	free(part);
	*token_r = pl_buf_steal(&b, NULL);
	return 0;
}

/* pl_jwt_part - decode and parse one base64url JSON object part */
static cJSON *
pl_jwt_part(const char *s, size_t n)
{
	unsigned char *raw;
	size_t len;
	cJSON *o;

	if (pl_b64url_decode(s, n, &raw, &len) != 0)
		return NULL;
	o = strlen((char *)raw) == len ? cJSON_Parse((char *)raw) : NULL;
	free(raw);
	if (o && !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		o = NULL;
	}
	return o;
}

/* pl_jwt_check_alg - the header must say exactly HS256 */
static int
pl_jwt_check_alg(const char *s, size_t n)
{
	cJSON *h = pl_jwt_part(s, n);
	const cJSON *alg;
	int rv;

	if (h == NULL)
		return PL_EINVAL;
	alg = cJSON_GetObjectItemCaseSensitive(h, "alg");
	rv = cJSON_IsString(alg) && strcmp(alg->valuestring, "HS256") == 0 ? 0 : PL_EPERM;
	cJSON_Delete(h);
	return rv;
}

/* pl_jwt_check_sig - constant-time compare of the signature part */
static int
pl_jwt_check_sig(const char *secret, const char *token, size_t signed_len,
    const char *sig, size_t sig_len)
{
	unsigned char mac[PL_JWT_SIG_LEN], *got = NULL;
	size_t got_len = 0;
	int rv;

	if ((rv = pl_jwt_hmac(secret, token, signed_len, mac)) != 0)
		return rv;
	if (pl_b64url_decode(sig, sig_len, &got, &got_len) != 0)
		return PL_EINVAL;
	rv = got_len == PL_JWT_SIG_LEN && CRYPTO_memcmp(got, mac, PL_JWT_SIG_LEN) == 0 ?
	    0 : PL_EPERM;
	free(got);
	return rv;
}

/* pl_jwt_aud_ok - aud is the string want or an array holding it */
static int
pl_jwt_aud_ok(const cJSON *aud, const char *want)
{
	const cJSON *it;

	if (cJSON_IsString(aud))
		return strcmp(aud->valuestring, want) == 0;
	if (!cJSON_IsArray(aud))
		return 0;
	cJSON_ArrayForEach(it, aud)
		if (cJSON_IsString(it) && strcmp(it->valuestring, want) == 0)
			return 1;
	return 0;
}

/* pl_jwt_check_claims - exp, nbf, iss, aud */
static int
pl_jwt_check_claims(const cJSON *c, const char *iss, const char *aud, int64_t now_s)
{
	const cJSON *exp = cJSON_GetObjectItemCaseSensitive(c, "exp");
	const cJSON *nbf = cJSON_GetObjectItemCaseSensitive(c, "nbf");
	const cJSON *i = cJSON_GetObjectItemCaseSensitive(c, "iss");

	if (exp && !cJSON_IsNumber(exp))
		return PL_EINVAL;
	if (exp && (double)now_s >= exp->valuedouble)
		return PL_EEXPIRED;
	if (nbf && (!cJSON_IsNumber(nbf) || (double)now_s < nbf->valuedouble))
		return PL_EPERM;
	if (iss && !(cJSON_IsString(i) && strcmp(i->valuestring, iss) == 0))
		return PL_EPERM;
	if (aud && !pl_jwt_aud_ok(cJSON_GetObjectItemCaseSensitive(c, "aud"), aud))
		return PL_EPERM;
	return 0;
}

/* pl_jwt_verify - HS256 only; on 0 *claims_r (if non-NULL) is the caller's */
int
pl_jwt_verify(const char *secret, const char *token, const char *iss,
    const char *aud, int64_t now_s, struct cJSON **claims_r)
{
	const char *d1, *d2;
	cJSON *claims;
	int rv;

	if (secret == NULL || token == NULL || (d1 = strchr(token, '.')) == NULL ||
	    (d2 = strchr(d1 + 1, '.')) == NULL || strchr(d2 + 1, '.') != NULL)
		return PL_EINVAL;
	if ((rv = pl_jwt_check_alg(token, (size_t)(d1 - token))) != 0)
		return rv;
	if ((rv = pl_jwt_check_sig(secret, token, (size_t)(d2 - token), d2 + 1,
	    strlen(d2 + 1))) != 0)
		return rv;
	if ((claims = pl_jwt_part(d1 + 1, (size_t)(d2 - d1 - 1))) == NULL)
		return PL_EINVAL;
	if ((rv = pl_jwt_check_claims(claims, iss, aud, now_s)) != 0) {
		cJSON_Delete(claims);
		return rv;
	}
	if (claims_r)
		*claims_r = claims;
	else
		cJSON_Delete(claims);
	return 0;
}
