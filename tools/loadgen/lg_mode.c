/*
 * lg_mode.c - the three protocols the load generator speaks, and the one
 * JSON event handler they share.
 *
 * parley and floor speak RTM JSON in text frames; socketio wraps the same
 * JSON objects in Engine.IO/Socket.IO packets (the bench server emits
 * Parley-shaped objects), so after unwrapping every mode ends in
 * lg_mode_on_json(). Message texts are "<round>.<send time ns>": the
 * latency of a delivery is now minus that time (one CLOCK_MONOTONIC for
 * every process of the machine).
 */
#include "hash.h"
#include "loadgen.h"
#include "lg_eio.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- JSON peeks (flat objects, keys in any order) ---- */

/* lg_js_find - pointer after "key": */
static const char *
lg_js_find(const char *js, size_t n, const char *key)
{
	char pat[40];
	size_t kl = strlen(key);
	const char *p;

	pat[0] = '"';
	memcpy(pat + 1, key, kl);
	pat[kl + 1] = '"';
	pat[kl + 2] = ':';
	p = memmem(js, n, pat, kl + 3);
	return p ? p + kl + 3 : NULL;
}

/* lg_js_str - raw string value of key; 0 or -1 */
static int
lg_js_str(const char *js, size_t n, const char *key, const char **v, size_t *vl)
{
	const char *p = lg_js_find(js, n, key), *end = js + n;

	if (p == NULL || p >= end || *p != '"')
		return -1;
	*v = ++p;
	while (p < end && *p != '"')
		p += *p == '\\' ? 2 : 1;
	if (p >= end)
		return -1;
	*vl = (size_t)(p - *v);
	return 0;
}

/* lg_js_u64 - unsigned integer value of key; -1 if absent */
static long long
lg_js_int(const char *js, size_t n, const char *key)
{
	const char *p = lg_js_find(js, n, key), *end = js + n;
	long long v = 0;

	if (p == NULL || p >= end || *p < '0' || *p > '9')
		return -1;
	while (p < end && *p >= '0' && *p <= '9')
		v = v * 10 + (*p++ - '0');
	return v;
}

/* ---- channel names -> indexes ---- */

static uint32_t *lg_mode_tab, lg_mode_tab_mask;

/* lg_mode_tab_build - open addressing, slots hold index + 1 */
static void
lg_mode_tab_build(struct lg_worker *w)
{
	uint32_t size = 16;

	while (size < 2 * w->nchan)
		size *= 2;
	lg_mode_tab = calloc(size, sizeof(*lg_mode_tab));
	if (lg_mode_tab == NULL)
		abort();
	lg_mode_tab_mask = size - 1;
	for (uint32_t i = 0; i < w->nchan; i++) {
		const char *nm = w->chans[i].name;
		uint32_t h = pl_hash_fnv1a(nm, strlen(nm)) & lg_mode_tab_mask;

		while (lg_mode_tab[h])
			h = (h + 1) & lg_mode_tab_mask;
		lg_mode_tab[h] = i + 1;
	}
}

/* lg_mode_chan_index - index of the channel called name, -1 if unknown */
int
lg_mode_chan_index(struct lg_worker *w, const char *name, size_t len)
{
	uint32_t h;

	if (lg_mode_tab == NULL)
		lg_mode_tab_build(w);
	h = pl_hash_fnv1a(name, len) & lg_mode_tab_mask;
	for (; lg_mode_tab[h]; h = (h + 1) & lg_mode_tab_mask) {
		const char *nm = w->chans[lg_mode_tab[h] - 1].name;

		if (strlen(nm) == len && memcmp(nm, name, len) == 0)
			return (int)lg_mode_tab[h] - 1;
	}
	return -1;
}

/* ---- events ---- */

/* lg_mode_warm_got - a warm-up reached local: once per channel counts */
static void
lg_mode_warm_got(struct lg_worker *w, uint32_t local, int kind)
{
	const struct lg_ledger *l = &w->ledger;
	uint32_t nch = l->first[local + 1] - l->first[local];

	w->st.warm_delivered++;
	if (kind != LG_LEDGER_OK && kind != LG_LEDGER_GAP)
		return;                         /* a duplicate or a stranger */
	if (w->warm_got[local] < 255 && ++w->warm_got[local] == nch)
		w->warm_done++;
}

