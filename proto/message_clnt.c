/* message_clnt.c - the client stub of message-svc (see message_clnt.h): one
 * nng REQ client and one circuit breaker per shard, Request encoding and
 * Reply decoding, and the request parameter helpers. */
#include <stdlib.h>
#include <string.h>

#include "breaker.h"
#include "clock.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "names.h"
#include "rpc.h"
#include "shard.h"

struct mc_shard {
	char *url;
	struct pl_rpc_client *rpc;
	struct pl_breaker breaker;
};

struct pl_message_clnt {
	struct pl_loop *loop;
	int nshards;
	int partitions;
	int timeout_ms;
	struct mc_shard *shards;
};

struct mc_call {
	struct pl_message_clnt *clnt;
	int shard;
	pl_message_done done;
	void *arg;
};

/* mc_url - the URL of shard i: from the comma list, else the ipc endpoint */
static char *
mc_url(const struct pl_message_clnt_conf *conf, int i)
{
	const char *p = conf->urls, *end;
	int k;

	if (p == NULL || p[0] == '\0')
		return pl_endpoint(PL_EP_MESSAGE_FMT, conf->run_dir, i, NULL);
	for (k = 0; k < i && p != NULL; k++) {
		p = strchr(p, ',');
		if (p != NULL)
			p++;
	}
	if (p == NULL)
		return NULL;
	end = strchr(p, ',');
	return pl_strndup(p, end ? (size_t)(end - p) : strlen(p));
}

/* pl_message_clnt_start - one REQ client per shard */
int
pl_message_clnt_start(struct pl_loop *l, const struct pl_message_clnt_conf *conf,
    struct pl_message_clnt **r)
{
	struct pl_message_clnt *c;
	int i, rv = PL_EINVAL;

	if (conf->shard_count <= 0)
		return PL_EINVAL;
	c = pl_calloc(1, sizeof(*c));
	c->loop = l;
	c->nshards = conf->shard_count;
	c->partitions = conf->partitions > 0 ? conf->partitions : 1;
	c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
	c->shards = pl_calloc((size_t)c->nshards, sizeof(*c->shards));
	for (i = 0; i < c->nshards; i++) {
		struct mc_shard *s = &c->shards[i];

		pl_breaker_init(&s->breaker, conf->breaker_threshold > 0 ?
		    (unsigned)conf->breaker_threshold : 5, conf->breaker_open_ms > 0 ?
		    (uint64_t)conf->breaker_open_ms : 2000);
		if ((s->url = mc_url(conf, i)) == NULL)
			goto fail;
		if ((rv = pl_rpc_client_start(l, s->url, conf->resend_ms, &s->rpc)) != 0)
			goto fail;
	}
	*r = c;
	return 0;
fail:
	pl_log_error("MC-START-FAIL", "shard=%d err=%s", i, pl_err_str(rv));
	pl_message_clnt_stop(&c);
	return rv;
}

/* pl_message_clnt_route - the channel's shard, else the caller's team's */
int
pl_message_clnt_route(const struct pl_message_clnt *c, const Parley__Request *req)
{
	const char *ch = pl_request_get(req, "channel");

	if (ch != NULL && ch[0] != '\0')
		return pl_shard_of_channel(ch, c->partitions, c->nshards);
	if (req->caller != NULL && req->caller->team != NULL && req->caller->team[0])
		return pl_shard_of_team(req->caller->team, c->partitions, c->nshards);
	ch = pl_request_get(req, "team_id");
	if (ch != NULL && ch[0] != '\0')
		return pl_shard_of_team(ch, c->partitions, c->nshards);
	return 0;
}

/* mc_done - decode the reply, feed the breaker, hand it to the caller */
static void
mc_done(int rv, const void *data, size_t len, void *arg)
{
	struct mc_call *call = arg;
	struct mc_shard *s = &call->clnt->shards[call->shard];
	Parley__Reply *reply = NULL;

	if (rv == 0) {
		reply = parley__reply__unpack(NULL, len, data);
		if (reply == NULL)
			rv = PL_EPROTO;
		pl_breaker_success(&s->breaker);
	} else if (rv == PL_ETOOBIG) {
		pl_breaker_success(&s->breaker);	/* it answered: too much */
	} else if (rv != PL_ECLOSED) {
		pl_breaker_failure(&s->breaker, pl_clock_mono_ms());
	}
	call->done(rv, reply, call->arg);
	if (reply != NULL)
		parley__reply__free_unpacked(reply, NULL);
	free(call);
}

