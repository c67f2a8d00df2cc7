/* conn.c - WebSocket connections: handles, lifecycle, the write path and the
 * one sweep.
 *
 * Writes: a frame is built once per event (blob.c) and written with one
 * send() on the socket while the connection's queue is empty and lws holds
 * no unsent tail (DESIGN.md §4: that is what reaches the raw-epoll floor);
 * only otherwise is it queued and the writable callback asked for. What a
 * send() does not take is handed to lws (LWS_WRITE_RAW), which keeps it and
 * flushes it first on the next POLLOUT, before any control frame of its own
 * (pong, close) and before our writable callback: so frames never
 * interleave. The queue is bounded (frames and bytes): overflowing it
 * closes the connection with 4008, and the client resumes.
 *
 * There are no per-connection timers: one sweep checks token expiry
 * (4004), idle time, server pings and dead peers (ping after ws-ping-s of
 * silence, hang up after ws-pong-timeout-s more), and spreads presence
 * heartbeats. It visits every connection once a second, a slice of them
 * every GW_SWEEP_SLICE_MS, so that no single tick stalls the loop (at
 * 19,000 connections one pass took ~3 ms and sent ~630 heartbeats at once;
 * presence-svc's burst then delayed pings by up to 20 ms). Not lws's
 * validity policy: lws 4.1 keeps its timers in one sorted linked list per
 * thread and re-inserts a connection's validity timer on every frame it
 * receives; the new deadline is the latest, so each insert walks every
 * connection (perf at 10,000 idle pinging connections: 57% of the gateway
 * in lws_dll2_add_sorted). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <libwebsockets.h>

#include "buf.h"
#include "clock.h"
#include "err.h"
#include "gw.h"
#include "gw_active.h"
#include "gw_auth.h"
#include "gw_blob.h"
#include "gw_cache.h"
#include "gw_conn.h"
#include "gw_http.h"
#include "gw_limits.h"
#include "gw_metrics.h"
#include "gw_sendq.h"
#include "gw_services.h"
#include "gw_ticket.h"
#include "ids.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "tbucket.h"
#include "utf8.h"

#define GW_SWEEP_MS 1000		/* each connection once per this */
#define GW_SWEEP_SLICE_MS 10		/* a slice of them every this */
/* lws's private LWS_WRITE_CLOSE (lws-write.h keeps it for lws_close_reason) */
#define GW_LWS_WRITE_CLOSE ((enum lws_write_protocol)4)
#define GW_CLOSE_BACKSTOP_S 10

struct gw_rx {
	size_t len, cap;
	char data[];
};

static struct {
	struct gw_conn **v;	/* slot -> connection (NULL: free) */
	uint32_t *gen;
	uint32_t *free;		/* free slots */
	uint32_t n, nfree;		/* slots are 32 bits of a handle */
	size_t cap;
	size_t ws;		/* WebSocket connections */
	struct pl_timer *sweep;
	uint32_t slice;		/* of the sweep's pass */
	uint32_t cursor;	/* the next slot it visits */
	uint64_t tick;		/* completed passes */
} gw_conns;

/* the front-end above: frames, the resume hold (gw_conn_set_ops) */
static struct gw_conn_ops gw_conn_up;

/* gw_conn_set_ops - the front-end's hooks (rtm.c, at its init) */
void
gw_conn_set_ops(const struct gw_conn_ops *ops)
{
	gw_conn_up = *ops;
}

/* gw_conn_register - give c a slot; its handle stays valid until unregister */
gw_handle
gw_conn_register(struct gw_conn *c)
{
	uint32_t s;

	if (gw_conns.nfree > 0) {
		s = gw_conns.free[--gw_conns.nfree];
	} else {
		if (gw_conns.n == UINT32_MAX)
			pl_panic("GW-CONN-SLOTS", "n=%u", gw_conns.n);	/* a slot is 32 bits of a handle */
		if (gw_conns.n == gw_conns.cap) {
			gw_conns.v = pl_grow(gw_conns.v, &gw_conns.cap, (size_t)gw_conns.n + 1,
			    1024, sizeof(*gw_conns.v));
			gw_conns.gen = pl_realloc(gw_conns.gen, pl_size_mul(gw_conns.cap, sizeof(uint32_t)));
			gw_conns.free = pl_realloc(gw_conns.free, pl_size_mul(gw_conns.cap, sizeof(uint32_t)));
		}
		s = gw_conns.n++;
		gw_conns.gen[s] = 0;
	}
	gw_conns.v[s] = c;
	c->slot = s;
	c->gen = ++gw_conns.gen[s];
	return gw_conn_handle(c);
}

