/* presence_clnt_test.c - reports encode as the Envelopes presence-svc reads,
 * and travel over a real nng push/pull pair on the loop; a call travels
 * over a real REQ/REP pair and its Reply is decoded; without the RPC
 * client a call is refused and its callback never runs; presence.query's
 * connected flags are read from its answer. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "err.h"
#include "loop.h"
#include "parley.pb-c.h"
#include "pl_test.h"
#include "presence_clnt.h"
#include "rpc.h"

static const struct pl_presence_report typing = {
	"typing", "U1", "T1", "S1", "gw-1", "C9",
};
static const struct pl_presence_report connect_ = {
	"connect", "U2", "T1", "S2", "gw-1", NULL,
};

PL_TEST(test_encode_typing)
{
	uint8_t buf[512];
	size_t n = pl_presence_encode(&typing, 42, buf, sizeof(buf));
	Parley__Envelope *env = parley__envelope__unpack(NULL, n, buf);

	PL_CHECK(n > 0 && env != NULL);
	if (env == NULL)
		return;
	PL_CHECK_EQ_INT(env->type, PARLEY__EVENT_TYPE__USER_TYPING);
	PL_CHECK_EQ_INT(env->produced_us, 42);
	PL_CHECK_EQ_STR(env->presence->user, "U1");
	PL_CHECK_EQ_STR(env->presence->channel, "C9");
	PL_CHECK_EQ_STR(env->presence->presence, "typing");
	PL_CHECK_EQ_STR(env->idempotency_key, "S1:typing:42");
	parley__envelope__free_unpacked(env, NULL);
}

PL_TEST(test_encode_too_small)
{
	uint8_t buf[8];

	PL_CHECK_EQ_INT(pl_presence_encode(&connect_, 1, buf, sizeof(buf)), 0);
}

static struct {
	struct event_base *base;
	int got;
	int type;
	char user[16];
} rx;

/* on_pull - presence-svc's side: decode what arrived */
static void
on_pull(struct pl_rpc_req *req, const void *data, size_t len, void *arg)
{
	Parley__Envelope *env = parley__envelope__unpack(NULL, len, data);

	if (env != NULL) {
		rx.type = env->type;
		snprintf(rx.user, sizeof(rx.user), "%s", env->presence->user);
		parley__envelope__free_unpacked(env, NULL);
	}
	rx.got++;
	event_base_loopbreak(rx.base);
}

static void
on_deadline(void *arg)
{
	event_base_loopbreak(rx.base);
}

PL_TEST(test_push_over_nng)
{
	char dir[] = "/tmp/pl-presence-XXXXXX", url[128];
	struct pl_loop *l;
	struct pl_rpc_pull *pull = NULL;
	struct pl_presence_clnt *c = NULL;
	struct pl_timer *t = NULL;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "ipc://%s/presence.ipc", dir);
	rx.base = event_base_new();
	l = pl_loop_event_create(rx.base);
	PL_CHECK_EQ_INT(pl_rpc_pull_start(l, url, on_pull, NULL, &pull), 0);
	PL_CHECK_EQ_INT(pl_presence_clnt_start(l, url, &c), 0);
	PL_CHECK_EQ_INT(pl_loop_timer(l, 5000, 0, on_deadline, NULL, &t), 0);
	/* the push pipe may still be connecting: retry until one is queued */
	for (int i = 0; i < 100 && pl_presence_report(c, &connect_) != 0; i++)
		usleep(10000);
	event_base_dispatch(rx.base);
	PL_CHECK_EQ_INT(rx.got, 1);
	PL_CHECK_EQ_INT(rx.type, PARLEY__EVENT_TYPE__PRESENCE_CHANGE);
	PL_CHECK_EQ_STR(rx.user, "U2");
	pl_loop_timer_stop(&t);
	pl_presence_clnt_stop(&c);
	pl_rpc_pull_stop(&pull);
	pl_loop_free(&l);
	event_base_free(rx.base);
	unlink(url + strlen("ipc://"));
	rmdir(dir);
}

static struct {
	int served, answered, rv;
	char method[32], user[16], json[64];
} rpc;

/* on_request - presence-svc's side: decode, answer a Reply */
static void
on_request(struct pl_rpc_req *req, const void *data, size_t len, void *arg)
{
	Parley__Request *r = parley__request__unpack(NULL, len, data);
	Parley__Reply reply = PARLEY__REPLY__INIT;
	uint8_t buf[256];
	size_t n;

	if (r != NULL) {
		snprintf(rpc.method, sizeof(rpc.method), "%s", r->method);
		snprintf(rpc.user, sizeof(rpc.user), "%s", r->caller ? r->caller->user : "");
		parley__request__free_unpacked(r, NULL);
	}
	rpc.served++;
	reply.ok = 1;
	reply.json = "{\"presence\":\"away\"}";
	n = parley__reply__pack(&reply, buf);
	pl_rpc_reply(req, buf, n);
}

