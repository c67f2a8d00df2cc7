/* rpc.c - nng req/rep and push/pull on the loop.
 *
 * nng completes aios on its own threads; every completion here does the
 * least it can on that thread (take the message, post to the inbox) and the
 * rest runs on the loop thread. Each server worker and each client call owns
 * one aio with at most one operation in flight, so a worker/call posts at most
 * one inbox item at a time.
 *
 * Shutdown order, for every object: mark stopping → nng_aio_stop (cancels and
 * waits until the aio's callback has returned, so no thread touches us any
 * more) → close the nng socket → free the inbox (dropping items that point at
 * us) → free messages and aios. An aio callback never resubmits after
 * NNG_ECANCELED or NNG_ECLOSED, which is what stop produces. */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <nng/nng.h>
#include <nng/protocol/pipeline0/pull.h>
#include <nng/protocol/pipeline0/push.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/util/platform.h>

#include "err.h"
#include "inbox.h"
#include "clock.h"
#include "log.h"
#include "mem.h"
#include "metrics.h"
#include "rpc.h"
#include "rpc_batch.h"

#define RPC_DEFAULT_WORKERS 16
#define RPC_RECONN_MIN_MS 50	/* dialer retry after a lost peer */
#define RPC_RECONN_MAX_MS 1000
#define RPC_PUSH_SENDBUF 1024	/* messages queued before PL_EAGAIN */
#define RPC_BATCH_MAX 64	/* requests in one batch frame (rpc_batch.h) */
#define RPC_BATCH_BYTES (256u << 10)	/* a batch stops growing past this */
#define RPC_RECV_MAX PL_RPC_MSG_MAX	/* largest message taken (a batch of replies) */

/* ---- errors ---- */

static const struct {
	int nng;
	int pl;
} rpc_errs[] = {
	{ NNG_ETIMEDOUT, PL_ETIMEDOUT },
	{ NNG_ECLOSED, PL_ECLOSED },
	{ NNG_ECANCELED, PL_ECLOSED },
	{ NNG_EAGAIN, PL_EAGAIN },
	{ NNG_ECONNREFUSED, PL_EUNAVAIL },
	{ NNG_ECONNSHUT, PL_EUNAVAIL },
	{ NNG_EINVAL, PL_EINVAL },
	{ NNG_EADDRINVAL, PL_EINVAL },
	{ NNG_ENOTSUP, PL_EINVAL },
	{ NNG_EADDRINUSE, PL_EEXIST },
	{ NNG_EMSGSIZE, PL_ETOOBIG },
	{ NNG_EPROTO, PL_EPROTO },
};

/* rpc_err - nng error → PL_E* */
static int
rpc_err(int nrv)
{
	size_t i;

	for (i = 0; i < sizeof(rpc_errs) / sizeof(rpc_errs[0]); i++)
		if (rpc_errs[i].nng == nrv)
			return rpc_errs[i].pl;
	return PL_EIO;
}

/* ---- metrics (process-wide; registration is idempotent) ---- */

static const char *const rpc_results[] = { "ok", "timeout", "closed", "error" };
#define RPC_NRESULTS 4

static struct {
	struct pl_metric *calls[RPC_NRESULTS];
	struct pl_metric *call_s;
	struct pl_metric *requests;
	struct pl_metric *push_full;
	struct pl_metric *restarts;
} rpc_m;

/* rpc_metrics_init - register the series (again is harmless) */
static void
rpc_metrics_init(void)
{
	char labels[32];
	int i;

	for (i = 0; i < RPC_NRESULTS; i++) {
		snprintf(labels, sizeof(labels), "result=\"%s\"", rpc_results[i]);
		rpc_m.calls[i] = pl_metrics_counter("parley_rpc_calls_total",
		    "nng requests made, by outcome.", labels);
	}
	rpc_m.call_s = pl_metrics_histogram("parley_rpc_call_seconds",
	    "nng request to reply (or failure).", NULL, PL_METRICS_LATENCY_S,
	    PL_METRICS_LATENCY_S_N);
	rpc_m.requests = pl_metrics_counter("parley_rpc_requests_total",
	    "nng requests handed to handlers.", NULL);
	rpc_m.push_full = pl_metrics_counter("parley_rpc_push_full_total",
	    "push messages refused because the peer is not keeping up.", NULL);
	rpc_m.restarts = pl_metrics_counter("parley_rpc_listener_restarts_total",
	    "listeners re-created after their probe went unanswered (nng#1518).",
	    NULL);
}

/* rpc_count_call - one completed call */
static void
rpc_count_call(int rv, uint64_t start_us)
{
	int r = rv == 0 ? 0 : rv == PL_ETIMEDOUT ? 1 : rv == PL_ECLOSED ? 2 : 3;

	pl_metrics_inc(rpc_m.calls[r]);
	pl_metrics_observe(rpc_m.call_s,
	    (double)(pl_clock_mono_us() - start_us) / 1e6);
}

/* rpc_fail - log an nng failure once, translated */
static int
rpc_fail(const char *ev, const char *what, const char *url, int nrv)
{
	pl_log_error(ev, "op=%s url=%s err=\"%s\"", what, url, nng_strerror(nrv));
	return rpc_err(nrv);
}

/* rpc_listen - listen on url; an ipc:// socket file is made 0600 (owner
 * only) rather than taking its mode from the umask: whoever can connect to
 * it can call the service as any user. 0 or an nng error */
static int
rpc_listen(nng_socket sock, const char *url, nng_listener *lp)
{
	nng_listener l;
	int nrv;

	if ((nrv = nng_listener_create(&l, sock, url)) != 0)
		return nrv;
	if (strncmp(url, "ipc://", 6) == 0 &&
	    (nrv = nng_listener_set_int(l, NNG_OPT_IPC_PERMISSIONS, 0600)) != 0)
		goto fail;
	if ((nrv = nng_listener_start(l, 0)) != 0)
		goto fail;
	*lp = l;
	return 0;
fail:
	nng_listener_close(l);
	return nrv;
}