/* gw_conn_unregister - free c's slot: its handles no longer find it */
void
gw_conn_unregister(struct gw_conn *c)
{
	if (c->gen == 0 || c->slot >= gw_conns.n || gw_conns.v[c->slot] != c)
		return;
	gw_conns.v[c->slot] = NULL;
	gw_conns.free[gw_conns.nfree++] = c->slot;
	c->gen = 0;
}

/* gw_conn_handle - the handle of a registered connection */
gw_handle
gw_conn_handle(const struct gw_conn *c)
{
	return ((uint64_t)c->slot << 32) | c->gen;
}

/* gw_conn_find - the connection of h, or NULL if it has gone */
struct gw_conn *
gw_conn_find(gw_handle h)
{
	uint32_t s = (uint32_t)(h >> 32), g = (uint32_t)h;

	if (s >= gw_conns.n || gw_conns.v[s] == NULL || gw_conns.gen[s] != g)
		return NULL;
	return gw_conns.v[s];
}

/* gw_conn_count - open WebSocket connections */
size_t
gw_conn_count(void)
{
	return gw_conns.ws;
}

/* gw_conn_each_ws - call fn for every WebSocket connection */
void
gw_conn_each_ws(void (*fn)(struct gw_conn *c, void *arg), void *arg)
{
	uint32_t i;

	for (i = 0; i < gw_conns.n; i++)
		if (gw_conns.v[i] != NULL && gw_conns.v[i]->ws)
			fn(gw_conns.v[i], arg);
}

/* gw_conn_write - write b's frame now: one send() on the socket; the part
 * it did not take goes to lws (which sends it before anything else on this
 * connection). 0, or -1 when the socket failed. Only while lws holds no
 * unsent tail: that one would have to go first. */
static int
gw_conn_write(struct gw_conn *c, struct gw_blob *b)
{
	ssize_t n = send(c->fd, b->frame, b->frame_len, MSG_NOSIGNAL | MSG_DONTWAIT);
	size_t left;

	if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
		pl_log_debug("GW-CONN-WRITE-FAIL", "conn=%s len=%u err=%s", c->session,
		    b->frame_len, strerror(errno));
		return -1;
	}
	left = b->frame_len - (n > 0 ? (size_t)n : 0);
	if (left > 0 && lws_write(c->wsi, b->frame + (b->frame_len - left), left,
	    LWS_WRITE_RAW) < (int)left) {
		pl_log_debug("GW-CONN-WRITE-FAIL", "conn=%s len=%u left=%zu",
		    c->session, b->frame_len, left);
		return -1;
	}
	pl_metrics_inc(gw_m.frames_out);
	pl_metrics_add(gw_m.bytes_out, b->len);
	return 0;
}

/* gw_conn_send_blob - write b now if the socket takes it, else queue it */
int
gw_conn_send_blob(struct gw_conn *c, struct gw_blob *b)
{
	if (!c->ws || c->state == GW_CONN_CLOSING || c->close_pending)
		return PL_ECLOSED;
	/*
	 * Not lws_send_pipe_choked() here: in lws 4.1 it is a poll() system
	 * call per call, i.e. one more syscall per recipient of a fan-out
	 * (docs/gateway.md). lws_partial_buffered() is the flag half of
	 * it (a frame tail is still in lws's buffer). A socket whose kernel
	 * buffer is full is then found by the send itself: lws is handed
	 * what send() did not take (at most this one frame) and asks for
	 * POLLOUT, and every later frame sees the flag and is queued here.
	 */
	if ((c->q == NULL || c->q->n == 0) && !lws_partial_buffered(c->wsi))
		return gw_conn_write(c, b) == 0 ? 0 : PL_EIO;
	if (c->q == NULL)
		c->q = gw_sendq_create((uint32_t)gw_conf.max_sendq_frames,
		    (size_t)gw_conf.max_sendq_bytes);
	if (gw_sendq_push(c->q, b) != 0) {
		pl_metrics_inc(gw_m.sendq_closes);
		pl_log_info("GW-CONN-SLOW", "conn=%s user=%s frames=%u bytes=%zu",
		    c->session, c->user, c->q->n, c->q->bytes);
		gw_sendq_free(&c->q);
		gw_conn_close(c, 4008, "send queue full: resume");
		return PL_ETOOBIG;
	}
	lws_callback_on_writable(c->wsi);
	return 0;
}

