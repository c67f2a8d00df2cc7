/* message_clnt_test.c - request helpers, routing, and a real round trip
 * through nng: a pl_rpc_server answering Replies on an ipc:// socket. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "breaker.h"
#include "err.h"
#include "loop.h"
#include "message_clnt.h"
#include "pl_test.h"
#include "rpc.h"
#include "shard.h"

PL_TEST(test_params)
{
	Parley__Request req;
	uint8_t buf[512];
	Parley__Request *back;
	size_t len;

	pl_request_init(&req, "chat.postMessage");
	pl_request_param(&req, "channel", "C1");
	pl_request_param(&req, "text", "hi");
	pl_request_param(&req, "text", "hello");
	PL_CHECK_EQ_STR(pl_request_get(&req, "text"), "hello");
	PL_CHECK_EQ_STR(pl_request_get(&req, "channel"), "C1");
	PL_CHECK(pl_request_get(&req, "nope") == NULL);
	PL_CHECK_EQ_INT(req.n_params, 2);
	len = parley__request__pack(&req, buf);
	back = parley__request__unpack(NULL, len, buf);
	PL_CHECK(back != NULL);
	if (back != NULL) {
		PL_CHECK_EQ_STR(back->method, "chat.postMessage");
		PL_CHECK_EQ_STR(pl_request_get(back, "text"), "hello");
		parley__request__free_unpacked(back, NULL);
	}
	pl_request_fini(&req);
	PL_CHECK_EQ_INT(req.n_params, 0);
}

static int served;

/* echo - answer ok with json = the method and the text param */
static void
echo(struct pl_rpc_req *rr, const void *data, size_t len, void *arg)
{
	Parley__Request *req = parley__request__unpack(NULL, len, data);
	Parley__Reply r = PARLEY__REPLY__INIT;
	char json[256];
	uint8_t out[512];

	served++;
	r.ok = req != NULL;
	snprintf(json, sizeof(json), "{\"m\":\"%s\",\"t\":\"%s\"}", req ? req->method : "",
	    req && pl_request_get(req, "text") ? pl_request_get(req, "text") : "");
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

PL_TEST(test_round_trip)
{
	struct event_base *base = event_base_new();
	struct pl_loop *l = pl_loop_event_create(base);
	struct pl_rpc_server *srv = NULL;
	struct pl_message_clnt *c = NULL;
	struct pl_message_clnt_conf conf = { 0 };
	char dir[] = "/tmp/mc-test-XXXXXX", url[128];
	struct result res = { 0 };
	Parley__Request req;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "ipc://%s/message-0.ipc", dir);
	PL_CHECK_EQ_INT(pl_rpc_server_start(l, url, 4, echo, NULL, &srv), 0);
	conf.run_dir = dir;
	conf.shard_count = 1;
	conf.partitions = 4;
	conf.timeout_ms = 2000;
	conf.breaker_threshold = 2;
	conf.breaker_open_ms = 60000;
	PL_CHECK_EQ_INT(pl_message_clnt_start(l, &conf, &c), 0);
	PL_CHECK_EQ_INT(pl_message_clnt_shards(c), 1);
	pl_request_init(&req, "auth.test");
	pl_request_param(&req, "text", "x");
	PL_CHECK_EQ_INT(pl_message_clnt_call(c, -1, &req, done, &res), 0);
	spin(base, &res.done);
	PL_CHECK_EQ_INT(res.rv, 0);
	PL_CHECK_EQ_STR(res.json, "{\"m\":\"auth.test\",\"t\":\"x\"}");
	PL_CHECK_EQ_INT(served, 1);

	/* server gone: timeouts open the breaker, then calls fail fast */
	pl_rpc_server_stop(&srv);
	conf.timeout_ms = 100;
	pl_message_clnt_stop(&c);
	PL_CHECK_EQ_INT(pl_message_clnt_start(l, &conf, &c), 0);
	for (int i = 0; i < 2; i++) {
		memset(&res, 0, sizeof(res));
		PL_CHECK_EQ_INT(pl_message_clnt_call(c, 0, &req, done, &res), 0);
		spin(base, &res.done);
		PL_CHECK_EQ_INT(res.rv, PL_ETIMEDOUT);
	}
	PL_CHECK_EQ_INT(pl_message_clnt_breaker_state(c, 0), PL_BREAKER_OPEN);
	PL_CHECK_EQ_INT(pl_message_clnt_call(c, 0, &req, done, &res), PL_EUNAVAIL);
	pl_request_fini(&req);
	pl_message_clnt_stop(&c);
	pl_loop_free(&l);
	event_base_free(base);
	snprintf(url, sizeof(url), "%s/message-0.ipc", dir);
	unlink(url);
	rmdir(dir);
}

PL_TEST(test_route)
{
	struct pl_message_clnt_conf conf = { 0 };
	struct event_base *base = event_base_new();
	struct pl_loop *l = pl_loop_event_create(base);
	struct pl_message_clnt *c = NULL;
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;

	conf.urls = "ipc:///tmp/mc-a.ipc,ipc:///tmp/mc-b.ipc";
	conf.shard_count = 2;
	conf.partitions = 8;
	PL_CHECK_EQ_INT(pl_message_clnt_start(l, &conf, &c), 0);
	pl_request_init(&req, "chat.postMessage");
	pl_request_param(&req, "channel", "C0123456789");
	PL_CHECK_EQ_INT(pl_message_clnt_route(c, &req), pl_shard_of_channel("C0123456789", 8, 2));
	pl_request_fini(&req);
	pl_request_init(&req, "session.boot");
	caller.team = "T42";
	req.caller = &caller;
	PL_CHECK_EQ_INT(pl_message_clnt_route(c, &req), pl_shard_of_team("T42", 8, 2));
	req.caller = NULL;
	pl_request_fini(&req);
	pl_message_clnt_stop(&c);
	pl_loop_free(&l);
	event_base_free(base);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_params),
	PL_TEST_CASE(test_round_trip),
	PL_TEST_CASE(test_route),
};
PL_TEST_MAIN(tests)
