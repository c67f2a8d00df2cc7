/* search_clnt.h - the client stub of search-indexer (like Postfix global/).
 *
 * One nng REQ client per search-indexer instance. Instance i of N indexes
 * the partitions p of parley.messages with p % N == i; any instance answers
 * search.messages for any team (it asks every other instance for its part
 * and merges, docs/search.md "Scaling"). The gateway spreads the queries by
 * the caller's team (pl_search_clnt_call, pl_search_clnt_route); an
 * instance asks one given peer with pl_search_clnt_call_to. The Reply's
 * json is Slack's search.messages object without "ok".
 *
 * done runs once on the loop thread: rv 0 with the decoded reply (borrowed:
 * freed after done returns), or PL_ETIMEDOUT / PL_ECLOSED / PL_EPROTO with
 * reply NULL. A non-zero return from pl_search_clnt_call means done will
 * NOT be called. */
#ifndef PL_SEARCH_CLNT_H
#define PL_SEARCH_CLNT_H
#include "loop.h"
#include "parley.pb-c.h"

struct pl_search_clnt;

struct pl_search_clnt_conf {
	const char *run_dir;	/* for the ipc:// default */
	const char *urls;	/* optional: comma-separated URL per instance; its
				 * count is the instance count (default: one,
				 * ipc://<run>/search.ipc) */
	int timeout_ms;
};

typedef void (*pl_search_done)(int rv, Parley__Reply *reply, void *arg);

int pl_search_clnt_start(struct pl_loop *l, const struct pl_search_clnt_conf *conf,
    struct pl_search_clnt **r);
/* pl_search_clnt_route - the instance that answers a team's queries among n */
int pl_search_clnt_route(const char *team, int n);
/* pl_search_clnt_call - req to its caller's team's instance */
int pl_search_clnt_call(struct pl_search_clnt *c, const Parley__Request *req,
    pl_search_done done, void *arg);
/* pl_search_clnt_call_to - req to instance i (0 .. instances-1; PL_EINVAL
 * otherwise) */
int pl_search_clnt_call_to(struct pl_search_clnt *c, int i, const Parley__Request *req,
    pl_search_done done, void *arg);
int pl_search_clnt_instances(const struct pl_search_clnt *c);
void pl_search_clnt_stop(struct pl_search_clnt **c);

#endif
