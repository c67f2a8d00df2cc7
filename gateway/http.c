/* http.c - HTTP request state: parameters from the query string, form and
 * JSON bodies, and writing responses.
 *
 * Parameters are Slack's: strings. A JSON body's strings are taken as they
 * are; other JSON values (numbers, booleans, arrays, objects) are passed on
 * as their JSON text, which is what a form-encoded Slack call would carry. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cjson/cJSON.h>
#include <libwebsockets.h>

#include "buf.h"
#include "err.h"
#include "gw.h"
#include "gw_http.h"
#include "hash.h"
#include "json.h"
#include "log.h"
#include "mem.h"

/* Parameters are bounded before anything else looks at them: at most
 * PARLEY_MAX_PARAMS pairs (a Slack method takes fewer than 50) and keys of
 * at most GW_PARAM_KEY_MAX bytes. A repeated key is found through a small
 * open-addressing index (hash -> pair), so adding n pairs costs O(n), never
 * the O(n^2) of comparing each new key with every earlier one. */
#define GW_PARAMS_DEFAULT_MAX 100

/* gw_params_max - the pair cap: the setting, or the default when unset */
static size_t
gw_params_max(void)
{
	return gw_conf.max_params > 0 ? (size_t)gw_conf.max_params : GW_PARAMS_DEFAULT_MAX;
}

/* gw_params_slot - index slot of key: its pair's, or the empty one where
 * it would go (the index is at most half full) */
static size_t
gw_params_slot(const struct gw_params *p, const char *key, size_t klen, uint32_t h)
{
	size_t mask = p->idxcap - 1, i = h & mask;
	const struct gw_param *q;

	while (p->idx[i] != 0) {
		q = &p->v[p->idx[i] - 1];
		if (q->hash == h && q->klen == klen && memcmp(q->key, key, klen) == 0)
			break;
		i = (i + 1) & mask;
	}
	return i;
}

/* gw_params_reindex - a larger index (twice the pairs' capacity, a power
 * of two), refilled from the pairs */
static void
gw_params_reindex(struct gw_params *p)
{
	size_t i, n = 16;

	while (n < 2 * p->cap)
		n *= 2;
	free(p->idx);
	p->idx = pl_calloc(n, sizeof(*p->idx));
	p->idxcap = n;
	for (i = 0; i < p->n; i++)
		p->idx[gw_params_slot(p, p->v[i].key, p->v[i].klen, p->v[i].hash)] =
		    (uint32_t)(i + 1);
}

/* gw_params_add - append key=value (copied); a repeated key replaces.
 * PL_EPROTO for a key over GW_PARAM_KEY_MAX bytes, PL_ETOOBIG when the
 * pair cap is reached (nothing is added then) */
int
gw_params_add(struct gw_params *p, const char *key, size_t klen,
    const char *val, size_t vlen)
{
	uint32_t h;
	size_t slot;

	if (klen > GW_PARAM_KEY_MAX)
		return PL_EPROTO;
	h = pl_hash_fnv1a(key, klen);
	if (p->idxcap != 0) {
		slot = gw_params_slot(p, key, klen, h);
		if (p->idx[slot] != 0) {
			free(p->v[p->idx[slot] - 1].val);
			p->v[p->idx[slot] - 1].val = pl_strndup(val, vlen);
			return 0;
		}
	}
	if (p->n >= gw_params_max())
		return PL_ETOOBIG;
	if (p->n == p->cap) {
		p->v = pl_grow(p->v, &p->cap, p->n + 1, 8, sizeof(*p->v));
		gw_params_reindex(p);
	}
	p->v[p->n].key = pl_strndup(key, klen);
	p->v[p->n].val = pl_strndup(val, vlen);
	p->v[p->n].klen = klen;
	p->v[p->n].hash = h;
	p->n++;
	p->idx[gw_params_slot(p, key, klen, h)] = (uint32_t)p->n;
	return 0;
}