/* on_reply - the gateway's side */
static void
on_reply(int rv, Parley__Reply *reply, void *arg)
{
	rpc.answered++;
	rpc.rv = rv;
	if (reply != NULL && reply->ok)
		snprintf(rpc.json, sizeof(rpc.json), "%s", reply->json);
	event_base_loopbreak(rx.base);
}

PL_TEST(test_call_over_nng)
{
	char dir[] = "/tmp/pl-presence-XXXXXX", url[128], rpc_url[128];
	struct pl_loop *l;
	struct pl_rpc_server *srv = NULL;
	struct pl_presence_clnt *c = NULL;
	struct pl_timer *t = NULL;
	Parley__Request req = PARLEY__REQUEST__INIT;
	Parley__Caller caller = PARLEY__CALLER__INIT;

	PL_CHECK(mkdtemp(dir) != NULL);
	snprintf(url, sizeof(url), "ipc://%s/presence.ipc", dir);
	snprintf(rpc_url, sizeof(rpc_url), "ipc://%s/presence-rpc.ipc", dir);
	rx.base = event_base_new();
	l = pl_loop_event_create(rx.base);
	PL_CHECK_EQ_INT(pl_presence_clnt_start(l, url, &c), 0);
	req.method = "users.getPresence";
	caller.user = "U7";
	req.caller = &caller;
	/* no RPC client yet: refused, the callback never runs */
	PL_CHECK_EQ_INT(pl_presence_call(c, &req, on_reply, NULL), PL_EUNAVAIL);
	PL_CHECK_EQ_INT(pl_rpc_server_start(l, rpc_url, 1, on_request, NULL, &srv), 0);
	PL_CHECK_EQ_INT(pl_presence_clnt_rpc(c, rpc_url, 5000), 0);
	PL_CHECK_EQ_INT(pl_loop_timer(l, 5000, 0, on_deadline, NULL, &t), 0);
	PL_CHECK_EQ_INT(pl_presence_call(c, &req, on_reply, NULL), 0);
	event_base_dispatch(rx.base);
	PL_CHECK_EQ_INT(rpc.served, 1);
	PL_CHECK_EQ_INT(rpc.answered, 1);
	PL_CHECK_EQ_INT(rpc.rv, 0);
	PL_CHECK_EQ_STR(rpc.method, "users.getPresence");
	PL_CHECK_EQ_STR(rpc.user, "U7");
	PL_CHECK_EQ_STR(rpc.json, "{\"presence\":\"away\"}");
	pl_loop_timer_stop(&t);
	pl_presence_clnt_stop(&c);
	pl_rpc_server_stop(&srv);
	pl_loop_free(&l);
	event_base_free(rx.base);
	unlink(rpc_url + strlen("ipc://"));
	rmdir(dir);
}

/* presence.query's answer: the asked ids in order, some left out; anything
 * else is refused and leaves every flag 0 */
PL_TEST(test_connected_parse)
{
	const char *ids[] = { "U1", "U2", "U3", "U4" };
	int c[4] = { 9, 9, 9, 9 };

	PL_CHECK_EQ_INT(pl_presence_connected("{\"users\":[{\"id\":\"U1\","
	    "\"presence\":\"away\",\"connected\":true},{\"id\":\"U3\","
	    "\"presence\":\"active\",\"connected\":false},{\"id\":\"U4\","
	    "\"presence\":\"away\",\"connected\":true}]}", ids, 4, c), 0);
	PL_CHECK_EQ_INT(c[0], 1);
	PL_CHECK_EQ_INT(c[1], 0);	/* left out: not connected */
	PL_CHECK_EQ_INT(c[2], 0);
	PL_CHECK_EQ_INT(c[3], 1);
	/* an id not asked, or out of order */
	PL_CHECK_EQ_INT(pl_presence_connected("{\"users\":[{\"id\":\"U3\","
	    "\"connected\":true},{\"id\":\"U1\",\"connected\":true}]}", ids, 4, c),
	    PL_EPROTO);
	PL_CHECK_EQ_INT(c[0] + c[1] + c[2] + c[3], 0);
	PL_CHECK_EQ_INT(pl_presence_connected("{\"users\":[{\"id\":\"U9\","
	    "\"connected\":true}]}", ids, 4, c), PL_EPROTO);
	PL_CHECK_EQ_INT(pl_presence_connected("not json", ids, 4, c), PL_EPROTO);
	PL_CHECK_EQ_INT(pl_presence_connected("{}", ids, 4, c), PL_EPROTO);
	PL_CHECK_EQ_INT(pl_presence_connected(NULL, ids, 4, c), PL_EPROTO);
	PL_CHECK_EQ_INT(pl_presence_connected("{\"users\":[]}", ids, 4, c), 0);
	PL_CHECK_EQ_INT(c[0] + c[1] + c[2] + c[3], 0);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_connected_parse),
	PL_TEST_CASE(test_encode_typing),
	PL_TEST_CASE(test_encode_too_small),
	PL_TEST_CASE(test_push_over_nng),
	PL_TEST_CASE(test_call_over_nng),
};
PL_TEST_MAIN(tests)
