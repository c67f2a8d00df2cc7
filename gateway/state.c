/* state.c - the gateway's process-wide state and small shared helpers. */
#include "gw.h"

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
