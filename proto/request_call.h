/* request_call.h - one Request over an nng REQ client, its Reply decoded:
 * the encode and decode that every plain client stub shares (presence_clnt,
 * search_clnt). Stubs keep only what is theirs (which socket, breakers).
 * message_clnt batches and routes by shard and does not use it. */
#ifndef PL_REQUEST_CALL_H
#define PL_REQUEST_CALL_H

#include "parley.pb-c.h"
#include "rpc.h"

/* done gets rv = 0 and the Reply (borrowed: freed after done returns), or
 * rv != 0 and NULL (PL_EPROTO: the answer was not a Reply) */
typedef void (*pl_reply_done)(int rv, Parley__Reply *reply, void *arg);

/* pl_request_call - pack req and call rpc; a non-zero return means done
 * will not be called */
int pl_request_call(struct pl_rpc_client *rpc, const Parley__Request *req,
    int timeout_ms, pl_reply_done done, void *arg);

#endif