/* lg_mode_delivery - a message event: ledger, latency, broadcast round */
static int
lg_mode_delivery(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	const char *chn, *text;
	size_t cl, tl;
	long long seq = lg_js_int(js, n, "seq");
	unsigned long long round, t;
	int idx, kind;
	uint64_t lat;

	if (seq < 0 || lg_js_str(js, n, "channel", &chn, &cl) < 0)
		return 0;                       /* not a sequenced message event */
	idx = lg_mode_chan_index(w, chn, cl);
	kind = lg_ledger_check(&w->ledger, local, idx < 0 ? UINT32_MAX : (uint32_t)idx,
	    (uint32_t)seq);
	if (lg_js_str(js, n, "text", &text, &tl) == 0 && tl > 2 && text[0] == 'w' &&
	    text[1] == '.') {
		lg_mode_warm_got(w, local, kind);
		return 0;
	}
	w->st.delivered++;
	if (w->phase == 1 && w->t_now >= w->t_go)
		w->st.delivered_run++;
	if (lg_js_str(js, n, "text", &text, &tl) < 0 ||
	    sscanf(text, "%llu.%llu", &round, &t) != 2 || t > w->t_now)
		return 0;
	lat = w->t_now - t;
	if (w->phase == 1 && w->t_now >= w->t_go)
		lg_hist_add(w->slow_phase ? &w->st.lat_slowphase : &w->st.lat, lat);
	if (round > 0 && round < LG_MAX_ROUNDS) {
		w->st.bc_n[round]++;
		if (lat > w->st.bc_max[round])
			w->st.bc_max[round] = lat;
	}
	return 0;
}

/* lg_mode_count_nack - n more answers with error code[0..len); the rest go to "other" */
void
lg_mode_count_nack(struct lg_stats *st, const char *code, size_t len, uint64_t n)
{
	int i;

	if (len >= sizeof(st->nack_code[0]))
		len = sizeof(st->nack_code[0]) - 1;
	for (i = 0; i < LG_NACK_CODES - 1 && st->nack_code[i][0]; i++)
		if (strlen(st->nack_code[i]) == len && memcmp(st->nack_code[i], code, len) == 0)
			break;
	if (!st->nack_code[i][0] || i == LG_NACK_CODES - 1) {
		if (i == LG_NACK_CODES - 1)
			code = "other", len = 5;
		memcpy(st->nack_code[i], code, len);
		st->nack_code[i][len] = '\0';
	}
	st->nack_n[i] += n;
}

/* lg_mode_ack - {"ok":..,"reply_to":N}: expected deliveries of an acked send */
static int
lg_mode_ack(struct lg_worker *w, const char *js, size_t n)
{
	long long id = lg_js_int(js, n, "reply_to");

	if (id < 0)
		return 0;
	if (memmem(js, n, "\"ok\":true", 9) == NULL) {
		const char *code = "?";
		size_t cl = 1;

		if (w->pending[id % LG_PENDING] == LG_WARM_PENDING) {
			w->st.warm_nacked++;
			return 0;
		}
		w->st.nacked++;
		if (lg_js_str(js, n, "code", &code, &cl) < 0 &&
		    lg_js_str(js, n, "error", &code, &cl) < 0) {
			code = "?";
			cl = 1;
		}
		lg_mode_count_nack(&w->st, code, cl, 1);
		return 0;
	}
	id %= LG_PENDING;
	if (w->pending[id] == LG_WARM_PENDING) {
		w->st.warm_acked++;
		return 0;
	}
	w->st.acked++;
	w->st.expected += w->pending[id];
	lg_hist_add(&w->st.ack, w->t_now - w->pending_t[id]);
	return 0;
}

/* lg_mode_pong - the ping id is its send time in microseconds */
static int
lg_mode_pong(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	long long sent = lg_js_int(js, n, "reply_to");
	uint64_t now_us = w->t_now / 1000;

	if (sent >= 0 && (uint64_t)sent <= now_us) {
		lg_hist_add(&w->st.rtt, (now_us - (uint64_t)sent) * 1000);
		w->st.pongs++;
	}
	return 0;
}

