/* gw_rtm.h - rtm.c: client frames of the WebSocket (RTM): a table from type
 * to handler. Its init sets the connections' up-calls (gw_conn_ops). */
#ifndef GW_RTM_H
#define GW_RTM_H
#include <stddef.h>

struct gw_conn;

/* register the connection hooks (gw_conn_set_ops) */
int gw_rtm_init(void);
/* parse one client frame and dispatch it by type; < 0 hangs up */
int gw_rtm_frame(struct gw_conn *c, const char *text, size_t len);

#endif
