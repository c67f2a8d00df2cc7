/* presence_clnt.c - reports to presence-svc over nng push, and calls to its
 * RPC socket over nng REQ (see presence_clnt.h). */
#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "mem.h"
#include "names.h"
#include "parley.pb-c.h"
#include "presence_clnt.h"
#include "request_call.h"
#include "rpc.h"

#define PL_PRESENCE_MAX 512	/* a report is ids and a word: far below this */

struct pl_presence_clnt {
	struct pl_rpc_push *push;
	struct pl_rpc_client *rpc;
	struct pl_loop *loop;
	int timeout_ms;
};

int
pl_presence_clnt_start(struct pl_loop *l, const char *url,
    struct pl_presence_clnt **r)
{
	struct pl_presence_clnt *c = pl_calloc(1, sizeof(*c));
	int rv;

	if ((rv = pl_rpc_push_start(l, url, &c->push)) != 0) {
		free(c);
		return rv;
	}
	c->loop = l;
	*r = c;
	return 0;
}

/* pl_presence_str - protobuf-c wants non-NULL strings */
static char *
pl_presence_str(const char *s)
{
	return (char *)(s ? s : "");
}

size_t
pl_presence_encode(const struct pl_presence_report *r, int64_t now_us,
    uint8_t *buf, size_t size)
{
	Parley__Envelope env = PARLEY__ENVELOPE__INIT;
	Parley__Presence p = PARLEY__PRESENCE__INIT;
	char key[160];
	size_t n;

	env.type = r->channel ? PARLEY__EVENT_TYPE__USER_TYPING :
	    PARLEY__EVENT_TYPE__PRESENCE_CHANGE;
	env.version = PL_ENVELOPE_VERSION;
	env.produced_us = now_us;
	snprintf(key, sizeof(key), "%s:%s:%lld", pl_presence_str(r->session),
	    pl_presence_str(r->what), (long long)now_us);
	env.idempotency_key = key;
	env.team = pl_presence_str(r->team);
	p.user = pl_presence_str(r->user);
	p.team = pl_presence_str(r->team);
	p.presence = pl_presence_str(r->what);
	p.channel = pl_presence_str(r->channel);
	p.gateway = pl_presence_str(r->gateway);
	p.session = pl_presence_str(r->session);
	env.body_case = PARLEY__ENVELOPE__BODY_PRESENCE;
	env.presence = &p;
	n = parley__envelope__get_packed_size(&env);
	if (n > size)
		return 0;
	return parley__envelope__pack(&env, buf);
}

int
pl_presence_report(struct pl_presence_clnt *c, const struct pl_presence_report *r)
{
	uint8_t buf[PL_PRESENCE_MAX];
	size_t n = pl_presence_encode(r, (int64_t)pl_clock_wall_us(), buf, sizeof(buf));

	if (n == 0)
		return PL_ETOOBIG;
	return pl_rpc_push(c->push, buf, n);
}

int
pl_presence_clnt_rpc(struct pl_presence_clnt *c, const char *rpc_url,
    int timeout_ms)
{
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	return pl_rpc_client_start(c->loop, rpc_url,
	    c->timeout_ms, &c->rpc);
}

int
pl_presence_call(struct pl_presence_clnt *c, const Parley__Request *req,
    pl_presence_done done, void *arg)
{
	if (c == NULL || c->rpc == NULL)
		return PL_EUNAVAIL;
	return pl_request_call(c->rpc, req, c->timeout_ms, done, arg);
}

/* pl_presence_connected - the answer lists the asked ids in the asked order
 * (some left out): one cursor walks ids, so the work is O(n + answer) */
int
pl_presence_connected(const char *json, const char *const *ids, size_t n,
    int *connected)
{
	cJSON *j = NULL, *users, *u, *id, *c;
	size_t at = 0, i;
	int rv = PL_EPROTO;

	for (i = 0; i < n; i++)
		connected[i] = 0;
	if (json == NULL || (j = cJSON_Parse(json)) == NULL)
		goto fail;
	users = cJSON_GetObjectItemCaseSensitive(j, "users");
	if (!cJSON_IsArray(users))
		goto fail;
	cJSON_ArrayForEach(u, users) {
		id = cJSON_GetObjectItemCaseSensitive(u, "id");
		c = cJSON_GetObjectItemCaseSensitive(u, "connected");
		if (!cJSON_IsString(id))
			goto fail;
		while (at < n && strcmp(ids[at], id->valuestring) != 0)
			at++;
		if (at == n)
			goto fail;	/* not asked, or out of order */
		connected[at++] = cJSON_IsTrue(c);
	}
	rv = 0;
fail:
	if (rv != 0)
		for (i = 0; i < n; i++)
			connected[i] = 0;
	cJSON_Delete(j);
	return rv;
}

void
pl_presence_clnt_stop(struct pl_presence_clnt **c)
{
	if (*c == NULL)
		return;
	if ((*c)->rpc != NULL)
		pl_rpc_client_stop(&(*c)->rpc);
	pl_rpc_push_stop(&(*c)->push);
	pl_free(c);
}
