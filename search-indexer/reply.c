/* reply.c - the Reply to a request on the indexer's RPC port, for
 * search.messages (answer.c) and the internal methods (gather.c). */
#include <stdlib.h>

#include "mem.h"
#include "parley.pb-c.h"
#include "rpc.h"
#include "search.h"

/* si_reply_send - ok with json, or an error code */
void
si_reply_send(struct pl_rpc_req *rpc, const char *error, const char *json)
{
	Parley__Reply r = PARLEY__REPLY__INIT;
	size_t len;
	uint8_t *buf;

	r.ok = error == NULL;
	r.error = (char *)(error ? error : "");
	r.json = (char *)(json ? json : "");
	len = parley__reply__get_packed_size(&r);
	buf = pl_malloc(len ? len : 1);
	parley__reply__pack(&r, buf);
	pl_rpc_reply(rpc, buf, len);
	free(buf);
}
