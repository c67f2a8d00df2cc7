/* state.c - the gateway's process-wide state and small shared helpers. */
#include <stdio.h>

#include "gw.h"
#include "ids.h"

struct gw_settings gw_conf;
struct gw gw;

/* gw_request_caller - fill the Caller of a Request (strings borrowed) */
void
gw_request_caller(Parley__Request *req, Parley__Caller *caller,
    const char *user, const char *team, int admin, const char *session)
{
	parley__caller__init(caller);
	caller->user = (char *)(user ? user : "");
	caller->team = (char *)(team ? team : "");
	caller->admin = admin;
	caller->session = (char *)(session ? session : "");
	req->caller = caller;
}

/* gw_request_key - 128 random bits, hex, as req's idempotency key */
void
gw_request_key(Parley__Request *req, char key[33])
{
	unsigned char raw[16];
	int i;

	/* encoded from a separate buffer, never in place */
	pl_random_bytes(raw, sizeof(raw));
	for (i = 0; i < 16; i++)
		snprintf(key + 2 * i, 3, "%02x", raw[i]);
	req->idempotency_key = key;
}
