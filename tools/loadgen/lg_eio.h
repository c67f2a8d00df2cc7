/*
 * lg_eio.h - Engine.IO v4 / Socket.IO v5 packets as text WebSocket frames.
 *
 * An Engine.IO packet is a type digit and data: 0 open {json}, 1 close,
 * 2 ping, 3 pong, 4 message, 6 noop. A message (4) carries a Socket.IO
 * packet: type digit (0 connect, 1 disconnect, 2 event, 3 ack, 4 error),
 * an optional "/nsp," and an optional ack id, then JSON. lg_eio_parse()
 * splits a frame into those parts without copying.
 */
#ifndef LG_EIO_H
#define LG_EIO_H

#include <stddef.h>
#include <stdint.h>

#define LG_EIO_EPROTO (-71)

enum { LG_EIO_OPEN, LG_EIO_CLOSE, LG_EIO_PING, LG_EIO_PONG, LG_EIO_MESSAGE,
	LG_EIO_UPGRADE, LG_EIO_NOOP };
enum { LG_SIO_CONNECT, LG_SIO_DISCONNECT, LG_SIO_EVENT, LG_SIO_ACK,
	LG_SIO_CONNECT_ERROR, LG_SIO_BINARY_EVENT, LG_SIO_BINARY_ACK };

struct lg_eio_pkt {
	int eio;              /* LG_EIO_* */
	int sio;              /* LG_SIO_* or -1 when not a message */
	long long ack;        /* ack id, -1 when absent */
	const char *data;     /* JSON after the headers (may be empty) */
	size_t len;
};

/* lg_eio_parse - split s[0..n) into pkt; 0 or LG_EIO_EPROTO */
int lg_eio_parse(const char *s, size_t n, struct lg_eio_pkt *pkt);
/* lg_eio_event - the event name of an event's data ["name",...] into name; 0 or -1 */
int lg_eio_event(const struct lg_eio_pkt *pkt, char *name, size_t cap);
/* lg_eio_emit - "42[<ack>]["event",<json>]"; ack < 0 for none; length or -1 */
int lg_eio_emit(char *out, size_t cap, const char *event, const char *json,
    long long ack);

#endif
