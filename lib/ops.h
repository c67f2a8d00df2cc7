/* ops.h - the operator endpoints: /healthz, /readyz, /metrics.
 *
 * The content is loop-agnostic (pl_ops_handle); pl_daemon_main serves it on
 * the daemon's ops port with pl_ops_http_start (libevent, ops.c) or
 * pl_ops_uv_start (libuv, ops_uv.c); the gateway's client port answers
 * /healthz and /readyz from it too.
 * /healthz is 200 while the process runs its loop; /readyz is 200 when every
 * registered check passes (503 with the failing checks listed otherwise);
 * /metrics is the registry in Prometheus text format. */
#ifndef PL_OPS_H
#define PL_OPS_H
#include "buf.h"

struct event_base;
struct uv_loop_s;
struct pl_ops_http;
struct pl_ops_uv;

/* a readiness check: return 1 when ready; may append a reason to why */
typedef int (*pl_ops_check_fn)(void *arg, struct pl_buf *why);

void pl_ops_add_check(const char *name, pl_ops_check_fn fn, void *arg);
/* pl_ops_set_draining - while draining /readyz answers 503 "draining". */
void pl_ops_set_draining(int on);
/* pl_ops_handle - fill body for path; returns the HTTP status (404 for others). */
int pl_ops_handle(const char *path, struct pl_buf *body, const char **content_type_r);

/* pl_ops_http_start - serve the ops paths on addr ("127.0.0.1:9101", port 0
 * picks a free one). If port_file is non-empty the bound port is written to
 * it (written to a temp file, then renamed into place). */
int pl_ops_http_start(struct event_base *base, const char *addr,
    const char *port_file, struct pl_ops_http **r);
void pl_ops_http_stop(struct pl_ops_http **h);
int pl_ops_http_port(const struct pl_ops_http *h);

/* pl_ops_uv_start - the same on a libuv loop (not SO_REUSEPORT: a taken port
 * is an error, the libuv error code as a negative errno). Stop before the
 * loop's last run: the server is freed in its close callback. */
int pl_ops_uv_start(struct uv_loop_s *uv, const char *addr,
    const char *port_file, struct pl_ops_uv **r);
void pl_ops_uv_stop(struct pl_ops_uv **h);
int pl_ops_uv_port(const struct pl_ops_uv *h);

/* pl_write_file - write text + "\n" to path atomically (tmp + rename),
 * creating missing parent directories. */
int pl_write_file(const char *path, const char *text);
/* pl_write_port_file - write "port\n" to path the same way. */
int pl_write_port_file(const char *path, int port);
/* pl_parse_hostport - split "host:port" ("[::1]:80" too). host_r is heap. */
int pl_parse_hostport(const char *addr, char **host_r, int *port_r);

#endif