static nng_msg *rpc_msg_from(const void *data, size_t len);

/* ==== listener keeper (nng 1.5.2, nanomsg/nng#1518) ====
 *
 * A peer that connects to an ipc:// listener and is gone before nng writes
 * its SP header makes that write fail with EPIPE, which nng 1.5.2 reports
 * to the socket core as NNG_ECLOSED - "the listener was closed" - and the
 * core never asks the listener for another connection. Pipes attached
 * before keep working; every later dialer completes the transport
 * handshake and then waits forever. Nothing in nng's API shows the state,
 * so the keeper looks from outside: every RPC_PROBE_MS it dials its own
 * url with a fresh socket of the peer protocol and sends a probe message
 * (below); the receive path answers it without the handler and notes its
 * token. A probe not seen within RPC_PROBE_DEADLINE_MS means the listener
 * no longer attaches pipes: it is closed (which also drops the connections
 * stuck in it; dialers reconnect and REQ resends what was in flight, so
 * handlers - idempotent - may see a request twice), a stale ipc path is
 * removed, and the url is listened on again. Fixed upstream by
 * nanomsg/nng#1519 (nng 1.5.3+), where this never fires. */

/* The probe: 0x00 0xB9 "PLPROBE" | u64 token. A protobuf message never
 * starts with 0x00 (rpc_batch.h), a batch frame is 0x00 0xB7. */
#define RPC_PROBE_MAGIC "\x00\xB9PLPROBE"
#define RPC_PROBE_MAGIC_LEN 9
#define RPC_PROBE_LEN (RPC_PROBE_MAGIC_LEN + 8)

static int rpc_probe_ms = 1000;		/* probe interval */
static int rpc_probe_deadline_ms = 10000;	/* no answer by then: restart */

struct rpc_keep {
	struct pl_loop *loop;
	const char *url;	/* the owner's */
	char *dial_url;		/* url, a wildcard tcp host made loopback */
	nng_socket sock;	/* the owner's listening socket */
	nng_listener lst;
	int (*open_peer)(nng_socket *);	/* req0 or push0 */
	struct pl_timer *timer;
	nng_socket probe;
	nng_aio *aio;		/* the probe's send and echo (one per probe) */
	int probing;
	int sent;		/* the probe's send succeeded (nng thread) */
	atomic_int answered;	/* ... and (req0) its echo came back */
	uint64_t token, start_us;
	_Atomic uint64_t seen;	/* last token the receive path saw */
};

/* pl_rpc_probe_set - interval and deadline of the listener probe (tests) */
void
pl_rpc_probe_set(int interval_ms, int deadline_ms)
{
	rpc_probe_ms = interval_ms;
	rpc_probe_deadline_ms = deadline_ms;
}

/* keep_probe_is - nng thread: if m is a probe, note its token; 1 if so */
static int
keep_probe_is(struct rpc_keep *k, nng_msg *m)
{
	const unsigned char *b = nng_msg_body(m);
	uint64_t t = 0;
	int i;

	if (nng_msg_len(m) != RPC_PROBE_LEN ||
	    memcmp(b, RPC_PROBE_MAGIC, RPC_PROBE_MAGIC_LEN) != 0)
		return 0;
	for (i = 0; i < 8; i++)
		t = t << 8 | b[RPC_PROBE_MAGIC_LEN + i];
	atomic_store(&k->seen, t);
	return 1;
}

/* keep_aio_cb - nng thread: the probe's send ended, then (req0) its echo
 * came back; a message left over is ours to free */
static void
keep_aio_cb(void *arg)
{
	struct rpc_keep *k = arg;
	int rv = nng_aio_result(k->aio);
	nng_msg *m = nng_aio_get_msg(k->aio);

	nng_aio_set_msg(k->aio, NULL);
	if (k->sent == 0 && rv == 0) {
		k->sent = 1;
		if (k->open_peer == nng_req0_open)
			nng_recv_aio(k->probe, k->aio);
		else
			atomic_store(&k->answered, 1);
		return;
	}
	if (m != NULL)
		nng_msg_free(m);
	if (k->sent && rv == 0)
		atomic_store(&k->answered, 1);
}

/* keep_probe_end - loop thread: stop and close the probe socket, free its
 * aio. A stopped aio is done for good in nng 1.5: every later operation on
 * it ends at once with NNG_ECANCELED and without a callback, so reusing it
 * never sent another probe, and every listener was re-created each
 * deadline (dropping every connection: REQ then resends what was in
 * flight, and a handler runs twice). Each probe has its own aio. */
static void
keep_probe_end(struct rpc_keep *k)
{
	nng_msg *m;

	if (!k->probing)
		return;
	/* a stopped aio does not call back: a send cancelled by the stop
	 * leaves the message in the aio */
	nng_aio_stop(k->aio);
	if ((m = nng_aio_get_msg(k->aio)) != NULL)
		nng_msg_free(m);
	nng_aio_set_msg(k->aio, NULL);
	nng_close(k->probe);
	nng_aio_free(k->aio);
	k->aio = NULL;
	k->probing = 0;
}