/* mc_batchable - methods whose replies all wait for about the same thing
 * (the broker's acknowledgement of one append), so that those made in one
 * loop turn may share an nng request (pl_rpc_call_batch) */
static int
mc_batchable(const Parley__Request *req)
{
	return req->method != NULL && strcmp(req->method, "chat.postMessage") == 0;
}

/* pl_message_clnt_call - encode req and send it to shard (or its route).
 * Returns 0 when done will run; otherwise (PL_EUNAVAIL: breaker open,
 * PL_EINVAL) done is not called. */
int
pl_message_clnt_call(struct pl_message_clnt *c, int shard,
    const Parley__Request *req, pl_message_done done, void *arg)
{
	struct mc_call *call;
	struct mc_shard *s;
	uint8_t *buf;
	size_t len;
	int rv;

	if (c == NULL)
		return PL_EUNAVAIL;
	if (shard < 0)
		shard = pl_message_clnt_route(c, req);
	if (shard >= c->nshards)
		return PL_EINVAL;
	s = &c->shards[shard];
	if (!pl_breaker_allow(&s->breaker, pl_clock_mono_ms()))
		return PL_EUNAVAIL;
	len = parley__request__get_packed_size(req);
	buf = pl_malloc(len ? len : 1);
	parley__request__pack(req, buf);
	call = pl_calloc(1, sizeof(*call));
	call->clnt = c;
	call->shard = shard;
	call->done = done;
	call->arg = arg;
	rv = (mc_batchable(req) ? pl_rpc_call_batch : pl_rpc_call)(s->rpc, buf,
	    len, c->timeout_ms, mc_done, call);
	free(buf);
	if (rv != 0) {
		pl_breaker_failure(&s->breaker, pl_clock_mono_ms());
		free(call);
	}
	return rv;
}

int
pl_message_clnt_breaker_state(const struct pl_message_clnt *c, int shard)
{
	if (shard < 0 || shard >= c->nshards)
		return PL_EINVAL;
	return (int)c->shards[shard].breaker.state;
}

int
pl_message_clnt_shards(const struct pl_message_clnt *c)
{
	return c->nshards;
}

/* pl_message_clnt_stop - pending calls complete with PL_ECLOSED first */
void
pl_message_clnt_stop(struct pl_message_clnt **cp)
{
	struct pl_message_clnt *c = *cp;
	int i;

	if (c == NULL)
		return;
	for (i = 0; i < c->nshards; i++) {
		if (c->shards[i].rpc != NULL)
			pl_rpc_client_stop(&c->shards[i].rpc);
		free(c->shards[i].url);
	}
	free(c->shards);
	free(c);
	*cp = NULL;
}

/* pl_request_init - an empty request for method (heap copy) */
void
pl_request_init(Parley__Request *req, const char *method)
{
	parley__request__init(req);
	req->method = pl_strdup(method);
}

/* pl_request_param - set key to value (copies; replaces an earlier value) */
void
pl_request_param(Parley__Request *req, const char *key, const char *value)
{
	Parley__Request__ParamsEntry *e;
	size_t i;

	for (i = 0; i < req->n_params; i++) {
		e = req->params[i];
		if (strcmp(e->key, key) == 0) {
			free(e->value);
			e->value = pl_strdup(value ? value : "");
			return;
		}
	}
	e = pl_malloc(sizeof(*e));
	parley__request__params_entry__init(e);
	e->key = pl_strdup(key);
	e->value = pl_strdup(value ? value : "");
	req->params = pl_realloc(req->params, (req->n_params + 1) * sizeof(*req->params));
	req->params[req->n_params++] = e;
}

/* pl_request_get - the value of key, or NULL */
const char *
pl_request_get(const Parley__Request *req, const char *key)
{
	size_t i;

	for (i = 0; i < req->n_params; i++) {
		if (req->params[i]->key != NULL && strcmp(req->params[i]->key, key) == 0)
			return req->params[i]->value;
	}
	return NULL;
}

/* pl_request_fini - free what pl_request_init/_param allocated (method and
 * params; caller, source and idempotency_key stay the caller's) */
void
pl_request_fini(Parley__Request *req)
{
	size_t i;

	for (i = 0; i < req->n_params; i++) {
		free(req->params[i]->key);
		free(req->params[i]->value);
		free(req->params[i]);
	}
	free(req->params);
	if (req->method != NULL && req->method != protobuf_c_empty_string)
		free(req->method);
	parley__request__init(req);
}
