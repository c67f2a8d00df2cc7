/*
 * lg_ws.h - the client side of RFC 6455: the upgrade request, the 101
 * answer, and frames (client frames masked, server frames parsed in place).
 *
 * lg_ws_parse() works on whatever bytes have arrived: it returns the length
 * of one complete frame, 0 when more bytes are needed, or LG_WS_EPROTO.
 * Payloads that arrive masked are unmasked in place, so the buffer is not
 * const. The frame's payload points into the caller's buffer.
 */
#ifndef LG_WS_H
#define LG_WS_H

#include <stddef.h>
#include <stdint.h>

#define LG_WS_EPROTO (-71)

enum {
	LG_WS_CONT = 0x0, LG_WS_TEXT = 0x1, LG_WS_BINARY = 0x2,
	LG_WS_CLOSE = 0x8, LG_WS_PING = 0x9, LG_WS_PONG = 0xA,
};

struct lg_ws_frame {
	int fin;
	int opcode;
	uint8_t *payload;
	uint64_t len;
};

/* lg_ws_parse - one frame from buf[0..n); see above */
int lg_ws_parse(uint8_t *buf, size_t n, struct lg_ws_frame *f);
/* lg_ws_encode - a masked client frame into out; its length, or -1 if cap is short */
int lg_ws_encode(uint8_t *out, size_t cap, int opcode, const void *payload,
    size_t len, uint32_t mask);
/* lg_ws_request - the GET upgrade request for host and path */
int lg_ws_request(char *out, size_t cap, const char *host, const char *path);
/* lg_ws_response - length of a complete 101 head, 0 if incomplete, -status otherwise */
int lg_ws_response(const char *buf, size_t n);
/* lg_ws_close_code - the status code of a close frame's payload, or 1005 */
int lg_ws_close_code(const struct lg_ws_frame *f);

#endif
