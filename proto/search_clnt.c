/* search_clnt.c - the client stub of search-indexer (see search_clnt.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "names.h"
#include "rpc.h"
#include "search_clnt.h"
#include "shard.h"

#define SC_MAX 1024

struct pl_search_clnt {
	int n;
	int timeout_ms;
	struct pl_rpc_client **rpc;
};

struct sc_call {
	pl_search_done done;
	void *arg;
};

/* pl_search_clnt_start - one REQ client per URL of the list (or the ipc default) */
int
pl_search_clnt_start(struct pl_loop *l, const struct pl_search_clnt_conf *conf,
    struct pl_search_clnt **r)
{
	struct pl_search_clnt *c = pl_calloc(1, sizeof(*c));
	const char *p = conf->urls;
	int rv = 0;

	c->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 5000;
	c->rpc = pl_calloc(SC_MAX, sizeof(*c->rpc));
	if (p == NULL || p[0] == '\0') {
		char *url = pl_endpoint(PL_EP_SEARCH_FMT, conf->run_dir, 0, NULL);

		rv = pl_rpc_client_start(l, url, c->timeout_ms, &c->rpc[c->n++]);
		free(url);
	}
	while (rv == 0 && p != NULL && p[0] != '\0' && c->n < SC_MAX) {
		const char *end = strchr(p, ',');
		char *url = pl_strndup(p, end ? (size_t)(end - p) : strlen(p));

		rv = pl_rpc_client_start(l, url, c->timeout_ms, &c->rpc[c->n++]);
		free(url);
		p = end ? end + 1 : NULL;
	}
	if (rv != 0) {
		pl_log_error("SC-START-FAIL", "instance=%d err=%s", c->n - 1, pl_err_str(rv));
		c->n--;
		pl_search_clnt_stop(&c);
		return rv;
	}
	*r = c;
	return 0;
}

/* pl_search_clnt_route - hash(team) % n, the indexer's own split (index.c) */
int
pl_search_clnt_route(const char *team, int n)
{
	return n <= 1 ? 0 : (int)(pl_shard_hash(team ? team : "") % (uint32_t)n);
}

/* sc_done - decode the reply and hand it to the caller */
static void
sc_done(int rv, const void *data, size_t len, void *arg)
{
	struct sc_call *call = arg;
	Parley__Reply *reply = NULL;

	if (rv == 0 && (reply = parley__reply__unpack(NULL, len, data)) == NULL)
		rv = PL_EPROTO;
	call->done(rv, reply, call->arg);
	if (reply != NULL)
		parley__reply__free_unpacked(reply, NULL);
	free(call);
}

/* pl_search_clnt_call - encode req and send it to its team's instance */
int
pl_search_clnt_call(struct pl_search_clnt *c, const Parley__Request *req,
    pl_search_done done, void *arg)
{
	const char *team = req->caller ? req->caller->team : "";
	size_t len = parley__request__get_packed_size(req);
	uint8_t *buf = pl_malloc(len ? len : 1);
	struct sc_call *call = pl_malloc(sizeof(*call));
	int rv;

	parley__request__pack(req, buf);
	call->done = done;
	call->arg = arg;
	rv = pl_rpc_call(c->rpc[pl_search_clnt_route(team, c->n)], buf, len, c->timeout_ms,
	    sc_done, call);
	free(buf);
	if (rv != 0)
		free(call);
	return rv;
}

int
pl_search_clnt_instances(const struct pl_search_clnt *c)
{
	return c->n;
}

/* pl_search_clnt_stop - pending calls complete with PL_ECLOSED first */
void
pl_search_clnt_stop(struct pl_search_clnt **c)
{
	int i;

	if (*c == NULL)
		return;
	for (i = 0; i < (*c)->n; i++)
		pl_rpc_client_stop(&(*c)->rpc[i]);
	free((*c)->rpc);
	pl_free(c);
}
