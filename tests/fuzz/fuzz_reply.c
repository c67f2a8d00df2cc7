/* fuzz_reply.c - the gateway's decoder of message-svc replies: one input is
 * one nng reply body, decoded as proto/message_clnt.c decodes it (protobuf-c
 * Reply); its boot (session.boot: the caller, the team, the channels with
 * kinds and epochs) is taken into the real edge cache by a new connection
 * (gw_cache_attach, as gw_conn_booted does), checked, and taken out again
 * (gw_cache_detach, as a closing connection does). message-svc is a trusted
 * peer, but a malformed reply must be dropped, never crash the gateway. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_gw.h"
#include "gw.h"
#include "gw_cache.h"
#include "gw_conn.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	Parley__Reply *r;
	struct gw_conn c;
	size_t i;

	(void)fuzz_gw_conn();
	if ((r = parley__reply__unpack(NULL, size, data)) == NULL)
		return 0;
	if (r->ok && r->boot != NULL) {
		memset(&c, 0, sizeof(c));
		c.fd = -1;
		strcpy(c.user, "U9");
		strcpy(c.team, "T1");
		strcpy(c.session, "S9");
		gw_conn_register(&c);
		gw_cache_attach(&c, r->boot);
		for (i = 0; i < c.nchans; i++)
			if (!gw_cache_member(&c, c.chans[i]->id))
				abort();
		gw_cache_detach(&c);
		gw_conn_unregister(&c);
	}
	parley__reply__free_unpacked(r, NULL);
	return 0;
}