/* gw_conn_send_seq - send a channel event unless its seq was written */
int
gw_conn_send_seq(struct gw_conn *c, struct gw_blob *b, struct gw_chan *ch,
    int64_t seq)
{
	struct gw_seen *s = seq > 0 ? gw_cache_seen(c, ch) : NULL;

	if (s != NULL) {
		if (seq <= s->hi) {
			pl_metrics_inc(gw_m.dups_dropped);
			return PL_EEXIST;
		}
		s->hi = seq;
		if (s->lo == 0)
			s->lo = seq;
	}
	return gw_conn_send_blob(c, b);
}

/* gw_conn_send - send text (copied into a blob of its own) */
int
gw_conn_send(struct gw_conn *c, const char *text, size_t len)
{
	struct gw_blob *b = gw_blob_create(text, len);
	int rv = gw_conn_send_blob(c, b);

	gw_blob_unref(&b);
	return rv;
}

/* gw_conn_close - close with code after what is queued; backstop timeout */
void
gw_conn_close(struct gw_conn *c, int code, const char *reason)
{
	if (c->close_pending)
		return;
	c->close_pending = 1;
	c->close_code = (uint16_t)code;
	pl_log_debug("GW-CONN-CLOSING", "conn=%s code=%d reason=\"%s\"", c->session,
	    code, reason);
	lws_rx_flow_control(c->wsi, 1);
	lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, GW_CLOSE_BACKSTOP_S);
	lws_callback_on_writable(c->wsi);
}

/* gw_conn_close_reason - the text of our close codes */
static const char *
gw_conn_close_text(int code)
{
	switch (code) {
	case 1001: return "going away";
	case 1002: return "protocol error";
	case 1003: return "text frames only";
	case 1007: return "invalid UTF-8";
	case 1009: return "frame too big";
	case 1011: return "service unavailable";
	case 4001: return "invalid_auth";
	case 4009: return "idle timeout";
	case 4004: return "token_expired";
	case 4008: return "slow consumer: resume";
	default: return "";
	}
}

/* gw_conn_close_now - write the close frame ourselves and hang up: lws
 * 4.1 marks a socket unusable when a callback returns -1 from the writable
 * (or receive) path, so a reason set with lws_close_reason would never be
 * sent. Returns -1 for the callback to return. */
static int
gw_conn_close_now(struct gw_conn *c, int code)
{
	unsigned char buf[LWS_PRE + 125];
	const char *text = gw_conn_close_text(code);
	size_t n = strlen(text);

	if (n > 120)
		n = 120;
	buf[LWS_PRE] = (unsigned char)(code >> 8);
	buf[LWS_PRE + 1] = (unsigned char)(code & 0xff);
	memcpy(buf + LWS_PRE + 2, text, n);
	if (!lws_send_pipe_choked(c->wsi))
		lws_write(c->wsi, buf + LWS_PRE, n + 2, GW_LWS_WRITE_CLOSE);
	return -1;
}

/* gw_conn_peer_close - the client's close frame (RFC 6455 5.5.1, 7.4): lws
 * 4.1.6 refuses codes below 3000 that may not be sent, but echoes 5000 and
 * up and a 1-byte body (as 1005), so the gateway checks first. A body of one byte,
 * or a code that may not be sent (below 1000, 1004-1006, 1015-2999, 5000
 * and up) is answered 1002, a reason that is not UTF-8 1007, and the socket
 * is closed (pl_utf8_valid: a NUL in a reason counts as invalid too); 0
 * lets lws echo a valid close. */