/* keep_probe_start - loop thread: a fresh socket dials url, sends a probe */
static void
keep_probe_start(struct rpc_keep *k)
{
	unsigned char b[RPC_PROBE_LEN];
	nng_msg *m;
	int i, nrv;

	if ((nrv = nng_aio_alloc(&k->aio, keep_aio_cb, k)) != 0) {
		pl_log_warn("PL-RPC-PROBE-FAIL", "url=%s op=aio err=\"%s\"",
		    k->url, nng_strerror(nrv));
		return;
	}
	if ((nrv = k->open_peer(&k->probe)) != 0) {
		pl_log_warn("PL-RPC-PROBE-FAIL", "url=%s op=open err=\"%s\"",
		    k->url, nng_strerror(nrv));
		nng_aio_free(k->aio);
		k->aio = NULL;
		return;
	}
	nng_socket_set_ms(k->probe, NNG_OPT_RECONNMINT, RPC_RECONN_MIN_MS);
	nng_socket_set_ms(k->probe, NNG_OPT_RECONNMAXT, RPC_RECONN_MAX_MS);
	if ((nrv = nng_dial(k->probe, k->dial_url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		pl_log_warn("PL-RPC-PROBE-FAIL", "url=%s op=dial err=\"%s\"",
		    k->url, nng_strerror(nrv));
		nng_close(k->probe);
		nng_aio_free(k->aio);
		k->aio = NULL;
		return;
	}
	k->token++;
	memcpy(b, RPC_PROBE_MAGIC, RPC_PROBE_MAGIC_LEN);
	for (i = 0; i < 8; i++)
		b[RPC_PROBE_MAGIC_LEN + i] = (unsigned char)(k->token >> (56 - 8 * i));
	m = rpc_msg_from(b, sizeof(b));
	k->probing = 1;
	k->sent = 0;
	atomic_store(&k->answered, 0);
	k->start_us = pl_clock_mono_us();
	nng_aio_set_msg(k->aio, m);
	nng_aio_set_timeout(k->aio, rpc_probe_deadline_ms);
	nng_send_aio(k->probe, k->aio);
}

/* keep_restart - loop thread: close the stalled listener, remove a stale
 * ipc path (a socket file only), listen on url again */
static void
keep_restart(struct rpc_keep *k)
{
	const char *path = k->url + 6;
	struct stat st;
	int nrv;

	nng_listener_close(k->lst);
	if (strncmp(k->url, "ipc://", 6) == 0 && lstat(path, &st) == 0 &&
	    S_ISSOCK(st.st_mode))
		unlink(path);
	if ((nrv = rpc_listen(k->sock, k->url, &k->lst)) != 0) {
		k->lst.id = 0;
		pl_log_error("PL-RPC-LISTENER-RESTART-FAIL", "url=%s err=\"%s\"",
		    k->url, nng_strerror(nrv));
		return;
	}
	pl_metrics_inc(rpc_m.restarts);
	pl_log_warn("PL-RPC-LISTENER-RESTART", "url=%s waited_ms=%d",
	    k->url, rpc_probe_deadline_ms);
}

/* keep_tick - loop thread: judge the probe in flight, or send the next */
static void
keep_tick(void *arg)
{
	struct rpc_keep *k = arg;

	if (k->lst.id == 0) {	/* a restart failed: try again */
		keep_restart(k);
		return;
	}
	if (k->probing) {
		/* the receive path saw it, and the probe socket is done
		 * with it (req0: the echo came back) */
		if (atomic_load(&k->seen) == k->token &&
		    atomic_load(&k->answered)) {
			keep_probe_end(k);
		} else if (pl_clock_mono_us() - k->start_us >=
		    (uint64_t)rpc_probe_deadline_ms * 1000) {
			keep_probe_end(k);
			keep_restart(k);
		}
		return;
	}
	keep_probe_start(k);
}

/* keep_dial_url - the url the probe dials: a listener's wildcard tcp host
 * ("*", empty, 0.0.0.0, [::]) is reached on loopback (heap string) */
static char *
keep_dial_url(const char *url)
{
	static const struct {
		const char *from, *to;
	} wild[] = {
		{ "tcp://*:", "tcp://127.0.0.1:" }, { "tcp://:", "tcp://127.0.0.1:" },
		{ "tcp://0.0.0.0:", "tcp://127.0.0.1:" }, { "tcp://[::]:", "tcp://[::1]:" },
	};
	char *r;
	size_t i, n, len;

	for (i = 0; i < sizeof(wild) / sizeof(wild[0]); i++) {
		n = strlen(wild[i].from);
		if (strncmp(url, wild[i].from, n) != 0)
			continue;
		len = strlen(wild[i].to) + strlen(url + n) + 1;
		r = pl_calloc(1, len);
		snprintf(r, len, "%s%s", wild[i].to, url + n);
		return r;
	}
	return pl_strdup(url);
}

/* keep_start - listen on url and start probing it */
static int
keep_start(struct rpc_keep *k, struct pl_loop *l, const char *url,
    nng_socket sock, int (*open_peer)(nng_socket *), const char *ev)
{
	int nrv, rv;

	k->loop = l;
	k->url = url;
	k->dial_url = keep_dial_url(url);
	k->sock = sock;
	k->open_peer = open_peer;
	if ((nrv = rpc_listen(sock, url, &k->lst)) != 0)
		return rpc_fail(ev, "listen", url, nrv);
	if ((rv = pl_loop_timer(l, (uint64_t)rpc_probe_ms, 1, keep_tick, k,
	    &k->timer)) != 0)
		return rv;
	return 0;
}

/* keep_stop - stop probing (the owner closes the listening socket) */
static void
keep_stop(struct rpc_keep *k)
{
	pl_loop_timer_stop(&k->timer);
	free(k->dial_url);
	k->dial_url = NULL;
	keep_probe_end(k);
}

/* rpc_msg_from - a message holding a copy of data */
static nng_msg *
rpc_msg_from(const void *data, size_t len)
{
	nng_msg *m;

	if (nng_msg_alloc(&m, len) != 0)
		pl_panic("PL-RPC-NOMEM", "len=%zu", len);
	if (len > 0)
		memcpy(nng_msg_body(m), data, len);
	return m;
}

/* rpc_dial_opts - reconnect quickly after the peer restarts */
static void
rpc_dial_opts(nng_socket s)
{
	nng_socket_set_ms(s, NNG_OPT_RECONNMINT, RPC_RECONN_MIN_MS);
	nng_socket_set_ms(s, NNG_OPT_RECONNMAXT, RPC_RECONN_MAX_MS);
}

/* ==== server ==== */

enum { WK_RECV, WK_HANDLE, WK_SEND };

struct rpc_worker {
	struct pl_rpc_server *s;
	nng_ctx ctx;
	nng_aio *aio;
	int state;		/* changed only while no operation runs */
	nng_msg *msg;		/* request received, not yet handed over */
	struct pl_rpc_req *req;	/* handed to the handler, not yet replied */
	struct rpc_batch *batch;	/* or a batch of them */
};

/* rpc_batch - the requests of one batch frame: the reply frame goes out
 * when the last of them is replied to */
struct rpc_batch {
	struct rpc_worker *w;	/* NULL once the server stopped */
	nng_msg *msg;		/* the frame; items point into it */
	int n, left;
	struct pl_rpc_item *out;	/* replies (heap copies) by index */
};

struct pl_rpc_req {
	struct rpc_worker *w;	/* NULL once the server stopped */
	nng_msg *msg;
	struct rpc_batch *batch;	/* set for an item of a batch */
	int idx;
};

struct pl_rpc_server {
	char *url;
	nng_socket sock;
	struct pl_inbox *in;
	pl_rpc_handler fn;
	void *arg;
	int nworkers;
	struct rpc_worker *w;
	struct rpc_keep keep;
	atomic_int stopping;
};

static void wk_aio_cb(void *arg);

/* wk_recv - arm the worker's next receive */
static void
wk_recv(struct rpc_worker *w)
{
	w->state = WK_RECV;
	nng_ctx_recv(w->ctx, w->aio);
}

/* wk_send - hand a reply message to the worker's context */
static void
wk_send(struct rpc_worker *w, nng_msg *m)
{
	w->state = WK_SEND;
	nng_aio_set_msg(w->aio, m);
	nng_ctx_send(w->ctx, w->aio);
}

/* wk_dispatch_batch - loop thread: every item of a batch to the handler, in
 * order; a malformed frame is answered with an empty reply (the client
 * fails each of its calls with PL_EPROTO) */
static void
wk_dispatch_batch(struct rpc_worker *w, nng_msg *m)
{
	struct pl_rpc_item items[RPC_BATCH_MAX];
	struct rpc_batch *b;
	struct pl_rpc_req *req;
	int n, i;

	n = pl_rpc_batch_parse(nng_msg_body(m), nng_msg_len(m), items,
	    RPC_BATCH_MAX);
	if (n < 0) {
		pl_log_warn("PL-RPC-BATCH-BAD", "url=%s len=%zu", w->s->url,
		    nng_msg_len(m));
		nng_msg_free(m);
		wk_send(w, rpc_msg_from(NULL, 0));
		return;
	}
	b = pl_calloc(1, sizeof(*b));
	b->w = w;
	b->msg = m;
	b->n = b->left = n;
	b->out = pl_calloc((size_t)n, sizeof(*b->out));
	w->batch = b;
	pl_metrics_add(rpc_m.requests, n);
	for (i = 0; i < n; i++) {	/* b may be gone after the last call */
		req = pl_calloc(1, sizeof(*req));
		req->batch = b;
		req->idx = i;
		w->s->fn(req, items[i].data, items[i].len, w->s->arg);
	}
}

/* batch_finish - every item replied: send the reply frame, free the batch.
 * Items that would push the frame past PL_RPC_MSG_MAX go as the marker
 * (room for a marker per item is kept, so the frame always fits). */
static void
batch_finish(struct rpc_batch *b)
{
	size_t room = PL_RPC_MSG_MAX - 6 - (size_t)b->n * (4 + PL_RPC_TOOBIG_LEN), used = 0;
	struct pl_buf frame;
	int i;

	if (b->w != NULL) {
		pl_buf_init(&frame);
		pl_rpc_batch_begin(&frame, (uint32_t)b->n);
		for (i = 0; i < b->n; i++) {
			if (b->out[i].len > room - used) {
				pl_log_warn("PL-RPC-REPLY-TOOBIG", "url=%s len=%zu batch=%d",
				    b->w->s->url, b->out[i].len, b->n);
				pl_rpc_batch_add(&frame, PL_RPC_TOOBIG, PL_RPC_TOOBIG_LEN);
				continue;
			}
			used += b->out[i].len;
			pl_rpc_batch_add(&frame, b->out[i].data, b->out[i].len);
		}
		b->w->batch = NULL;
		wk_send(b->w, rpc_msg_from(frame.data, frame.len));
		pl_buf_fini(&frame);
	}
	for (i = 0; i < b->n; i++)
		free((void *)b->out[i].data);
	free(b->out);
	nng_msg_free(b->msg);
	free(b);
}

/* wk_dispatch - loop thread: hand the request (or batch) to the handler */
static void
wk_dispatch(void *arg)
{
	struct rpc_worker *w = arg;
	struct pl_rpc_req *req;
	nng_msg *m = w->msg;

	w->msg = NULL;
	if (pl_rpc_batch_is(nng_msg_body(m), nng_msg_len(m))) {
		wk_dispatch_batch(w, m);
		return;
	}
	req = pl_calloc(1, sizeof(*req));
	req->w = w;
	req->msg = m;
	w->req = req;
	pl_metrics_inc(rpc_m.requests);
	w->s->fn(req, nng_msg_body(req->msg), nng_msg_len(req->msg), w->s->arg);
}

/* wk_aio_cb - nng thread: a receive or a send finished */
static void
wk_aio_cb(void *arg)
{
	struct rpc_worker *w = arg;
	int rv = nng_aio_result(w->aio);
	nng_msg *m;

	if (atomic_load(&w->s->stopping) || rv == NNG_ECANCELED ||
	    rv == NNG_ECLOSED) {
		/* the message is ours after a good receive or a failed send */
		if ((rv == 0) == (w->state == WK_RECV) &&
		    (m = nng_aio_get_msg(w->aio)) != NULL)
			nng_msg_free(m);
		nng_aio_set_msg(w->aio, NULL);
		return;
	}
	if (w->state == WK_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(w->aio));
			nng_aio_set_msg(w->aio, NULL);
			pl_log_warn("PL-RPC-REPLY-FAIL", "url=%s err=\"%s\"",
			    w->s->url, nng_strerror(rv));
		}
		wk_recv(w);
		return;
	}
	if (rv != 0) {
		pl_log_warn("PL-RPC-RECV-FAIL", "url=%s err=\"%s\"", w->s->url,
		    nng_strerror(rv));
		wk_recv(w);
		return;
	}
	m = nng_aio_get_msg(w->aio);
	if (keep_probe_is(&w->s->keep, m)) {	/* answered here, echoed */
		wk_send(w, m);
		return;
	}
	w->msg = m;
	w->state = WK_HANDLE;
	pl_inbox_post(w->s->in, wk_dispatch, w);
}

