/* notify_clnt.c - calls to notify-svc over nng (see notify_clnt.h). */
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "clock.h"
#include "err.h"
#include "mem.h"
#include "names.h"
#include "notify_clnt.h"
#include "rpc.h"

struct pl_notify_clnt {
	struct pl_rpc_client *rpc;
	struct pl_breaker breaker;
	int timeout_ms;
};

struct nc_call {
	struct pl_notify_clnt *clnt;
	pl_message_done done;
	void *arg;
};

int
pl_notify_clnt_start(struct pl_loop *l, const struct pl_notify_clnt_conf *conf,
    struct pl_notify_clnt **r)
{
	struct pl_notify_clnt *c = pl_calloc(1, sizeof(*c));
	char *url = pl_endpoint(PL_EP_NOTIFY_FMT, conf->run_dir ? conf->run_dir : "",
	    0, conf->url);
	int rv;

	c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
	pl_breaker_init(&c->breaker, conf->breaker_threshold > 0 ?
	    (unsigned)conf->breaker_threshold : 5, conf->breaker_open_ms > 0 ?
	    (uint64_t)conf->breaker_open_ms : 1000);
	rv = pl_rpc_client_start(l, url, c->timeout_ms, &c->rpc);
	free(url);
	if (rv != 0) {
		free(c);
		return rv;
	}
	*r = c;
	return 0;
}

/* nc_done - decode, feed the breaker, hand the reply to the caller */
static void
nc_done(int rv, const void *data, size_t len, void *arg)
{
	struct nc_call *call = arg;
	Parley__Reply *reply = NULL;

	if (rv == 0) {
		reply = parley__reply__unpack(NULL, len, data);
		if (reply == NULL)
			rv = PL_EPROTO;
		pl_breaker_success(&call->clnt->breaker);
	} else if (rv != PL_ECLOSED) {
		pl_breaker_failure(&call->clnt->breaker, pl_clock_mono_ms());
	}
	call->done(rv, reply, call->arg);
	if (reply != NULL)
		parley__reply__free_unpacked(reply, NULL);
	free(call);
}

int
pl_notify_clnt_call(struct pl_notify_clnt *c, const Parley__Request *req,
    pl_message_done done, void *arg)
{
	struct nc_call *call;
	uint8_t *buf;
	size_t len;
	int rv;

	if (c == NULL)
		return PL_EUNAVAIL;
	if (!pl_breaker_allow(&c->breaker, pl_clock_mono_ms()))
		return PL_EUNAVAIL;
	len = parley__request__get_packed_size(req);
	buf = pl_malloc(len ? len : 1);
	parley__request__pack(req, buf);
	call = pl_calloc(1, sizeof(*call));
	call->clnt = c;
	call->done = done;
	call->arg = arg;
	rv = pl_rpc_call(c->rpc, buf, len, c->timeout_ms, nc_done, call);
	free(buf);
	if (rv != 0) {
		pl_breaker_failure(&c->breaker, pl_clock_mono_ms());
		free(call);
	}
	return rv;
}

int
pl_notify_clnt_breaker_state(const struct pl_notify_clnt *c)
{
	return c ? (int)c->breaker.state : 0;
}

/* pl_notify_clnt_stop - pending calls complete with PL_ECLOSED first */
void
pl_notify_clnt_stop(struct pl_notify_clnt **cp)
{
	if (*cp == NULL)
		return;
	pl_rpc_client_stop(&(*cp)->rpc);
	pl_free(cp);
}
