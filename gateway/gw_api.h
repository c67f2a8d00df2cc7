/* gw_api.h - api.c: /api/<method>: the Web API's dispatch table. Its init
 * sets the server's API hooks (gw_server_set_api). */
#ifndef GW_API_H
#define GW_API_H

struct gw_conn;

/* registers gw_api_dispatch and gw_poll_free with the server */
int gw_api_init(void);
void gw_api_fini(void);
/* dispatch a complete /api request (params decoded) */
void gw_api_dispatch(struct gw_conn *c);

#endif