/* pl_rpc_reply - send the reply on the request's context and free req; an
 * item of a batch waits in the batch for the others */
void
pl_rpc_reply(struct pl_rpc_req *req, const void *data, size_t len)
{
	struct rpc_worker *w = req->w;
	struct rpc_batch *b = req->batch;

	if (b != NULL) {
		b->out[req->idx].data = pl_memdup(len ? data : "", len ? len : 1);
		b->out[req->idx].len = len;
		free(req);
		if (--b->left == 0)
			batch_finish(b);
		return;
	}
	if (w != NULL && len > PL_RPC_REPLY_MAX) {
		pl_log_warn("PL-RPC-REPLY-TOOBIG", "url=%s len=%zu", w->s->url, len);
		data = PL_RPC_TOOBIG;
		len = PL_RPC_TOOBIG_LEN;
	}
	if (w != NULL) {
		w->req = NULL;
		wk_send(w, rpc_msg_from(data, len));
	}
	nng_msg_free(req->msg);
	free(req);
}

/* srv_workers_start - open contexts and aios, arm every receive */
static int
srv_workers_start(struct pl_rpc_server *s)
{
	int i, nrv;

	s->w = pl_calloc((size_t)s->nworkers, sizeof(*s->w));
	for (i = 0; i < s->nworkers; i++) {
		s->w[i].s = s;
		if ((nrv = nng_ctx_open(&s->w[i].ctx, s->sock)) != 0 ||
		    (nrv = nng_aio_alloc(&s->w[i].aio, wk_aio_cb, &s->w[i])) != 0)
			return rpc_fail("PL-RPC-SERVER-START", "ctx", s->url, nrv);
	}
	for (i = 0; i < s->nworkers; i++)
		wk_recv(&s->w[i]);
	return 0;
}