/* gw_params_get - value of key or NULL */
const char *
gw_params_get(const struct gw_params *p, const char *key)
{
	size_t klen = strlen(key), slot;

	if (p->idxcap == 0)
		return NULL;
	slot = gw_params_slot(p, key, klen, pl_hash_fnv1a(key, klen));
	return p->idx[slot] ? p->v[p->idx[slot] - 1].val : NULL;
}

/* gw_params_fini - free every pair */
void
gw_params_fini(struct gw_params *p)
{
	size_t i;

	for (i = 0; i < p->n; i++) {
		free(p->v[i].key);
		free(p->v[i].val);
	}
	free(p->v);
	free(p->idx);
	memset(p, 0, sizeof(*p));
}

/* gw_hexval - value of a hex digit or -1 */
static int
gw_hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* gw_url_decode - decode %XX and '+' in place; returns the new length */
size_t
gw_url_decode(char *s, size_t len)
{
	size_t i, o = 0;
	int hi, lo;

	for (i = 0; i < len; i++) {
		if (s[i] == '+') {
			s[o++] = ' ';
		} else if (s[i] == '%' && i + 2 < len &&
		    (hi = gw_hexval(s[i + 1])) >= 0 &&
		    (lo = gw_hexval(s[i + 2])) >= 0) {
			s[o++] = (char)(hi * 16 + lo);
			i += 2;
		} else {
			s[o++] = s[i];
		}
	}
	s[o] = 0;
	return o;
}

/* gw_params_form - decode application/x-www-form-urlencoded text; stops at
 * the first pair gw_params_add refuses and returns its error. PL_EBADCHAR
 * for a NUL, raw or %00 (C strings would cut the rest off) */
int
gw_params_form(struct gw_params *p, const char *s, size_t len)
{
	char *copy, *pair, *save = NULL, *eq;
	size_t kl, vl;
	int rv = 0;

	if (memchr(s, 0, len) != NULL)
		return PL_EBADCHAR;
	copy = pl_strndup(s, len);
	for (pair = strtok_r(copy, "&", &save); pair != NULL && rv == 0;
	    pair = strtok_r(NULL, "&", &save)) {
		eq = strchr(pair, '=');
		if (eq != NULL)
			*eq++ = 0;
		kl = gw_url_decode(pair, strlen(pair));
		vl = eq ? gw_url_decode(eq, strlen(eq)) : 0;
		if (strlen(pair) != kl || (eq != NULL && strlen(eq) != vl))
			rv = PL_EBADCHAR;
		else if (kl > 0)
			rv = gw_params_add(p, pair, kl, eq ? eq : "", vl);
	}
	free(copy);
	return rv;
}

/* gw_params_query - one query fragment "key=value" (lws split the query at
 * '&' and url-decoded it); a fragment without '=' or a key is ignored.
 * gw_params_add's error, or PL_EBADCHAR when it holds a NUL (%00) */
int
gw_params_query(struct gw_params *p, const char *frag, size_t len)
{
	const char *eq = memchr(frag, '=', len);

	if (memchr(frag, 0, len) != NULL)
		return PL_EBADCHAR;
	if (eq != NULL && eq > frag)
		return gw_params_add(p, frag, (size_t)(eq - frag), eq + 1,
		    len - (size_t)(eq + 1 - frag));
	return 0;
}

/* gw_params_json - decode a JSON object body: PL_EINVAL when it is not
 * exactly one object, PL_EBADCHAR when a string holds a NUL (\u0000) */
int
gw_params_json(struct gw_params *p, const char *s, size_t len)
{
	cJSON *o = NULL, *it;
	char *text;
	int rv = 0;

	if (pl_json_parse(s, len, &o) != 0 || !cJSON_IsObject(o)) {
		cJSON_Delete(o);
		return PL_EINVAL;
	}
	if (pl_json_has_nul(s, len)) {
		cJSON_Delete(o);
		return PL_EBADCHAR;
	}
	for (it = o->child; it != NULL && rv == 0; it = it->next) {
		if (cJSON_IsString(it)) {
			rv = gw_params_add(p, it->string, strlen(it->string),
			    it->valuestring, strlen(it->valuestring));
			continue;
		}
		if (cJSON_IsNull(it))
			continue;
		text = cJSON_PrintUnformatted(it);
		rv = gw_params_add(p, it->string, strlen(it->string), text, strlen(text));
		free(text);
	}
	cJSON_Delete(o);
	return rv;
}

