/* jwt_test.c - sign/verify, tampering, pinned alg, claims, malformed input. */
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "err.h"
#include "jwt.h"
#include "pl_test.h"

#define SECRET "s3cret-key-of-at-least-32-bytes!"
#define OTHER "another-key-of-at-least-32-bytes"
#define NOW 1800000000

/* a token with any header, claims and HMAC digest (for forged algs) */
static char *
forge(const char *header, const char *claims, const EVP_MD *md, const char *secret)
{
	unsigned char mac[64];
	unsigned int len = 0;
	char *h = pl_b64url_encode(header, strlen(header));
	char *c = pl_b64url_encode(claims, strlen(claims));
	char *out = malloc(strlen(h) + strlen(c) + 100), *sig;

	sprintf(out, "%s.%s", h, c);
	if (md) {
		HMAC(md, secret, (int)strlen(secret), (unsigned char *)out, strlen(out), mac, &len);
		sig = pl_b64url_encode(mac, len);
		strcat(out, ".");
		strcat(out, sig);
		free(sig);
	} else {
		strcat(out, ".");
	}
	free(h);
	free(c);
	return out;
}

PL_TEST(test_b64url)
{
	static const struct { const char *raw, *enc; } cases[] = {
		{ "", "" }, { "f", "Zg" }, { "fo", "Zm8" }, { "foo", "Zm9v" },
		{ "foob", "Zm9vYg" }, { "\xfb\xff", "-_8" },
	};
	size_t i, len;
	unsigned char *dec;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *e = pl_b64url_encode(cases[i].raw, strlen(cases[i].raw));
		PL_CHECK_EQ_STR(e, cases[i].enc);
		PL_CHECK_EQ_INT(pl_b64url_decode(e, strlen(e), &dec, &len), 0);
		PL_CHECK_EQ_INT(len, strlen(cases[i].raw));
		PL_CHECK(memcmp(dec, cases[i].raw, len) == 0);
		free(dec);
		free(e);
	}
	PL_CHECK_EQ_INT(pl_b64url_decode("Zg==", 4, &dec, &len), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_b64url_decode("Z", 1, &dec, &len), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_b64url_decode("Zh", 2, &dec, &len), PL_EINVAL);	/* stray bits */
	PL_CHECK_EQ_INT(pl_b64url_decode("a+b/", 4, &dec, &len), PL_EINVAL);
}

PL_TEST(test_sign_verify)
{
	char *tok = NULL;
	cJSON *claims = NULL;

	PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "{\"sub\":\"U1\",\"iss\":\"parley\","
	    "\"aud\":\"gw\",\"exp\":1800000100}", &tok), 0);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, tok, "parley", "gw", NOW, &claims), 0);
	PL_CHECK(claims != NULL);
	if (claims)
		PL_CHECK_EQ_STR(cJSON_GetObjectItem(claims, "sub")->valuestring, "U1");
	cJSON_Delete(claims);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, tok, NULL, NULL, NOW, NULL), 0);
	PL_CHECK_EQ_INT(pl_jwt_verify(OTHER, tok, NULL, NULL, NOW, NULL), PL_EPERM);
	{ char *t2 = NULL; PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "[1]", &t2), PL_EINVAL); }
	free(tok);
}

PL_TEST(test_tampered)
{
	char *tok = NULL, *dot;

	PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "{\"sub\":\"U1\"}", &tok), 0);
	dot = strrchr(tok, '.');
	dot[1] = dot[1] == 'A' ? 'B' : 'A';
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, tok, NULL, NULL, NOW, NULL), PL_EPERM);
	free(tok);
	/* claims swapped under a valid signature */
	{
		char *a = NULL, *b = NULL, *fake = malloc(512);
		PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "{\"sub\":\"U1\"}", &a), 0);
		PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "{\"sub\":\"ADMIN\"}", &b), 0);
		snprintf(fake, 512, "%.*s%s", (int)(strrchr(b, '.') - b), b, strrchr(a, '.'));
		PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, fake, NULL, NULL, NOW, NULL), PL_EPERM);
		free(a);
		free(b);
		free(fake);
	}
}

PL_TEST(test_pinned_alg)
{
	char *none = forge("{\"alg\":\"none\",\"typ\":\"JWT\"}", "{\"sub\":\"U1\"}", NULL, "");
	char *hs512 = forge("{\"alg\":\"HS512\"}", "{\"sub\":\"U1\"}", EVP_sha512(), SECRET);
	char *hs256 = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"U1\"}", EVP_sha256(), SECRET);
	char *noalg = forge("{\"typ\":\"JWT\"}", "{\"sub\":\"U1\"}", EVP_sha256(), SECRET);

	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, none, NULL, NULL, NOW, NULL), PL_EPERM);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, hs512, NULL, NULL, NOW, NULL), PL_EPERM);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, noalg, NULL, NULL, NOW, NULL), PL_EPERM);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, hs256, NULL, NULL, NOW, NULL), 0);
	free(none);
	free(hs512);
	free(hs256);
	free(noalg);
}

