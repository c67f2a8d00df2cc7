/* call.c - one request in flight. A handler owns its ms_call until it calls
 * one of the ms_call_* reply functions, which send the Reply, free the
 * request and the handler's state, and NULL the caller's pointer. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "message_svc.h"
#include "metrics.h"
#include "rpc.h"
#include "slack_err.h"

/* calls in flight in order of creation: the head is the oldest */
static struct ms_call *call_head, *call_tail;

/* ms_call_oldest_us - start of the oldest call in flight, or UINT64_MAX */
uint64_t
ms_call_oldest_us(void)
{
	return call_head != NULL ? call_head->start_us : UINT64_MAX;
}

/* ms_call_create - wrap a decoded request (ownership moves to the call) */
struct ms_call *
ms_call_create(struct pl_rpc_req *rpc, Parley__Request *req)
{
	struct ms_call *c = pl_calloc(1, sizeof(*c));

	c->rpc = rpc;
	c->req = req;
	c->start_us = pl_clock_mono_us();
	c->prev = call_tail;
	if (call_tail != NULL)
		call_tail->next = c;
	else
		call_head = c;
	call_tail = c;
	if (req->caller != NULL) {
		c->user = req->caller->user ? req->caller->user : "";
		c->team = req->caller->team ? req->caller->team : "";
		c->admin = req->caller->admin;
	} else {
		c->user = "";
		c->team = "";
	}
	return c;
}

/* ms_param - a request parameter, "" when missing */
const char *
ms_param(const struct ms_call *c, const char *key)
{
	const char *v = pl_request_get(c->req, key);

	return v ? v : "";
}

/* ms_call_free - the request, the handler state, the call. *cp is cleared
 * first: it often lives inside the state being freed (&st->c). */
static void
ms_call_free(struct ms_call **cp)
{
	struct ms_call *c = *cp;

	*cp = NULL;
	if (c->prev != NULL)
		c->prev->next = c->next;
	else
		call_head = c->next;
	if (c->next != NULL)
		c->next->prev = c->prev;
	else
		call_tail = c->prev;
	if (c->state_free != NULL && c->state != NULL)
		c->state_free(c->state);
	parley__request__free_unpacked(c->req, NULL);
	free(c->resend_key);
	free(c);
}

/* call_resent - a resend gets the original's reply bytes (resend.c) */
static void
call_resent(const void *reply, size_t len, void *arg)
{
	struct ms_call *c = arg;

	if (c->rpc != NULL)
		pl_rpc_reply(c->rpc, reply, len);
	pl_log_debug("MS-RESEND", "method=%s user=%s key=%s us=%llu", c->req->method,
	    c->user, c->req->idempotency_key,
	    (unsigned long long)(pl_clock_mono_us() - c->start_us));
	ms_call_free(&c);
}

/* ms_call_resent - park or answer a resend of a running or answered call */
int
ms_call_resent(struct ms_call **cp, const void *data, size_t len)
{
	struct pl_buf key;
	int rv;

	pl_buf_init(&key);
	ms_resend_key((*cp)->req, data, len, &key);
	rv = ms_resend_find(key.data, data, len, call_resent, *cp);
	pl_buf_fini(&key);
	if (rv == MS_RESEND_WAIT || rv == MS_RESEND_DONE) {
		*cp = NULL;
		return 1;
	}
	return 0;
}

/* ms_call_once - c is about to run: its reply is kept for its resends */
void
ms_call_once(struct ms_call *c, const void *data, size_t len)
{
	struct pl_buf key;

	pl_buf_init(&key);
	ms_resend_key(c->req, data, len, &key);
	if (ms_resend_begin(key.data, data, len))
		c->resend_key = pl_strdup(key.data);
	pl_buf_fini(&key);
}

/* ms_call_reply - encode r, answer the nng request, free the call. A reply
 * larger than the RPC layer carries (PL_RPC_REPLY_MAX) becomes the error
 * response_too_large: the caller gets an answer, never a dropped request. */
void
ms_call_reply(struct ms_call **cp, Parley__Reply *r)
{
	struct ms_call *c = *cp;
	size_t len = parley__reply__get_packed_size(r);
	Parley__Reply big;
	uint8_t *buf;

	if (len > PL_RPC_REPLY_MAX) {
		pl_metrics_inc(ms_m.too_large);
		pl_log_warn("MS-REPLY-TOO-LARGE", "method=%s user=%s bytes=%zu max=%zu",
		    c->req->method, c->user, len, (size_t)PL_RPC_REPLY_MAX);
		parley__reply__init(&big);
		big.error = (char *)"response_too_large";
		r = &big;
		len = parley__reply__get_packed_size(r);
	}
	buf = pl_malloc(len ? len : 1);
	parley__reply__pack(r, buf);
	if (c->rpc != NULL)
		pl_rpc_reply(c->rpc, buf, len);
	/* after our own reply: its resends (parked ones now) get the same bytes */
	if (c->resend_key != NULL)
		ms_resend_finish(c->resend_key, buf, len);
	free(buf);
	pl_log_debug("MS-REPLY", "method=%s user=%s ok=%d error=%s us=%llu", c->req->method,
	    c->user, r->ok, r->ok ? "" : r->error,
	    (unsigned long long)(pl_clock_mono_us() - c->start_us));
	ms_call_free(cp);
}

/* ms_call_error - ok=false with a Slack error code */
void
ms_call_error(struct ms_call **c, const char *code)
{
	Parley__Reply r;

	parley__reply__init(&r);
	r.ok = 0;
	r.error = (char *)code;
	if (strcmp(code, "internal_error") == 0)
		pl_metrics_inc(ms_m.err_internal);
	else if (strcmp(code, "not_ready") == 0)
		pl_metrics_inc(ms_m.err_not_ready);
	else
		pl_metrics_inc(ms_m.err_client);
	ms_call_reply(c, &r);
}

/* ms_call_json - ok=true with the Slack members as JSON object text */
void
ms_call_json(struct ms_call **c, const char *json)
{
	Parley__Reply r;

	parley__reply__init(&r);
	r.ok = 1;
	r.json = (char *)(json ? json : "{}");
	ms_call_reply(c, &r);
}

/* ms_call_rv_error - the Slack code of a PL_E* from a dependency */
void
ms_call_rv_error(struct ms_call **c, int rv)
{
	ms_call_error(c, pl_slack_error(rv));
}
