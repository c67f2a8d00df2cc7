/* gw_static.h - static.c: the web client's files from PARLEY_WEB_DIR at /. */
#ifndef GW_STATIC_H
#define GW_STATIC_H

struct lws;

int gw_static_serve(struct lws *wsi, const char *path);
/* register gw_static_serve with the server (gw_server_set_files) */
int gw_static_init(void);

#endif