/* srv_free - tear down in the order of the file comment */
static void
srv_free(struct pl_rpc_server *s)
{
	int i;

	atomic_store(&s->stopping, 1);
	keep_stop(&s->keep);
	for (i = 0; s->w != NULL && i < s->nworkers; i++)
		if (s->w[i].aio != NULL)
			nng_aio_stop(s->w[i].aio);
	nng_close(s->sock);
	pl_inbox_free(&s->in);
	for (i = 0; s->w != NULL && i < s->nworkers; i++) {
		if (s->w[i].req != NULL)
			s->w[i].req->w = NULL;	/* a late reply just frees */
		if (s->w[i].batch != NULL)
			s->w[i].batch->w = NULL;
		if (s->w[i].msg != NULL)
			nng_msg_free(s->w[i].msg);
		if (s->w[i].aio != NULL)
			nng_aio_free(s->w[i].aio);
	}
	free(s->w);
	free(s->url);
	free(s);
}

/* pl_rpc_server_start - rep0 socket listening on url, `workers` contexts */
int
pl_rpc_server_start(struct pl_loop *l, const char *url, int workers,
    pl_rpc_handler fn, void *arg, struct pl_rpc_server **r)
{
	struct pl_rpc_server *s;
	int rv, nrv;

	if (l == NULL || url == NULL || fn == NULL || r == NULL)
		return PL_EINVAL;
	rpc_metrics_init();
	s = pl_calloc(1, sizeof(*s));
	s->url = pl_strdup(url);
	s->fn = fn;
	s->arg = arg;
	s->nworkers = workers > 0 ? workers : RPC_DEFAULT_WORKERS;
	if ((nrv = nng_rep0_open(&s->sock)) != 0) {
		rv = rpc_fail("PL-RPC-SERVER-START", "open", url, nrv);
		free(s->url);
		free(s);
		return rv;
	}
	nng_socket_set_size(s->sock, NNG_OPT_RECVMAXSZ, RPC_RECV_MAX);
	if ((rv = pl_inbox_create(l, &s->in)) != 0)
		goto fail;
	if ((rv = keep_start(&s->keep, l, s->url, s->sock, nng_req0_open,
	    "PL-RPC-SERVER-START")) != 0)
		goto fail;
	if ((rv = srv_workers_start(s)) != 0)
		goto fail;
	pl_log_info("PL-RPC-SERVER-START", "url=%s workers=%d", url, s->nworkers);
	*r = s;
	return 0;
fail:
	srv_free(s);
	return rv;
}

/* pl_rpc_server_stop - stop receiving; pending replies are dropped */
void
pl_rpc_server_stop(struct pl_rpc_server **sp)
{
	if (sp == NULL || *sp == NULL)
		return;
	pl_log_info("PL-RPC-SERVER-STOP", "url=%s", (*sp)->url);
	srv_free(*sp);
	*sp = NULL;
}

/* ==== client ==== */

enum { CALL_SEND, CALL_RECV };

/* rpc_pend - one pl_rpc_call: queued until the flush, then part of a call */
struct rpc_pend {
	void *data;		/* the request (heap copy) until sent */
	size_t len;
	int timeout_ms;
	uint64_t start_us;
	pl_rpc_done done;
	void *arg;
	int batch;		/* may share an nng request (pl_rpc_call_batch) */
};

/* rpc_call - one nng request: a single pl_rpc_call, or a batch of them */
struct rpc_call {
	struct rpc_call *prev, *next;	/* client list, loop thread only */
	struct pl_rpc_client *c;
	nng_ctx ctx;
	nng_aio *aio;
	int state;
	nng_time deadline;
	int rv;
	nng_msg *reply;
	struct rpc_pend *items;
	int nitems;
};

