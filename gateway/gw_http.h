/* gw_http.h - http.c: HTTP request state: the query string, form and JSON
 * bodies decoded into parameters, copies of headers and query arguments, and
 * writing responses. */
#ifndef GW_HTTP_H
#define GW_HTTP_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

struct gw_conn;
struct lws;

#define GW_PARAM_KEY_MAX 128	/* longest parameter name (Slack's are < 40) */
struct gw_param {
	char *key;
	char *val;
	size_t klen;
	uint32_t hash;
};
/* pairs in arrival order plus an index by key (idx: pair number + 1, 0 =
 * empty; idxcap a power of two, at least twice cap) */
struct gw_params {
	struct gw_param *v;
	size_t n, cap;
	uint32_t *idx;
	size_t idxcap;
};
/* add a pair: 0, PL_EPROTO (key too long) or PL_ETOOBIG (over the
 * PARLEY_MAX_PARAMS pairs; nothing added) */
int gw_params_add(struct gw_params *p, const char *key, size_t klen,
    const char *val, size_t vlen);
const char *gw_params_get(const struct gw_params *p, const char *key);
void gw_params_fini(struct gw_params *p);
/* decode "a=1&b=x%20y" (form / query encoding, '+' is space); the error of
 * the first pair refused (see gw_params_add) */
int gw_params_form(struct gw_params *p, const char *s, size_t len);
/* decode a JSON object body: strings kept, numbers/bools/arrays/objects as
 * their JSON text */
int gw_params_json(struct gw_params *p, const char *s, size_t len);
size_t gw_url_decode(char *s, size_t len);
/* Slack error code of a decoding failure: invalid_arguments (too many),
 * invalid_arg_name (key too long), invalid_arguments (a NUL), invalid_json */
const char *gw_params_error(int rv);
/* one fragment "key=value" of the query string, as lws split and decoded
 * it: gw_params_add's error, PL_EBADCHAR for a NUL */
int gw_params_query(struct gw_params *p, const char *frag, size_t len);

struct gw_http {
	char method[64];
	char *path;
	struct gw_params params;
	struct pl_buf body;		/* request body */
	char *ctype;
	char *auth;			/* Authorization header */
	char *host;
	int is_post;
	int too_large;			/* body over max-body: read and dropped */
	int param_err;			/* the query string's decoding error */
	size_t dropped;			/* bytes of it dropped */
	int status;
	int retry_after;
	struct pl_buf resp;
	const char *resp_type;
	int resp_ready;
	uint64_t start_us;
};
void gw_http_free(struct gw_http **h);
/* queue a response and ask for writable */
void gw_http_reply(struct gw_conn *c, int status, const char *ctype,
    const char *body, size_t len);
/* write a complete response now (inside an HTTP callback) */
int gw_http_respond(struct lws *wsi, int status, const char *ctype,
    const char *body, size_t len, int retry_after);
enum lws_token_indexes;
/* heap copies of a request header / query argument, NULL if absent */
char *gw_http_hdr(struct lws *wsi, enum lws_token_indexes h);
char *gw_http_arg(struct lws *wsi, const char *name);

#endif
