/* request_call.c - one Request over an nng REQ client (see request_call.h) */
#include <stdint.h>
#include <stdlib.h>

#include "err.h"
#include "mem.h"
#include "request_call.h"

struct pl_request_call {
	pl_reply_done done;
	void *arg;
};

/* pl_request_replied - decode the Reply and hand it to the caller */
static void
pl_request_replied(int rv, const void *data, size_t len, void *arg)
{
	struct pl_request_call *call = arg;
	Parley__Reply *reply = NULL;

	if (rv == 0 && (reply = parley__reply__unpack(NULL, len, data)) == NULL)
		rv = PL_EPROTO;
	call->done(rv, reply, call->arg);
	if (reply != NULL)
		parley__reply__free_unpacked(reply, NULL);
	free(call);
}

int
pl_request_call(struct pl_rpc_client *rpc, const Parley__Request *req,
    int timeout_ms, pl_reply_done done, void *arg)
{
	struct pl_request_call *call = pl_malloc(sizeof(*call));
	size_t len = parley__request__get_packed_size(req);
	uint8_t *buf = pl_malloc(len ? len : 1);
	int rv;

	parley__request__pack(req, buf);
	call->done = done;
	call->arg = arg;
	rv = pl_rpc_call(rpc, buf, len, timeout_ms, pl_request_replied, call);
	free(buf);
	if (rv != 0)
		free(call);
	return rv;
}