static const struct {
	const char *claims, *iss, *aud;
	int rv;
} claim_cases[] = {
	{ "{\"exp\":1800000001}", NULL, NULL, 0 },
	{ "{\"exp\":1800000000}", NULL, NULL, PL_EEXPIRED },
	{ "{\"exp\":1700000000}", NULL, NULL, PL_EEXPIRED },
	{ "{\"exp\":\"soon\"}", NULL, NULL, PL_EINVAL },
	{ "{\"nbf\":1800000100}", NULL, NULL, PL_EPERM },
	{ "{\"iss\":\"parley\"}", "parley", NULL, 0 },
	{ "{\"iss\":\"evil\"}", "parley", NULL, PL_EPERM },
	{ "{}", "parley", NULL, PL_EPERM },
	{ "{\"aud\":\"gw\"}", NULL, "gw", 0 },
	{ "{\"aud\":\"other\"}", NULL, "gw", PL_EPERM },
	{ "{\"aud\":[\"x\",\"gw\"]}", NULL, "gw", 0 },
	{ "{\"aud\":[\"x\",\"y\"]}", NULL, "gw", PL_EPERM },
	{ "{\"aud\":7}", NULL, "gw", PL_EPERM },
	{ "{}", NULL, "gw", PL_EPERM },
};

PL_TEST(test_claims)
{
	size_t i;

	for (i = 0; i < sizeof(claim_cases) / sizeof(claim_cases[0]); i++) {
		char *tok = NULL;
		PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, claim_cases[i].claims, &tok), 0);
		PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, tok, claim_cases[i].iss,
		    claim_cases[i].aud, NOW, NULL), claim_cases[i].rv);
		free(tok);
	}
}

PL_TEST(test_malformed)
{
	static const char *const bad[] = {
		"", "abc", "a.b", "a.b.c.d", "..", "!!.e30.sig",
		"eyJhbGciOiJIUzI1NiJ9.e30", "eyJhbGciOiJIUzI1NiJ9..",
		"bm90IGpzb24.e30.c2ln",
	};
	char *notobj = forge("{\"alg\":\"HS256\"}", "[1,2]", EVP_sha256(), SECRET);
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		PL_CHECK(pl_jwt_verify(SECRET, bad[i], NULL, NULL, NOW, NULL) < 0);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, notobj, NULL, NULL, NOW, NULL), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_jwt_verify(SECRET, NULL, NULL, NULL, NOW, NULL), PL_EINVAL);
	free(notobj);
}

/* no key under 32 bytes: not the empty one, not a short one, and a token
 * made with the empty key (what a missing setting used to give) is refused */
PL_TEST(test_short_secret)
{
	char *tok = NULL, *empty_tok;
	char s31[PL_JWT_SECRET_MIN] = { 0 };

	memset(s31, 'k', PL_JWT_SECRET_MIN - 1);
	PL_CHECK_EQ_INT(pl_jwt_sign("", "{\"sub\":\"U1\"}", &tok), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_jwt_sign(s31, "{\"sub\":\"U1\"}", &tok), PL_EINVAL);
	PL_CHECK(tok == NULL);
	PL_CHECK_EQ_INT(pl_jwt_sign(SECRET, "{\"sub\":\"U1\"}", &tok), 0);
	PL_CHECK_EQ_INT(pl_jwt_verify("", tok, NULL, NULL, NOW, NULL), PL_EINVAL);
	PL_CHECK_EQ_INT(pl_jwt_verify(s31, tok, NULL, NULL, NOW, NULL), PL_EINVAL);
	free(tok);
	empty_tok = forge("{\"alg\":\"HS256\"}", "{\"sub\":\"U1\"}", EVP_sha256(), "");
	PL_CHECK_EQ_INT(pl_jwt_verify("", empty_tok, NULL, NULL, NOW, NULL), PL_EINVAL);
	free(empty_tok);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_b64url),
	PL_TEST_CASE(test_sign_verify),
	PL_TEST_CASE(test_tampered),
	PL_TEST_CASE(test_pinned_alg),
	PL_TEST_CASE(test_claims),
	PL_TEST_CASE(test_malformed),
	PL_TEST_CASE(test_short_secret),
};
PL_TEST_MAIN(tests)
