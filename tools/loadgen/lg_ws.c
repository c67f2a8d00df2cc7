/* lg_ws.c - WebSocket client frame codec; see lg_ws.h */
#include "lg_ws.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* lg_ws_unmask - xor payload with the 4-byte key */
static void
lg_ws_unmask(uint8_t *p, uint64_t n, const uint8_t key[4])
{
	for (uint64_t i = 0; i < n; i++)
		p[i] ^= key[i & 3];
}

/* lg_ws_parse - header, extended length, mask, payload; in place */
int
lg_ws_parse(uint8_t *buf, size_t n, struct lg_ws_frame *f)
{
	size_t hdr = 2;
	uint64_t len;
	int masked;

	if (n < 2)
		return 0;
	if (buf[0] & 0x70)
		return LG_WS_EPROTO;            /* no extensions negotiated */
	f->fin = buf[0] >> 7;
	f->opcode = buf[0] & 0x0f;
	masked = buf[1] >> 7;
	len = buf[1] & 0x7f;
	if (len == 126) {
		if (n < 4)
			return 0;
		len = (uint64_t)buf[2] << 8 | buf[3];
		hdr = 4;
	} else if (len == 127) {
		if (n < 10)
			return 0;
		len = 0;
		for (int i = 0; i < 8; i++)
			len = len << 8 | buf[2 + i];
		hdr = 10;
	}
	if (f->opcode >= 0x8 && (len > 125 || !f->fin))
		return LG_WS_EPROTO;            /* control frames are short, unfragmented */
	if (len > (1u << 24))
		return LG_WS_EPROTO;
	if (masked)
		hdr += 4;
	if (n < hdr + len)
		return 0;
	f->payload = buf + hdr;
	f->len = len;
	if (masked)
		lg_ws_unmask(f->payload, len, buf + hdr - 4);
	return (int)(hdr + len);
}

/* lg_ws_encode - FIN frame with the client mask */
int
lg_ws_encode(uint8_t *out, size_t cap, int opcode, const void *payload,
    size_t len, uint32_t mask)
{
	size_t hdr = 2;
	uint8_t *key;

	if (cap < len + 14)
		return -1;
	out[0] = (uint8_t)(0x80 | opcode);
	if (len < 126) {
		out[1] = (uint8_t)(0x80 | len);
	} else if (len < 65536) {
		out[1] = 0x80 | 126;
		out[2] = (uint8_t)(len >> 8);
		out[3] = (uint8_t)len;
		hdr = 4;
	} else {
		out[1] = 0x80 | 127;
		for (int i = 0; i < 8; i++)
			out[2 + i] = (uint8_t)((uint64_t)len >> (56 - 8 * i));
		hdr = 10;
	}
	key = out + hdr;
	memcpy(key, &mask, 4);
	memcpy(out + hdr + 4, payload, len);
	lg_ws_unmask(out + hdr + 4, len, key);
	return (int)(hdr + 4 + len);
}

/* lg_ws_request - a fixed key is fine: the client need not be unpredictable here */
int
lg_ws_request(char *out, size_t cap, const char *host, const char *path)
{
	int n = snprintf(out, cap,
	    "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
	    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	    "Sec-WebSocket-Version: 13\r\n\r\n", path, host);

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* lg_ws_response - status line, then the blank line that ends the head */
int
lg_ws_response(const char *buf, size_t n)
{
	const char *end = memmem(buf, n, "\r\n\r\n", 4);
	int status;

	if (end == NULL)
		return n > 8192 ? -999 : 0;
	if (n < 12 || memcmp(buf, "HTTP/1.1 ", 9) != 0)
		return -999;
	status = atoi(buf + 9);
	if (status != 101)
		return -(status > 0 ? status : 999);
	return (int)(end - buf) + 4;
}

/* lg_ws_close_code - first two payload bytes, big-endian */
int
lg_ws_close_code(const struct lg_ws_frame *f)
{
	if (f->len < 2)
		return 1005;
	return f->payload[0] << 8 | f->payload[1];
}
