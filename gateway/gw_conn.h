/* gw_conn.h - conn.c: WebSocket connections (struct gw_conn is in gw.h):
 * handles, lifecycle, the write path and the one sweep. Frames, the resume
 * hold, the sweep and the close go up to the front-end through gw_conn_ops
 * (set by rtm.c at its init). */
#ifndef GW_CONN_H
#define GW_CONN_H
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

struct gw_blob;
struct gw_chan;

/* The up-calls of a connection, set by the front-end above (rtm.c) at its
 * init: a NULL hook is skipped. */
struct gw_conn_ops {
	/* a complete client text frame; < 0 hangs up */
	int (*frame)(struct gw_conn *c, const char *text, size_t len);
	/* a resume=1 connection booted: hold live events (before it goes live) */
	void (*hold)(struct gw_conn *c);
	/* the sweep, about once a second, of a connection with resume state */
	void (*sweep)(struct gw_conn *c, uint32_t now_s);
	/* the socket is gone: free what the front-end kept on c */
	void (*closed)(struct gw_conn *c);
};
void gw_conn_set_ops(const struct gw_conn_ops *ops);
int gw_conn_init(void);
void gw_conn_fini(void);
gw_handle gw_conn_register(struct gw_conn *c);
void gw_conn_unregister(struct gw_conn *c);
struct gw_conn *gw_conn_find(gw_handle h);
gw_handle gw_conn_handle(const struct gw_conn *c);
/* a new WebSocket: c->user/team/exp set by auth */
int gw_conn_established(struct gw_conn *c);
void gw_conn_closed(struct gw_conn *c);
/* a pong (or any control frame) arrived: the peer is alive */
void gw_conn_pong(struct gw_conn *c);
int gw_conn_receive(struct gw_conn *c, const void *in, size_t len);
/* the client's close frame: 0 to let lws echo it, -1 when it was invalid
 * (answered 1002 or 1007 and closed) */
int gw_conn_peer_close(struct gw_conn *c, const void *in, size_t len);
int gw_conn_writeable(struct gw_conn *c);
/* send text (copied); PL_ECLOSED when the connection is closing */
int gw_conn_send(struct gw_conn *c, const char *text, size_t len);
/* send a shared frame */
int gw_conn_send_blob(struct gw_conn *c, struct gw_blob *b);
/* send a channel event with seq (0: none) of ch (NULL: not tracked): a seq
 * at or below the highest already written on c for ch is dropped
 * (PL_EEXIST), so an event is never written twice or backwards */
int gw_conn_send_seq(struct gw_conn *c, struct gw_blob *b, struct gw_chan *ch,
    int64_t seq);
/* close with a WebSocket code and reason (after queued frames are written) */
void gw_conn_close(struct gw_conn *c, int code, const char *reason);
/* drain: goodbye + 1001 to every connection */
void gw_conn_drain_all(void);
size_t gw_conn_count(void);
void gw_conn_each_ws(void (*fn)(struct gw_conn *c, void *arg), void *arg);
/* boot finished (rv 0) or failed */
void gw_conn_booted(struct gw_conn *c, int rv, const Parley__Reply *reply);

#endif