/* gw_params_error - the Slack error code of a decoding failure */
const char *
gw_params_error(int rv)
{
	switch (rv) {
	case PL_ETOOBIG: return "invalid_arguments";
	case PL_EPROTO: return "invalid_arg_name";
	case PL_EBADCHAR: return "invalid_arguments";	/* a NUL */
	default: return "invalid_json";
	}
}

/* gw_http_free - free a request state */
void
gw_http_free(struct gw_http **hp)
{
	struct gw_http *h = *hp;

	if (h == NULL)
		return;
	free(h->path);
	gw_params_fini(&h->params);
	pl_buf_fini(&h->body);
	pl_buf_fini(&h->resp);
	free(h->ctype);
	free(h->auth);
	free(h->host);
	pl_free(hp);
}

/* gw_http_respond - write status, headers and body now; 0 or -1 (hang up) */
int
gw_http_respond(struct lws *wsi, int status, const char *ctype,
    const char *body, size_t len, int retry_after)
{
	unsigned char hdr[LWS_PRE + 1024], *start = hdr + LWS_PRE, *p = start,
	    *end = hdr + sizeof(hdr) - 1;
	unsigned char *out;
	char ra[16];
	int n;

	if (lws_add_http_common_headers(wsi, (unsigned int)status, ctype,
	    (lws_filepos_t)len, &p, end))
		return -1;
	if (retry_after > 0) {
		n = snprintf(ra, sizeof(ra), "%d", retry_after);
		if (lws_add_http_header_by_name(wsi, (const unsigned char *)"retry-after:",
		    (const unsigned char *)ra, n, &p, end))
			return -1;
	}
	if (lws_add_http_header_by_name(wsi, (const unsigned char *)"cache-control:",
	    (const unsigned char *)"no-store", 8, &p, end))
		return -1;
	if (lws_finalize_write_http_header(wsi, start, &p, end))
		return -1;
	if (len == 0)
		return 0;
	out = pl_malloc(LWS_PRE + len);
	memcpy(out + LWS_PRE, body, len);
	n = lws_write(wsi, out + LWS_PRE, len, LWS_WRITE_HTTP_FINAL);
	free(out);
	return n < 0 ? -1 : 0;
}

/* gw_http_reply - keep a response for the writable callback */
void
gw_http_reply(struct gw_conn *c, int status, const char *ctype,
    const char *body, size_t len)
{
	struct gw_http *h = c->http;

	if (h == NULL || h->resp_ready)
		return;
	h->status = status;
	h->resp_type = ctype;
	pl_buf_reset(&h->resp);
	pl_buf_append(&h->resp, body, len);
	h->resp_ready = 1;
	lws_callback_on_writable(c->wsi);
}

/* gw_http_hdr - heap copy of header h, or NULL if absent */
char *
gw_http_hdr(struct lws *wsi, enum lws_token_indexes h)
{
	int n = lws_hdr_total_length(wsi, h);
	char *s;

	if (n <= 0)
		return NULL;
	s = pl_malloc((size_t)n + 1);
	if (lws_hdr_copy(wsi, s, n + 1, h) < 0) {
		free(s);
		return NULL;
	}
	return s;
}

/* gw_http_arg - heap copy of query argument name, or NULL */
char *
gw_http_arg(struct lws *wsi, const char *name)
{
	char key[64], buf[4096];
	const char *v;

	snprintf(key, sizeof(key), "%s=", name);
	v = lws_get_urlarg_by_name(wsi, key, buf, sizeof(buf));
	return v ? pl_strdup(v) : NULL;
}