struct pl_rpc_client {
	char *url;
	nng_socket sock;
	struct pl_inbox *in;
	struct rpc_call *calls;
	struct rpc_pend *queue;		/* calls made since the last flush */
	size_t nqueue, cap_queue;
	int flush_posted;
	int pending;
	int stopping;
};

/* call_unlink - take a call off its client's list */
static void
call_unlink(struct rpc_call *k)
{
	struct pl_rpc_client *c = k->c;

	if (k->prev != NULL)
		k->prev->next = k->next;
	else
		c->calls = k->next;
	if (k->next != NULL)
		k->next->prev = k->prev;
	k->prev = k->next = NULL;
	c->pending -= k->nitems;
}

/* call_release - free a call's nng resources (its aio callback is over) */
static void
call_release(struct rpc_call *k)
{
	nng_aio_free(k->aio);	/* waits for a callback still returning */
	nng_ctx_close(k->ctx);
	if (k->reply != NULL)
		nng_msg_free(k->reply);
	free(k->items);
	free(k);
}

/* call_deliver - loop thread: complete every pl_rpc_call of the request
 * (a batch's replies in order), then free it. The client is not touched
 * after the first done() so done may stop the client. */
static void
call_deliver(void *arg)
{
	struct pl_rpc_item replies[RPC_BATCH_MAX];
	struct rpc_call *k = arg;
	nng_msg *m = k->reply;
	int i, rv = m != NULL ? 0 : k->rv;

	call_unlink(k);
	k->reply = NULL;
	if (m != NULL && k->nitems == 1) {
		replies[0].data = nng_msg_body(m);
		replies[0].len = nng_msg_len(m);
	} else if (m != NULL && pl_rpc_batch_parse(nng_msg_body(m),
	    nng_msg_len(m), replies, RPC_BATCH_MAX) != k->nitems) {
		pl_log_warn("PL-RPC-BATCH-REPLY-BAD", "url=%s len=%zu items=%d",
		    k->c->url, nng_msg_len(m), k->nitems);
		rv = PL_EPROTO;
	}
	for (i = 0; i < k->nitems; i++) {
		int irv = rv == 0 && pl_rpc_toobig_is(replies[i].data,
		    replies[i].len) ? PL_ETOOBIG : rv;

		rpc_count_call(irv, k->items[i].start_us);
		if (irv == 0)
			k->items[i].done(0, replies[i].data, replies[i].len,
			    k->items[i].arg);
		else
			k->items[i].done(irv, NULL, 0, k->items[i].arg);
	}
	if (m != NULL)
		nng_msg_free(m);
	call_release(k);
}

/* call_finish - nng thread: record the outcome and post it */
static void
call_finish(struct rpc_call *k, int nrv)
{
	k->rv = nrv ? rpc_err(nrv) : 0;
	pl_inbox_post(k->c->in, call_deliver, k);
}

/* call_aio_cb - nng thread: the send or the receive finished */
static void
call_aio_cb(void *arg)
{
	struct rpc_call *k = arg;
	int rv = nng_aio_result(k->aio);
	nng_time now;

	if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
		return;	/* only stop cancels: the stop completes the call */
	if (k->state == CALL_SEND) {
		if (rv != 0) {
			nng_msg_free(nng_aio_get_msg(k->aio));
			nng_aio_set_msg(k->aio, NULL);
			call_finish(k, rv);
			return;
		}
		nng_aio_set_msg(k->aio, NULL);	/* nng owns the sent message */
		now = nng_clock();
		if (now >= k->deadline) {
			call_finish(k, NNG_ETIMEDOUT);
			return;
		}
		k->state = CALL_RECV;
		nng_aio_set_timeout(k->aio, (nng_duration)(k->deadline - now));
		nng_ctx_recv(k->ctx, k->aio);
		return;
	}
	if (rv == 0)
		k->reply = nng_aio_get_msg(k->aio);
	call_finish(k, rv);
}

/* pl_rpc_client_start - req0 socket dialing url (connects in background) */
int
pl_rpc_client_start(struct pl_loop *l, const char *url, int resend_ms,
    struct pl_rpc_client **r)
{
	struct pl_rpc_client *c;
	int rv, nrv;

