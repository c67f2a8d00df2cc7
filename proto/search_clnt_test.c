/* search_clnt_test.c - the search-indexer client stub: the URL list, routing
 * by team and to a given instance over real nng ipc servers (one per
 * instance), the default endpoint, and a timeout. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "loop.h"
#include "message_clnt.h"
#include "pl_test.h"
#include "rpc.h"
#include "search_clnt.h"
#include "shard.h"

/* answer - ok, json = {"i":<instance>,"team":<caller's team>} */
static void
answer(struct pl_rpc_req *rr, const void *data, size_t len, void *arg)
{
	Parley__Request *req = parley__request__unpack(NULL, len, data);
	Parley__Reply r = PARLEY__REPLY__INIT;
	char json[256];
	uint8_t out[512];

	r.ok = req != NULL;
	snprintf(json, sizeof(json), "{\"i\":%d,\"team\":\"%s\"}", *(int *)arg,
	    req && req->caller ? req->caller->team : "");
	r.json = json;
	pl_rpc_reply(rr, out, parley__reply__pack(&r, out));
	if (req)
		parley__request__free_unpacked(req, NULL);
}

struct result {
	int done, rv;
	char json[256];
};

static void
done(int rv, Parley__Reply *reply, void *arg)
{
	struct result *res = arg;

	res->done = 1;
	res->rv = rv;
	if (reply != NULL)
		snprintf(res->json, sizeof(res->json), "%s", reply->json);
}

/* spin - run the loop until *flag or about 5 s */
static void
spin(struct event_base *base, int *flag)
{
	int i;

	for (i = 0; i < 500 && !*flag; i++) {
		struct timeval tv = { 0, 10000 };

		event_base_loopexit(base, &tv);
		event_base_dispatch(base);
	}
}

/* call - one search.messages as team; the reply's json in res */
static void
call(struct event_base *base, struct pl_search_clnt *c, const char *team,
    struct result *res)
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;

	memset(res, 0, sizeof(*res));
	pl_request_init(&req, "search.messages");
	caller.user = "U1";
	caller.team = (char *)team;
	req.caller = &caller;
	PL_CHECK_EQ_INT(pl_search_clnt_call(c, &req, done, res), 0);
	req.caller = NULL;
	pl_request_fini(&req);
	spin(base, &res->done);
}

PL_TEST(test_routes_by_team)
{
	struct event_base *base = event_base_new();
	struct pl_loop *l = pl_loop_event_create(base);
	struct pl_rpc_server *srv[2] = { NULL, NULL };
	struct pl_search_clnt *c = NULL;
	struct pl_search_clnt_conf conf = { 0 };
	char dir[] = "/tmp/sc-test-XXXXXX", url[2][128], urls[300], team[16], want[64];
	static int idx[2] = { 0, 1 };
	int i, hits[2] = { 0, 0 };
	struct result res;

	PL_CHECK(mkdtemp(dir) != NULL);
	for (i = 0; i < 2; i++) {
		snprintf(url[i], sizeof(url[i]), "ipc://%s/search-%d.ipc", dir, i);
		PL_CHECK_EQ_INT(pl_rpc_server_start(l, url[i], 4, answer, &idx[i], &srv[i]), 0);
	}
	snprintf(urls, sizeof(urls), "%s,%s", url[0], url[1]);
	conf.urls = urls;
	conf.timeout_ms = 2000;
	PL_CHECK_EQ_INT(pl_search_clnt_start(l, &conf, &c), 0);
	PL_CHECK_EQ_INT(pl_search_clnt_instances(c), 2);
	for (i = 0; i < 20; i++) {
		int want_i;

		snprintf(team, sizeof(team), "T%03d", i);
		want_i = (int)(pl_shard_hash(team) % 2);
		PL_CHECK_EQ_INT(pl_search_clnt_route(team, 2), want_i);
		call(base, c, team, &res);
		PL_CHECK_EQ_INT(res.rv, 0);
		snprintf(want, sizeof(want), "{\"i\":%d,\"team\":\"%s\"}", want_i, team);
		PL_CHECK_EQ_STR(res.json, want);
		hits[want_i]++;
	}
	PL_CHECK(hits[0] > 0 && hits[1] > 0);
	PL_CHECK_EQ_INT(pl_search_clnt_route("T001", 1), 0);
	/* to a given instance, whatever the team; out of range refused */
	for (i = 0; i < 2; i++) {
		Parley__Request req;
		Parley__Caller caller = PARLEY__CALLER__INIT;

		memset(&res, 0, sizeof(res));
		pl_request_init(&req, "search.partial");
		caller.team = "T000";
		req.caller = &caller;
		PL_CHECK_EQ_INT(pl_search_clnt_call_to(c, i, &req, done, &res), 0);
		if (i == 0) {
			PL_CHECK_EQ_INT(pl_search_clnt_call_to(c, 2, &req, done, &res), PL_EINVAL);
			PL_CHECK_EQ_INT(pl_search_clnt_call_to(c, -1, &req, done, &res), PL_EINVAL);
		}
		req.caller = NULL;
		pl_request_fini(&req);
		spin(base, &res.done);
		PL_CHECK_EQ_INT(res.rv, 0);
		snprintf(want, sizeof(want), "{\"i\":%d,\"team\":\"T000\"}", i);
		PL_CHECK_EQ_STR(res.json, want);
	}
	pl_search_clnt_stop(&c);
	for (i = 0; i < 2; i++)
		pl_rpc_server_stop(&srv[i]);
	pl_loop_free(&l);
	event_base_free(base);
	for (i = 0; i < 2; i++) {
		snprintf(url[i], sizeof(url[i]), "%s/search-%d.ipc", dir, i);
		unlink(url[i]);
	}
	rmdir(dir);
}

PL_TEST(test_default_endpoint_and_timeout)
{
	struct event_base *base = event_base_new();
	struct pl_loop *l = pl_loop_event_create(base);
	struct pl_rpc_server *srv = NULL;
	struct pl_search_clnt *c = NULL;
	struct pl_search_clnt_conf conf = { 0 };
	char dir[] = "/tmp/sc-test-XXXXXX", url[128];
	static int zero = 0;
	struct result res;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "ipc://%s/search.ipc", dir);
	PL_CHECK_EQ_INT(pl_rpc_server_start(l, url, 4, answer, &zero, &srv), 0);
	conf.run_dir = dir;
	conf.timeout_ms = 200;
	PL_CHECK_EQ_INT(pl_search_clnt_start(l, &conf, &c), 0);
	PL_CHECK_EQ_INT(pl_search_clnt_instances(c), 1);
	call(base, c, "T9", &res);
	PL_CHECK_EQ_INT(res.rv, 0);
	PL_CHECK_EQ_STR(res.json, "{\"i\":0,\"team\":\"T9\"}");
	/* nobody answers: the call completes with a timeout */
	pl_rpc_server_stop(&srv);
	call(base, c, "T9", &res);
	PL_CHECK_EQ_INT(res.done, 1);
	PL_CHECK_EQ_INT(res.rv, PL_ETIMEDOUT);
	pl_search_clnt_stop(&c);
	pl_loop_free(&l);
	event_base_free(base);
	snprintf(url, sizeof(url), "%s/search.ipc", dir);
	unlink(url);
	rmdir(dir);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_routes_by_team),
	PL_TEST_CASE(test_default_endpoint_and_timeout),
};
PL_TEST_MAIN(tests)