/* lg_mode_hello - hello: ready for parley and floor */
static int
lg_mode_hello(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	lg_mode_on_ready(w, local);
	return 0;
}

/* lg_mode_resync - resync_required: the ledger takes the next seq as base */
static int
lg_mode_resync(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	const char *chn;
	size_t cl;
	int idx;

	w->st.resynced++;
	if (lg_js_str(js, n, "channel", &chn, &cl) == 0 &&
	    (idx = lg_mode_chan_index(w, chn, cl)) >= 0)
		lg_ledger_any(&w->ledger, local, (uint32_t)idx);
	return 0;
}

/* lg_mode_resumed - resumed */
static int
lg_mode_resumed(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	w->st.resumed++;
	return 0;
}

/* lg_mode_goodbye - the server is going away: reconnect */
static int
lg_mode_goodbye(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	lg_net_down(w, local, 1);
	return -1;
}

/* lg_mode_error - an error event (rate_limited, ...): counted with its code */
static int
lg_mode_error(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	const char *code;
	size_t cl;

	w->st.server_errors++;
	if (lg_js_str(js, n, "code", &code, &cl) == 0)
		lg_mode_count_nack(&w->st, code, cl, 1);
	return 0;
}

/* lg_mode_message - a message event */
static int
lg_mode_message(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	return lg_mode_delivery(w, local, js, n);
}

static const struct {
	const char *type;
	int (*fn)(struct lg_worker *, uint32_t, const char *, size_t);
} lg_mode_events[] = {
	{ "message", lg_mode_message },
	{ "pong", lg_mode_pong },
	{ "hello", lg_mode_hello },
	{ "resumed", lg_mode_resumed },
	{ "resync_required", lg_mode_resync },
	{ "goodbye", lg_mode_goodbye },
	{ "error", lg_mode_error },
};

/* lg_mode_on_json - dispatch one RTM object by its "type" (acks have none) */
int
lg_mode_on_json(struct lg_worker *w, uint32_t local, const char *js, size_t n)
{
	const char *type;
	size_t tl;

	if (lg_js_str(js, n, "type", &type, &tl) < 0)
		return lg_mode_ack(w, js, n);
	for (size_t i = 0; i < sizeof(lg_mode_events) / sizeof(lg_mode_events[0]); i++)
		if (strlen(lg_mode_events[i].type) == tl &&
		    memcmp(lg_mode_events[i].type, type, tl) == 0)
			return lg_mode_events[i].fn(w, local, js, n);
	return 0;
}

/* ---- sending ---- */

/* lg_mode_request - frame and send one request */
static int
lg_mode_request(struct lg_worker *w, uint32_t local, const char *event,
    const char *body, long long id)
{
	char out[4096];
	int n = w->mode->wrap(out, sizeof(out), event, body, id);

	if (n < 0)
		return -1;
	return lg_net_send_text(w, local, out, (size_t)n);
}

/* lg_mode_send_message - a message to chans[chan], text "<round>.<now ns>" */
int
lg_mode_send_message(struct lg_worker *w, uint32_t local, uint32_t chan, uint32_t round)
{
	char body[256];
	uint32_t id = w->next_id++;
	uint64_t now = lg_now_ns();

	snprintf(body, sizeof(body), "\"channel\":\"%s\",\"text\":\"%u.%llu\"",
	    w->chans[chan].name, round, (unsigned long long)now);
	w->pending[id % LG_PENDING] = w->chans[chan].members;
	w->pending_t[id % LG_PENDING] = now;
	if (lg_mode_request(w, local, "message", body, id) < 0)
		return -1;
	w->st.sent++;
	return 0;
}

/* lg_mode_send_warmup - the warm-up of chans[chan]: text "w.<now ns>", counted apart */
int
lg_mode_send_warmup(struct lg_worker *w, uint32_t local, uint32_t chan)
{
	char body[256];
	uint32_t id = w->next_id++;

	snprintf(body, sizeof(body), "\"channel\":\"%s\",\"text\":\"w.%llu\"",
	    w->chans[chan].name, (unsigned long long)lg_now_ns());
	w->pending[id % LG_PENDING] = LG_WARM_PENDING;
	w->pending_t[id % LG_PENDING] = 0;
	if (lg_mode_request(w, local, "message", body, id) < 0)
		return -1;
	w->st.warm_sent++;
	return 0;
}

