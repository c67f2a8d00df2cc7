/* floor_ws.c - the floor's WebSocket handshake, frame parser and JSON peeks */
#include "floor.h"

#include <openssl/evp.h>
#include <openssl/sha.h>
#include <stdlib.h>
#include <string.h>

#define FLOOR_WS_GUID "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

/* floor_ws_accept_key - base64(sha1(key + GUID)) */
int
floor_ws_accept_key(const char *key, size_t klen, char out[29])
{
	char buf[128];
	unsigned char md[SHA_DIGEST_LENGTH];

	if (klen > 64)
		return -1;
	memcpy(buf, key, klen);
	memcpy(buf + klen, FLOOR_WS_GUID, sizeof(FLOOR_WS_GUID) - 1);
	SHA1((unsigned char *)buf, klen + sizeof(FLOOR_WS_GUID) - 1, md);
	EVP_EncodeBlock((unsigned char *)out, md, SHA_DIGEST_LENGTH);
	return 0;
}

/* floor_ws_parse - one masked client frame: length consumed, 0 more, -1 bad */
int
floor_ws_parse(uint8_t *buf, size_t n, int *op, uint8_t **payload, size_t *plen)
{
	size_t hdr = 6, len;

	if (n < 2)
		return 0;
	if (!(buf[1] & 0x80) || !(buf[0] & 0x80))
		return -1;                      /* unmasked or fragmented */
	len = buf[1] & 0x7f;
	if (len == 127)
		return -1;                      /* the floor takes no huge frames */
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (size_t)buf[2] << 8 | buf[3];
		hdr = 8;
	}
	if (n < hdr + len)
		return 0;
	*op = buf[0] & 0x0f;
	*payload = buf + hdr;
	*plen = len;
	for (size_t i = 0; i < len; i++)
		buf[hdr + i] ^= buf[hdr - 4 + (i & 3)];
	return (int)(hdr + len);
}

/* floor_ws_header - an unmasked server frame header */
size_t
floor_ws_header(uint8_t out[10], int op, size_t len)
{
	out[0] = (uint8_t)(0x80 | op);
	if (len < 126) {
		out[1] = (uint8_t)len;
		return 2;
	}
	if (len < 65536) {
		out[1] = 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		return 4;
	}
	out[1] = 127;
	for (int i = 0; i < 8; i++)
		out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
	return 10;
}

/* floor_json_find - pointer just after "key": in js, NULL if absent */
static const char *
floor_json_find(const char *js, size_t n, const char *key)
{
	char pat[64];
	size_t kl = strlen(key);
	const char *p;

	if (kl + 3 > sizeof(pat))
		return NULL;
	pat[0] = '"';
	memcpy(pat + 1, key, kl);
	pat[kl + 1] = '"';
	pat[kl + 2] = ':';
	p = memmem(js, n, pat, kl + 3);
	return p ? p + kl + 3 : NULL;
}

/* floor_json_str - raw (still escaped) string value of key */
int
floor_json_str(const char *js, size_t n, const char *key, const char **v, size_t *vlen)
{
	const char *p = floor_json_find(js, n, key), *end = js + n;

	if (p == NULL || p >= end || *p != '"')
		return -1;
	*v = ++p;
	while (p < end && *p != '"')
		p += (*p == '\\') ? 2 : 1;
	if (p >= end)
		return -1;
	*vlen = (size_t)(p - *v);
	return 0;
}

/* floor_json_int - integer value of key, -1 if absent */
long long
floor_json_int(const char *js, size_t n, const char *key)
{
	const char *p = floor_json_find(js, n, key), *end = js + n;
	long long v = 0;

	if (p == NULL || p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}