int
gw_conn_peer_close(struct gw_conn *c, const void *in, size_t len)
{
	const unsigned char *p = in;
	unsigned code;

	if (c == NULL || len == 0)
		return 0;
	if (len == 1)
		return gw_conn_close_now(c, 1002);
	code = (unsigned)p[0] << 8 | p[1];
	if (code < 1000 || (code >= 1004 && code <= 1006) ||
	    (code >= 1015 && code < 3000) || code >= 5000)
		return gw_conn_close_now(c, 1002);
	if (!pl_utf8_valid((const char *)p + 2, len - 2))
		return gw_conn_close_now(c, 1007);
	return 0;
}

/* gw_conn_writeable - write queued frames while the socket takes them */
int
gw_conn_writeable(struct gw_conn *c)
{
	struct gw_blob *b;

	while (c->q != NULL && c->q->n > 0 && !lws_send_pipe_choked(c->wsi)) {
		b = gw_sendq_pop(c->q);
		if (gw_conn_write(c, b) != 0) {
			gw_blob_unref(&b);
			return -1;
		}
		gw_blob_unref(&b);
	}
	if (c->q != NULL && c->q->n > 0) {
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	gw_sendq_free(&c->q);
	if (c->close_pending && lws_send_pipe_choked(c->wsi)) {
		/* lws still holds the tail of a partly sent frame: the close
		 * frame must wait until it is flushed, or it is never written
		 * and the client sees no code (the backstop timeout bounds it) */
		lws_callback_on_writable(c->wsi);
		return 0;
	}
	if (c->close_pending && c->close_code == 0)
		return -1;	/* a dead peer: hang up */
	if (c->close_pending) {
		pl_log_debug("GW-CONN-CLOSE", "conn=%s code=%d", c->session, c->close_code);
		return gw_conn_close_now(c, c->close_code);
	}
	return 0;
}

/* gw_conn_hello - the first frame of a booted session */
static void
gw_conn_hello(struct gw_conn *c)
{
	struct pl_buf b;

	size_t i;
	int n = 0;

	pl_buf_init(&b);
	pl_buf_printf(&b, "{\"type\":\"hello\",\"session\":\"%s\",\"heartbeat_ms\":%lld",
	    c->session, (long long)gw_conf.heartbeat_ms);
	/* Parley: each channel's recent-history epoch, for resume */
	for (i = 0; i < c->nchans; i++) {
		if (c->chans[i]->epoch == 0)
			continue;
		pl_buf_puts(&b, n++ ? "," : ",\"epochs\":{");
		pl_buf_json_str(&b, c->chans[i]->id);
		pl_buf_printf(&b, ":%u", c->chans[i]->epoch);
	}
	pl_buf_puts(&b, n ? "}}" : "}");
	gw_conn_send(c, b.data, b.len);
	pl_buf_fini(&b);
}

/* gw_conn_booted - session.boot answered: fill the edge cache, say hello */
void
gw_conn_booted(struct gw_conn *c, int rv, const Parley__Reply *reply)
{
	if (rv != 0 || reply == NULL) {
		pl_log_warn("GW-CONN-BOOT", "conn=%s user=%s err=%s", c->session,
		    c->user, pl_err_str(rv));
		gw_conn_close(c, 1011, "service unavailable");
		return;
	}
	if (!reply->ok || reply->boot == NULL || gw_active_deleted(c->user)) {
		pl_log_info("GW-CONN-BOOT-REFUSED", "conn=%s user=%s error=%s",
		    c->session, c->user, reply->error ? reply->error : "");
		/* a deactivated user: 4004, as for its sockets already live */
		if (gw_active_deleted(c->user) || (reply->error &&
		    strcmp(reply->error, "account_inactive") == 0))
			gw_conn_close(c, 4004, "account_inactive");
		else
			gw_conn_close(c, 4001, "invalid_auth");
		return;
	}
	gw_cache_attach(c, reply->boot);
	if (c->resume_opt && gw_conn_up.hold != NULL)
		gw_conn_up.hold(c);	/* before any event can reach c */
	c->state = GW_CONN_LIVE;
	gw_conn_hello(c);
	lws_rx_flow_control(c->wsi, 1);
	gw_services_presence(c, "connect", NULL);
	pl_log_debug("GW-CONN-LIVE", "conn=%s user=%s channels=%zu", c->session,
	    c->user, c->nchans);
}

/* gw_conn_boot_done - message-svc answered session.boot */
static void
gw_conn_boot_done(int rv, Parley__Reply *reply, void *arg)
{
	struct gw_conn *c = gw_conn_find((gw_handle)(uintptr_t)arg);

	if (c != NULL && c->state == GW_CONN_BOOTING)
		gw_conn_booted(c, rv, reply);
}

/* gw_conn_boot - ask message-svc for the session's boot payload */
static void
gw_conn_boot(struct gw_conn *c)
{
	Parley__Request req;
	Parley__Caller caller;
	int rv;

	pl_request_init(&req, "session.boot");
	gw_request_caller(&req, &caller, c->user, c->team, 0, c->session);
	req.source = "rtm";
	rv = pl_message_clnt_call(gw.msg, -1, &req, gw_conn_boot_done,
	    (void *)(uintptr_t)gw_conn_handle(c));
	req.caller = NULL;
	req.source = NULL;
	pl_request_fini(&req);
	if (rv != 0)
		gw_conn_booted(c, rv, NULL);
}

/* gw_conn_ticket_done - the ticket's single use was (or was not) ours */
static void
gw_conn_ticket_done(int rv, void *arg)
{
	struct gw_conn *c = gw_conn_find((gw_handle)(uintptr_t)arg);

	if (c == NULL || c->state != GW_CONN_BOOTING)
		return;
	if (rv != 0) {
		pl_log_info("GW-CONN-TICKET", "conn=%s user=%s err=%s", c->session,
		    c->user, pl_err_str(rv));
		gw_conn_close(c, 4001, "invalid_auth");
		return;
	}
	gw_conn_boot(c);
}

/* gw_conn_established - a new WebSocket: authenticate (again: the headers
 * are still there), register, pause reading, then ticket and boot */
int
gw_conn_established(struct gw_conn *c)
{
	struct gw_auth a;
	char *resume;
	int ticket, rv;

	if ((rv = gw_auth_ws(c->wsi, &a, &ticket)) != 0)
		return -1;
	resume = gw_http_arg(c->wsi, "resume");
	c->resume_opt = resume != NULL && strcmp(resume, "1") == 0;
	free(resume);
	c->ws = 1;
	c->fd = lws_get_socket_fd(c->wsi);
	c->state = GW_CONN_BOOTING;
	c->ticket = (uint8_t)ticket;
	memcpy(c->user, a.user, sizeof(c->user));
	memcpy(c->team, a.team, sizeof(c->team));
	gw_limits_user_add(c);
	c->exp_s = a.exp_s;	/* a ticket carries its token's */
	c->last_rx_s = (uint32_t)(pl_clock_mono_ms() / 1000);
	c->last_seen_s = c->last_rx_s;
	pl_id_new('S', c->session);
	pl_tbucket_init(&c->rate, (double)gw_conf.rate_msg_per_s,
	    (double)gw_conf.rate_msg_burst, pl_clock_mono_us());
	gw_conn_register(c);
	gw_conns.ws++;
	pl_metrics_set(gw_m.conns, (double)gw_conns.ws);
	pl_metrics_inc(gw_m.connects);
	lws_rx_flow_control(c->wsi, 0);
	if (!ticket) {
		gw_conn_boot(c);
		return 0;
	}
	if (gw_ticket_consume(a.jti, gw_conn_ticket_done,
	    (void *)(uintptr_t)gw_conn_handle(c)) != 0)
		gw_conn_close(c, 1011, "service unavailable");
	return 0;
}

/* gw_conn_reason - a disconnect reason label from the close code */
static const char *
gw_conn_reason(const struct gw_conn *c)
{
	if (!c->close_pending)
		return "peer";
	switch (c->close_code) {
	case 0: return "dead_peer";
	case 1001: return "drain";
	case 1009: return "frame_too_big";
	case 4001: return "auth";
	case 4004: return "token_expired";
	case 4008: return "slow_consumer";
	case 4009: return "idle";
	case 1011: return "unavailable";
	default: return "server";
	}
}

/* gw_conn_closed - the socket is gone: undo everything established did */
void
gw_conn_closed(struct gw_conn *c)
{
	if (!c->ws)
		return;
	gw_metrics_disconnect(gw_conn_reason(c));
	gw_limits_user_del(c);
	if (c->state == GW_CONN_LIVE)
		gw_services_presence(c, "disconnect", NULL);
	gw_cache_detach(c);
	if (gw_conn_up.closed != NULL)
		gw_conn_up.closed(c);
	gw_sendq_free(&c->q);
	free(c->rx);
	c->rx = NULL;
	free(c->psubs);
	c->psubs = NULL;
	free(c->jti);
	c->jti = NULL;
	gw_conn_unregister(c);
	c->ws = 0;
	c->state = GW_CONN_CLOSING;
	gw_conns.ws--;
	pl_metrics_set(gw_m.conns, (double)gw_conns.ws);
	pl_log_debug("GW-CONN-CLOSED", "conn=%s user=%s", c->session, c->user);
	if (gw.draining && gw_conns.ws == 0 && gw.drained != NULL)
		gw.drained();
}

/* gw_conn_too_big - close 1009 now (in the callback of this wsi) */
static int
gw_conn_too_big(struct gw_conn *c)
{
	c->close_pending = 1;
	c->close_code = 1009;
	return gw_conn_close_now(c, 1009);
}

/* gw_conn_frame - hand a complete client text frame to the front-end */
static int
gw_conn_frame(struct gw_conn *c, const char *text, size_t len)
{
	return gw_conn_up.frame != NULL ? gw_conn_up.frame(c, text, len) : 0;
}

/* gw_conn_receive - assemble a message from fragments, bounded, then hand
 * it to rtm.c; a message that arrives whole is used in place */
int
gw_conn_receive(struct gw_conn *c, const void *in, size_t len)
{
	size_t need;
	int rv;

	c->last_rx_s = (uint32_t)(pl_clock_mono_ms() / 1000);
	c->last_seen_s = c->last_rx_s;
	c->pinged = 0;
	pl_metrics_add(gw_m.bytes_in, len);
	if (c->close_pending)
		return 0;
	if (lws_frame_is_binary(c->wsi))
		return gw_conn_close_now(c, 1003);
	if (c->rx == NULL && lws_is_first_fragment(c->wsi) &&
	    lws_is_final_fragment(c->wsi) && lws_remaining_packet_payload(c->wsi) == 0) {
		if (len > (size_t)gw_conf.max_frame)
			return gw_conn_too_big(c);
		pl_metrics_inc(gw_m.frames_in);
		return gw_conn_frame(c, in, len) < 0 ? -1 : 0;
	}
	need = (c->rx ? c->rx->len : 0) + len;
	if (need + lws_remaining_packet_payload(c->wsi) > (size_t)gw_conf.max_frame)
		return gw_conn_too_big(c);
	if (c->rx == NULL || c->rx->cap < need) {
		/* geometric: a small rx buffer delivers a frame in many pieces */
		size_t cap = c->rx ? c->rx->cap * 2 : 1024;

		while (cap < need)
			cap *= 2;
		if (cap > (size_t)gw_conf.max_frame)
			cap = (size_t)gw_conf.max_frame;
		c->rx = pl_realloc(c->rx, sizeof(*c->rx) + cap + 1);
		if (need == len)
			c->rx->len = 0;
		c->rx->cap = cap;
	}
	memcpy(c->rx->data + c->rx->len, in, len);
	c->rx->len += len;
	if (!lws_is_final_fragment(c->wsi) || lws_remaining_packet_payload(c->wsi) > 0)
		return 0;
	pl_metrics_inc(gw_m.frames_in);
	rv = gw_conn_frame(c, c->rx->data, c->rx->len);
	free(c->rx);
	c->rx = NULL;
	return rv < 0 ? -1 : 0;
}

/* gw_conn_drain_one - goodbye and 1001 */
static void
gw_conn_drain_one(struct gw_conn *c, void *arg)
{
	static const char bye[] = "{\"type\":\"goodbye\"}";

	(void)arg;
	gw_conn_send(c, bye, sizeof(bye) - 1);
	gw_conn_close(c, 1001, "going away");
}

/* gw_conn_drain_all - tell every client to reconnect elsewhere */
void
gw_conn_drain_all(void)
{
	gw_conn_each_ws(gw_conn_drain_one, NULL);
}

/* gw_conn_pong - the peer answered a ping (or sent a control frame) */
void
gw_conn_pong(struct gw_conn *c)
{
	c->last_seen_s = (uint32_t)(pl_clock_mono_ms() / 1000);
	c->pinged = 0;
}

/* gw_conn_ping - a WebSocket ping after ws-ping-s of silence; the peer is
 * dead (hang up, no close frame) after ws-pong-timeout-s more. 1 if c was
 * hung up. */
static int
gw_conn_ping(struct gw_conn *c, uint32_t now_s)
{
	unsigned char buf[LWS_PRE + 4];
	uint32_t quiet = now_s - c->last_seen_s;

	if (quiet >= (uint32_t)(gw_conf.ping_s + gw_conf.pong_timeout_s)) {
		pl_log_debug("GW-CONN-DEAD", "conn=%s quiet_s=%u", c->session, quiet);
		c->close_pending = 1;
		c->close_code = 0;
		lws_set_timeout(c->wsi, PENDING_TIMEOUT_USER_OK, LWS_TO_KILL_ASYNC);
		return 1;
	}
	if (quiet < (uint32_t)gw_conf.ping_s || c->pinged ||
	    (c->q != NULL && c->q->n > 0) || lws_send_pipe_choked(c->wsi))
		return 0;
	/* a payload: lws 4.1 does not pass an empty pong to the callback */
	c->pinged = 1;
	buf[LWS_PRE] = 'p';
	lws_write(c->wsi, buf + LWS_PRE, 1, LWS_WRITE_PING);
	return 0;
}

/* gw_conn_sweep_one - expiry, idle and heartbeat of one connection */
static void
gw_conn_sweep_one(struct gw_conn *c, uint64_t now_wall_s, uint32_t now_s)
{
	uint64_t beat_ticks = (uint64_t)(gw_conf.heartbeat_ms / GW_SWEEP_MS);

	if (c->close_pending)
		return;
	if (c->exp_s > 0 && (uint64_t)c->exp_s <= now_wall_s) {
		gw_conn_close(c, 4004, "token_expired");
		return;
	}
	if (now_s - c->last_rx_s >= (uint32_t)gw_conf.idle_s) {
		gw_conn_close(c, 4009, "idle");
		return;
	}
	if (gw_conn_ping(c, now_s))
		return;
	if (c->resume != NULL && gw_conn_up.sweep != NULL)
		gw_conn_up.sweep(c, now_s);
	if (c->state == GW_CONN_LIVE && beat_ticks > 0 &&
	    (c->slot + gw_conns.tick) % beat_ticks == 0)
		gw_services_presence(c, "heartbeat", NULL);
}

/* gw_conn_sweep - the one timer of all connections: slice k of a pass
 * visits the slots up to (k + 1) / slices of the table, so a pass takes
 * GW_SWEEP_MS whatever the count (a slot taken or freed meanwhile is
 * visited in its turn, or not in this pass) */
static void
gw_conn_sweep(void *arg)
{
	uint64_t now_wall_s = pl_clock_wall_ms() / 1000;
	uint32_t now_s = (uint32_t)(pl_clock_mono_ms() / 1000);
	uint32_t slices = GW_SWEEP_MS / GW_SWEEP_SLICE_MS;
	uint32_t end = (uint32_t)((uint64_t)gw_conns.n * (gw_conns.slice + 1) / slices);
	struct gw_conn *c;

	(void)arg;
	for (; gw_conns.cursor < end; gw_conns.cursor++) {
		c = gw_conns.v[gw_conns.cursor];
		if (c != NULL && c->ws)
			gw_conn_sweep_one(c, now_wall_s, now_s);
	}
	if (++gw_conns.slice == slices) {
		gw_conns.slice = 0;
		gw_conns.cursor = 0;
		gw_conns.tick++;
	}
}

/* gw_conn_init - start the sweep */
int
gw_conn_init(void)
{
	return pl_loop_timer(gw.loop, GW_SWEEP_SLICE_MS, 1, gw_conn_sweep, NULL,
	    &gw_conns.sweep);
}

/* gw_conn_fini - stop the sweep and free the tables */
void
gw_conn_fini(void)
{
	pl_loop_timer_stop(&gw_conns.sweep);
	free(gw_conns.v);
	free(gw_conns.gen);
	free(gw_conns.free);
	memset(&gw_conns, 0, sizeof(gw_conns));
}