/* lg_mode_send_ping - a ping whose id is now in microseconds */
int
lg_mode_send_ping(struct lg_worker *w, uint32_t local)
{
	return lg_mode_request(w, local, "ping", NULL, (long long)(lg_now_ns() / 1000));
}

/* lg_mode_resume - parley: resume with the ledger's last seq per channel */
static void
lg_mode_resume(struct lg_worker *w, uint32_t local)
{
	char body[3800];
	size_t off = (size_t)snprintf(body, sizeof(body), "\"last_seq\":{");
	const struct lg_ledger *l = &w->ledger;

	for (uint32_t i = l->first[local]; i < l->first[local + 1]; i++) {
		uint32_t last = lg_ledger_last(l, local, l->slots[i].chan);

		if (last == 0 || off + 64 > sizeof(body))
			continue;
		off += (size_t)snprintf(body + off, sizeof(body) - off, "%s\"%s\":%u",
		    body[off - 1] == '{' ? "" : ",", w->chans[l->slots[i].chan].name, last);
	}
	snprintf(body + off, sizeof(body) - off, "}");
	lg_mode_request(w, local, "resume", body, w->next_id++);
}

/* lg_mode_forget - no resume in this mode: the client reloads (a resync) */
static void
lg_mode_forget(struct lg_worker *w, uint32_t local)
{
	const struct lg_ledger *l = &w->ledger;

	for (uint32_t i = l->first[local]; i < l->first[local + 1]; i++)
		lg_ledger_any(&w->ledger, local, l->slots[i].chan);
	w->st.resynced++;
}

/* lg_mode_on_ready - the connection is usable; after a reconnect, resume */
void
lg_mode_on_ready(struct lg_worker *w, uint32_t local)
{
	struct lg_conn *c = &w->conns[local];
	int again = c->resumed;

	if (c->state != LG_C_OPEN)
		return;
	c->state = LG_C_READY;
	c->resumed = 1;
	c->attempts = 0;
	w->handshaking--;
	w->ready++;
	w->st.ready++;
	if (!again)
		return;
	w->st.reconnects++;
	lg_hist_add(&w->st.recon, (uint64_t)((w->t_now - w->t_base) / 1000000ull -
	    c->t_down_ms) * 1000000ull);
	if (w->t_now > w->t_go && (w->t_now - w->t_go) / 100000000ull < LG_SERIES)
		w->st.recon_series[(w->t_now - w->t_go) / 100000000ull]++;
	if (w->t_now > w->st.recon_done_max)
		w->st.recon_done_max = w->t_now;
	if (strcmp(w->mode->name, "parley") == 0)
		lg_mode_resume(w, local);
	else
		lg_mode_forget(w, local);
}

/* ---- the modes ---- */

/* lg_mode_chanlist - "c1,c2" of this user's channels */
static int
lg_mode_chanlist(struct lg_worker *w, uint32_t local, char *out, size_t cap)
{
	const struct lg_ledger *l = &w->ledger;
	size_t off = 0;

	out[0] = '\0';
	for (uint32_t i = l->first[local]; i < l->first[local + 1]; i++) {
		int n = snprintf(out + off, cap - off, "%s%s", off ? "," : "",
		    w->chans[l->slots[i].chan].name);

		if (n < 0 || (size_t)n >= cap - off)
			return -1;
		off += (size_t)n;
	}
	return 0;
}

/* lg_mode_path_parley - the token authenticates; membership is server-side.
 * A reconnect will resume: resume=1 asks the gateway to hold live events
 * until the resume frame is answered (else they would be replayed twice) */
static int
lg_mode_path_parley(struct lg_worker *w, uint32_t local, char *out, size_t cap)
{
	if (w->tokens == NULL || w->tokens[local] == NULL)
		return -1;
	return snprintf(out, cap, "/ws?token=%s%s", w->tokens[local],
	    w->conns[local].resumed ? "&resume=1" : "") < (int)cap ? 0 : -1;
}

