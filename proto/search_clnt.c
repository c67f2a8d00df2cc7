/* search_clnt.c - the client stub of search-indexer (see search_clnt.h). */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "log.h"
#include "mem.h"
#include "names.h"
#include "rpc.h"
#include "request_call.h"
#include "search_clnt.h"
#include "shard.h"

#define SC_MAX 1024

struct pl_search_clnt {
	int n;
	int timeout_ms;
	struct pl_rpc_client **rpc;
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

/* pl_search_clnt_route - hash(team) % n: spreads the teams over the instances */
int
pl_search_clnt_route(const char *team, int n)
{
	return n <= 1 ? 0 : (int)(pl_shard_hash(team ? team : "") % (uint32_t)n);
}

/* pl_search_clnt_call - encode req and send it to its team's instance */
int
pl_search_clnt_call(struct pl_search_clnt *c, const Parley__Request *req,
    pl_search_done done, void *arg)
{
	const char *team = req->caller ? req->caller->team : "";

	return pl_request_call(c->rpc[pl_search_clnt_route(team, c->n)], req,
	    c->timeout_ms, done, arg);
}

/* pl_search_clnt_call_to - encode req and send it to instance i */
int
pl_search_clnt_call_to(struct pl_search_clnt *c, int i, const Parley__Request *req,
    pl_search_done done, void *arg)
{
	if (i < 0 || i >= c->n)
		return PL_EINVAL;
	return pl_request_call(c->rpc[i], req, c->timeout_ms, done, arg);
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