	if (l == NULL || url == NULL || r == NULL)
		return PL_EINVAL;
	rpc_metrics_init();
	c = pl_calloc(1, sizeof(*c));
	c->url = pl_strdup(url);
	if ((nrv = nng_req0_open(&c->sock)) != 0) {
		rv = rpc_fail("PL-RPC-CLIENT-START", "open", url, nrv);
		free(c->url);
		free(c);
		return rv;
	}
	rpc_dial_opts(c->sock);
	nng_socket_set_size(c->sock, NNG_OPT_RECVMAXSZ, RPC_RECV_MAX);
	if (resend_ms > 0)
		nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME, resend_ms);
	if ((rv = pl_inbox_create(l, &c->in)) != 0)
		goto fail;
	if ((nrv = nng_dial(c->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		rv = rpc_fail("PL-RPC-CLIENT-START", "dial", url, nrv);
		goto fail;
	}
	*r = c;
	return 0;
fail:
	pl_inbox_free(&c->in);
	nng_close(c->sock);
	free(c->url);
	free(c);
	return rv;
}

/* call_start - one nng request for items (moved in): the bytes of a single
 * call, or a batch frame; the deadline is the earliest of theirs */
static void
call_start(struct pl_rpc_client *c, struct rpc_pend *items, int n)
{
	struct rpc_call *k = pl_calloc(1, sizeof(*k));
	int i, nrv, timeout_ms = items[0].timeout_ms;
	struct pl_buf frame;
	nng_msg *m;

	k->c = c;
	k->items = items;
	k->nitems = n;
	k->next = c->calls;
	if (c->calls != NULL)
		c->calls->prev = k;
	c->calls = k;
	for (i = 1; i < n; i++)
		if (items[i].timeout_ms < timeout_ms)
			timeout_ms = items[i].timeout_ms;
	if (n == 1) {
		m = rpc_msg_from(items[0].data, items[0].len);
	} else {
		pl_buf_init(&frame);
		pl_rpc_batch_begin(&frame, (uint32_t)n);
		for (i = 0; i < n; i++)
			pl_rpc_batch_add(&frame, items[i].data, items[i].len);
		m = rpc_msg_from(frame.data, frame.len);
		pl_buf_fini(&frame);
	}
	for (i = 0; i < n; i++) {
		free(items[i].data);
		items[i].data = NULL;
	}
	if ((nrv = nng_ctx_open(&k->ctx, c->sock)) != 0 ||
	    (nrv = nng_aio_alloc(&k->aio, call_aio_cb, k)) != 0) {
		/* completes on the loop like any failure; call_release is
		 * safe with a NULL aio and a closed context */
		rpc_fail("PL-RPC-CALL", "ctx", c->url, nrv);
		nng_msg_free(m);
		k->rv = rpc_err(nrv);
		pl_inbox_post(c->in, call_deliver, k);
		return;
	}
	k->state = CALL_SEND;
	k->deadline = nng_clock() + (nng_time)timeout_ms;
	nng_aio_set_timeout(k->aio, timeout_ms);
	nng_aio_set_msg(k->aio, m);
	nng_ctx_send(k->ctx, k->aio);
}

/* client_flush - loop thread: the calls queued since the last flush go out:
 * each plain call in its own nng request; the batch calls together, up to
 * RPC_BATCH_MAX calls or RPC_BATCH_BYTES per request */
static void
client_flush(void *arg)
{
	struct pl_rpc_client *c = arg;
	struct rpc_pend *items = NULL;
	size_t bytes = 0, i;
	int n = 0;

	c->flush_posted = 0;
	for (i = 0; i < c->nqueue; i++) {
		struct rpc_pend *p = &c->queue[i];

		if (!p->batch) {
			call_start(c, pl_memdup(p, sizeof(*p)), 1);
			continue;
		}
		if (n > 0 && (n == RPC_BATCH_MAX ||
		    bytes + p->len > RPC_BATCH_BYTES)) {
			call_start(c, items, n);
			n = 0;
			bytes = 0;
		}
		if (n == 0)
			items = pl_malloc(RPC_BATCH_MAX * sizeof(*items));
		items[n++] = *p;
		bytes += p->len;
	}
	if (n > 0)
		call_start(c, items, n);
	c->nqueue = 0;
}

/* client_queue - a call waits for the flush of this loop turn */
static int
client_queue(struct pl_rpc_client *c, const void *data, size_t len,
    int timeout_ms, pl_rpc_done done, void *arg, int batch)
{
	struct rpc_pend *p;

	if (c == NULL || done == NULL || timeout_ms <= 0)
		return PL_EINVAL;
	if (c->stopping)
		return PL_ECLOSED;
	c->queue = pl_grow(c->queue, &c->cap_queue, c->nqueue + 1, 16, sizeof(*c->queue));
	p = &c->queue[c->nqueue++];
	p->data = pl_memdup(len ? data : "", len ? len : 1);
	p->len = len;
	p->timeout_ms = timeout_ms;
	p->start_us = pl_clock_mono_us();
	p->done = done;
	p->arg = arg;
	p->batch = batch;
	c->pending++;
	if (!c->flush_posted) {
		c->flush_posted = 1;
		pl_inbox_post(c->in, client_flush, c);
	}
	return 0;
}

/* pl_rpc_call - one request on its own context, sent when the loop comes
 * back; done runs on the loop thread */
int
pl_rpc_call(struct pl_rpc_client *c, const void *data, size_t len,
    int timeout_ms, pl_rpc_done done, void *arg)
{
	return client_queue(c, data, len, timeout_ms, done, arg, 0);
}

/* pl_rpc_call_batch - like pl_rpc_call, but the batch calls of one loop
 * turn share nng requests (rpc_batch.h) */
int
pl_rpc_call_batch(struct pl_rpc_client *c, const void *data, size_t len,
    int timeout_ms, pl_rpc_done done, void *arg)
{
	return client_queue(c, data, len, timeout_ms, done, arg, 1);
}

/* pl_rpc_client_pending - calls not yet completed */
int
pl_rpc_client_pending(const struct pl_rpc_client *c)
{
	return c != NULL ? c->pending : 0;
}

/* pl_rpc_client_stop - complete every pending call with PL_ECLOSED, free */
void
pl_rpc_client_stop(struct pl_rpc_client **cp)
{
	struct pl_rpc_client *c;
	struct rpc_call *k;
	size_t q;
	int i;

	if (cp == NULL || (c = *cp) == NULL)
		return;
	*cp = NULL;
	c->stopping = 1;
	for (k = c->calls; k != NULL; k = k->next)
		if (k->aio != NULL)
			nng_aio_stop(k->aio);	/* no callback runs after this */
	pl_inbox_free(&c->in);		/* drops completions not yet run */
	while ((k = c->calls) != NULL) {
		call_unlink(k);
		if (k->aio != NULL && k->state == CALL_SEND &&
		    k->reply == NULL && nng_aio_get_msg(k->aio) != NULL)
			nng_msg_free(nng_aio_get_msg(k->aio));
		for (i = 0; i < k->nitems; i++) {
			rpc_count_call(PL_ECLOSED, k->items[i].start_us);
			k->items[i].done(PL_ECLOSED, NULL, 0, k->items[i].arg);
		}
		call_release(k);
	}
	for (q = 0; q < c->nqueue; q++) {	/* never sent */
		rpc_count_call(PL_ECLOSED, c->queue[q].start_us);
		free(c->queue[q].data);
		c->queue[q].done(PL_ECLOSED, NULL, 0, c->queue[q].arg);
	}
	free(c->queue);
	nng_close(c->sock);
	free(c->url);
	free(c);
}

/* ==== push / pull ==== */

struct pl_rpc_pull {
	char *url;
	nng_socket sock;
	nng_aio *aio;
	struct pl_inbox *in;
	nng_msg *msg;
	pl_rpc_handler fn;
	void *arg;
	struct rpc_keep keep;
	atomic_int stopping;
};

/* pull_deliver - loop thread: run the handler, then receive the next */
static void
pull_deliver(void *arg)
{
	struct pl_rpc_pull *p = arg;
	nng_msg *m = p->msg;

	p->msg = NULL;
	/* re-arm first: the handler may stop the puller */
	nng_recv_aio(p->sock, p->aio);
	p->fn(NULL, nng_msg_body(m), nng_msg_len(m), p->arg);
	nng_msg_free(m);
}

/* pull_aio_cb - nng thread: a message arrived */
static void
pull_aio_cb(void *arg)
{
	struct pl_rpc_pull *p = arg;
	int rv = nng_aio_result(p->aio);
	nng_msg *m;

	if (atomic_load(&p->stopping)) {
		if (rv == 0 && (m = nng_aio_get_msg(p->aio)) != NULL)
			nng_msg_free(m);
		return;
	}
	if (rv == NNG_ECANCELED || rv == NNG_ECLOSED)
		return;
	if (rv != 0) {
		nng_recv_aio(p->sock, p->aio);
		return;
	}
	m = nng_aio_get_msg(p->aio);
	if (keep_probe_is(&p->keep, m)) {
		nng_msg_free(m);
		nng_recv_aio(p->sock, p->aio);
		return;
	}
	p->msg = m;
	pl_inbox_post(p->in, pull_deliver, p);
}

/* pull_free - stop order of the file comment */
static void
pull_free(struct pl_rpc_pull *p)
{
	atomic_store(&p->stopping, 1);
	keep_stop(&p->keep);
	if (p->aio != NULL)
		nng_aio_stop(p->aio);
	nng_close(p->sock);
	pl_inbox_free(&p->in);
	if (p->aio != NULL) {
		/* a message received but not delivered, or after re-arm */
		if (p->msg != NULL)
			nng_msg_free(p->msg);
		nng_aio_free(p->aio);
	}
	free(p->url);
	free(p);
}

/* pl_rpc_pull_start - pull0 socket listening on url; fn(NULL, data, len) */
int
pl_rpc_pull_start(struct pl_loop *l, const char *url, pl_rpc_handler fn,
    void *arg, struct pl_rpc_pull **r)
{
	struct pl_rpc_pull *p;
	int rv, nrv;

	if (l == NULL || url == NULL || fn == NULL || r == NULL)
		return PL_EINVAL;
	rpc_metrics_init();
	p = pl_calloc(1, sizeof(*p));
	p->url = pl_strdup(url);
	p->fn = fn;
	p->arg = arg;
	if ((nrv = nng_pull0_open(&p->sock)) != 0) {
		rv = rpc_fail("PL-RPC-PULL-START", "open", url, nrv);
		free(p->url);
		free(p);
		return rv;
	}
	if ((rv = pl_inbox_create(l, &p->in)) != 0)
		goto fail;
	if ((nrv = nng_aio_alloc(&p->aio, pull_aio_cb, p)) != 0) {
		rv = rpc_fail("PL-RPC-PULL-START", "aio", url, nrv);
		goto fail;
	}
	if ((rv = keep_start(&p->keep, l, p->url, p->sock, nng_push0_open,
	    "PL-RPC-PULL-START")) != 0)
		goto fail;
	nng_recv_aio(p->sock, p->aio);
	pl_log_info("PL-RPC-PULL-START", "url=%s", url);
	*r = p;
	return 0;
fail:
	pull_free(p);
	return rv;
}

/* pl_rpc_pull_stop - stop receiving; undelivered messages are dropped */
void
pl_rpc_pull_stop(struct pl_rpc_pull **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	pull_free(*pp);
	*pp = NULL;
}

struct pl_rpc_push {
	char *url;
	nng_socket sock;
};

/* pl_rpc_push_start - push0 socket dialing url (connects in background) */
int
pl_rpc_push_start(struct pl_loop *l, const char *url, struct pl_rpc_push **r)
{
	struct pl_rpc_push *p;
	int rv, nrv;

	if (url == NULL || r == NULL)
		return PL_EINVAL;
	rpc_metrics_init();
	p = pl_calloc(1, sizeof(*p));
	p->url = pl_strdup(url);
	if ((nrv = nng_push0_open(&p->sock)) != 0) {
		rv = rpc_fail("PL-RPC-PUSH-START", "open", url, nrv);
		free(p->url);
		free(p);
		return rv;
	}
	rpc_dial_opts(p->sock);
	nng_socket_set_int(p->sock, NNG_OPT_SENDBUF, RPC_PUSH_SENDBUF);
	if ((nrv = nng_dial(p->sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		rv = rpc_fail("PL-RPC-PUSH-START", "dial", url, nrv);
		nng_close(p->sock);
		free(p->url);
		free(p);
		return rv;
	}
	*r = p;
	return 0;
}

/* pl_rpc_push - queue data (copied) without blocking */
int
pl_rpc_push(struct pl_rpc_push *p, const void *data, size_t len)
{
	int nrv;

	if (p == NULL)
		return PL_EINVAL;
	nrv = nng_send(p->sock, (void *)data, len, NNG_FLAG_NONBLOCK);
	if (nrv == NNG_EAGAIN)
		pl_metrics_inc(rpc_m.push_full);
	return nrv == 0 ? 0 : rpc_err(nrv);
}

/* pl_rpc_push_stop - close; messages still queued may be lost */
void
pl_rpc_push_stop(struct pl_rpc_push **pp)
{
	if (pp == NULL || *pp == NULL)
		return;
	nng_close((*pp)->sock);
	free((*pp)->url);
	free(*pp);
	*pp = NULL;
}