/* lg_mode_path_floor - membership in the query */
static int
lg_mode_path_floor(struct lg_worker *w, uint32_t local, char *out, size_t cap)
{
	char list[3000];

	if (lg_mode_chanlist(w, local, list, sizeof(list)) < 0)
		return -1;
	return snprintf(out, cap, "/ws?ch=%s", list) < (int)cap ? 0 : -1;
}

/* lg_mode_path_sio - Engine.IO over WebSocket, membership in the query */
static int
lg_mode_path_sio(struct lg_worker *w, uint32_t local, char *out, size_t cap)
{
	char list[3000];

	if (lg_mode_chanlist(w, local, list, sizeof(list)) < 0)
		return -1;
	return snprintf(out, cap, "/socket.io/?EIO=4&transport=websocket&ch=%s",
	    list) < (int)cap ? 0 : -1;
}

/* lg_mode_wrap_rtm - {"id":N,"type":event,body} */
static int
lg_mode_wrap_rtm(char *out, size_t cap, const char *event, const char *body, long long id)
{
	int n = snprintf(out, cap, "{\"id\":%lld,\"type\":\"%s\"%s%s}", id, event,
	    body ? "," : "", body ? body : "");

	return n < 0 || (size_t)n >= cap ? -1 : n;
}

/* lg_mode_wrap_sio - 42<id>["event",{"id":N,body}] */
static int
lg_mode_wrap_sio(char *out, size_t cap, const char *event, const char *body, long long id)
{
	char js[3900];
	int n = snprintf(js, sizeof(js), "{\"id\":%lld%s%s}", id, body ? "," : "",
	    body ? body : "");

	if (n < 0 || (size_t)n >= sizeof(js))
		return -1;
	return lg_eio_emit(out, cap, event, js, id);
}

/* lg_mode_text_rtm - the frame is one JSON object */
static int
lg_mode_text_rtm(struct lg_worker *w, uint32_t local, char *p, size_t n)
{
	return lg_mode_on_json(w, local, p, n);
}

/* lg_mode_sio_inner - the first {...} of an event's or ack's data */
static int
lg_mode_sio_inner(struct lg_worker *w, uint32_t local, const struct lg_eio_pkt *pk)
{
	const char *a = memchr(pk->data, '{', pk->len), *b;

	if (a == NULL)
		return 0;
	for (b = pk->data + pk->len; b > a && b[-1] != '}'; b--)
		;
	return b > a ? lg_mode_on_json(w, local, a, (size_t)(b - a)) : 0;
}

/* lg_mode_text_sio - Engine.IO open/ping, Socket.IO connect/event/ack */
static int
lg_mode_text_sio(struct lg_worker *w, uint32_t local, char *p, size_t n)
{
	struct lg_eio_pkt pk;

	if (lg_eio_parse(p, n, &pk) < 0) {
		w->st.proto_errors++;
		return 0;
	}
	if (pk.eio == LG_EIO_OPEN)
		return lg_net_send_text(w, local, "40", 2);
	if (pk.eio == LG_EIO_PING)
		return lg_net_send_text(w, local, "3", 1);
	if (pk.eio == LG_EIO_CLOSE)
		return -1;
	if (pk.eio != LG_EIO_MESSAGE)
		return 0;
	if (pk.sio == LG_SIO_CONNECT) {
		lg_mode_on_ready(w, local);
		return 0;
	}
	if (pk.sio == LG_SIO_CONNECT_ERROR || pk.sio == LG_SIO_DISCONNECT) {
		w->st.server_errors++;
		return -1;
	}
	return lg_mode_sio_inner(w, local, &pk);
}

static const struct lg_mode lg_modes[] = {
	{ "parley", lg_mode_path_parley, lg_mode_wrap_rtm, lg_mode_text_rtm },
	{ "floor", lg_mode_path_floor, lg_mode_wrap_rtm, lg_mode_text_rtm },
	{ "socketio", lg_mode_path_sio, lg_mode_wrap_sio, lg_mode_text_sio },
};

/* lg_mode_find - the mode called name, NULL if none */
const struct lg_mode *
lg_mode_find(const char *name)
{
	for (size_t i = 0; i < sizeof(lg_modes) / sizeof(lg_modes[0]); i++)
		if (strcmp(lg_modes[i].name, name) == 0)
			return &lg_modes[i];
	return NULL;
}
