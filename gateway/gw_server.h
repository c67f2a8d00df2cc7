/* gw_server.h - server.c: the lws context on the libuv loop, the one
 * protocol callback and HTTP routing on the client port. /api requests and
 * any other GET go up to the front-ends through hooks they set at their
 * init. */
#ifndef GW_SERVER_H
#define GW_SERVER_H

struct gw_conn;
struct lws;

/* The HTTP front-ends above the server register at their init. */
struct gw_server_api_ops {
	/* a complete /api/<method> request, parameters decoded (api.c) */
	void (*dispatch)(struct gw_conn *c);
	/* an HTTP connection went away: drop what a front-end held on it
	 * (a held events.poll) */
	void (*closed)(struct gw_conn *c);
};
void gw_server_set_api(const struct gw_server_api_ops *ops);
/* any other GET: a static file (static.c); returns as an lws callback */
typedef int (*gw_server_file_fn)(struct lws *wsi, const char *path);
void gw_server_set_files(gw_server_file_fn fn);
int gw_server_start(void);
/* stop listening (drain); existing connections stay */
void gw_server_deprecate(void);
void gw_server_stop(void);
/* after the loop ran dry: lws frees the context (foreign loop) */
void gw_server_free(void);

#endif
