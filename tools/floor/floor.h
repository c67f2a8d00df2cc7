/*
 * floor.h - the raw epoll "floor" server: the least any WebSocket fan-out
 * can cost on this machine. One thread, one epoll set, no framework.
 *
 * A client upgrades at /ws?ch=A,B,... (minimal RFC 6455 handshake) and is
 * a member of those channels. Its text frames are tiny JSON objects:
 *   {"type":"ping","id":N}                 -> {"type":"pong","reply_to":N}
 *   {"type":"message","id":N,"channel":C,"text":T}
 *        -> the event {"type":"message","channel":C,"seq":S,"text":T} is
 *           built once and write()n straight to every member, then the
 *           sender gets {"ok":true,"reply_to":N,"seq":S}
 *   {"type":"resume","id":N,...}           -> {"type":"resumed","reply_to":N}
 *           (the floor keeps no history: missed events stay missed)
 * A short write keeps the rest in a per-connection buffer (bounded; over
 * the bound the client is closed with 4008, as Parley does).
 */
#ifndef FLOOR_H
#define FLOOR_H

#include <stddef.h>
#include <stdint.h>

struct floor_chan;

struct floor_conn {
	int fd;
	uint8_t upgraded;
	uint8_t closing;
	uint16_t nchan;
	uint32_t rlen;
	uint8_t *rbuf;                 /* partial request / frame, or NULL */
	uint8_t *wbuf;                 /* unsent bytes, or NULL */
	uint32_t wlen, woff;
	struct floor_chan **chans;
};

/* floor_ws.c: handshake and frames */
int floor_ws_accept_key(const char *key, size_t klen, char out[29]);
int floor_ws_parse(uint8_t *buf, size_t n, int *op, uint8_t **payload, size_t *plen);
size_t floor_ws_header(uint8_t out[10], int op, size_t len);
/* floor_json_str / floor_json_int - value of "key" in a flat JSON object */
int floor_json_str(const char *js, size_t n, const char *key, const char **v, size_t *vlen);
long long floor_json_int(const char *js, size_t n, const char *key);

/* floor_chan.c: channels and fan-out; the loop's send path (main.c) is
 * handed down once at start-up, so the fan-out never calls up into main.c */
typedef void floor_send_fn(struct floor_conn *c, const uint8_t *buf, size_t len);
void floor_chan_init(floor_send_fn *send);
struct floor_chan *floor_chan_get(const char *name, size_t len);
void floor_chan_join(struct floor_chan *ch, struct floor_conn *c);
void floor_chan_leave(struct floor_chan *ch, struct floor_conn *c);
/* floor_chan_fanout - build the event once, write it to every member; its seq */
uint32_t floor_chan_fanout(struct floor_chan *ch, const char *text, size_t tlen);

#endif
