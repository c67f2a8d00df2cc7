/* resend - send one packed Request to a message-svc shard twice, byte for
 * byte, as nng's REQ does when it resends (a lost pipe, its resend time),
 * and print both replies: the way to test that a resend is answered with
 * its original's outcome (message-svc/resend.c, dedupe.c).
 *
 *   resend --run-dir DIR --method M --team T --user U [--admin 1]
 *          [--key K] [--mode concurrent|after] [--shards 2]
 *          [--partitions 8] [--timeout-ms 30000] [name=value ...]
 *
 * --mode concurrent: both copies leave in the same loop turn (the second
 * reaches the shard while the first runs); after: the second leaves once
 * the first is answered. --key is the Request's idempotency_key (default:
 * 128 random bits in hex, as the gateway makes them). The shard is the
 * channel's (parameter "channel"), else the team's, as message_clnt routes.
 * Each copy goes on its own nng context, so nng sees two requests; what
 * message-svc sees is what it sees of a resend: the same Request bytes.
 *
 * Output, one line per copy in the order sent:
 *   {"copy":N,"rv":0,"ok":true,"error":"","warning":"","json":"<text>"}
 * Exit 0 when both were answered, 1 when one failed in transport, 2 on
 * usage. */
#include <event2/event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "ids.h"
#include "loop.h"
#include "mem.h"
#include "message_clnt.h"
#include "names.h"
#include "request_call.h"
#include "rpc.h"
#include "shard.h"

#define RS_COPIES 2

struct rs_answer {
	int done, rv, ok;
	char *error, *warning, *json;
};

static struct {
	const char *run_dir, *method, *team, *user, *key, *mode;
	int admin, shards, partitions, timeout_ms;
	struct event_base *base;
	struct pl_loop *loop;
	struct pl_rpc_client *rpc;
	uint8_t *req;			/* the packed Request */
	size_t req_len;
	struct rs_answer ans[RS_COPIES];
} rs;

/* rs_dup - a heap copy of s, "" for NULL */
static char *
rs_dup(const char *s)
{
	return pl_strdup(s ? s : "");
}

/* rs_replied - one copy's answer: decode and keep it */
static void
rs_replied(int rv, const void *data, size_t len, void *arg)
{
	struct rs_answer *a = arg;
	Parley__Reply *r = NULL;

	a->done = 1;
	a->rv = rv;
	if (rv == 0 && (r = parley__reply__unpack(NULL, len, data)) == NULL)
		a->rv = -1;
	a->ok = r != NULL && r->ok;
	a->error = rs_dup(r ? r->error : NULL);
	a->warning = rs_dup(r ? r->warning : NULL);
	a->json = rs_dup(r ? r->json : NULL);
	if (r != NULL)
		parley__reply__free_unpacked(r, NULL);
}

/* rs_send - copy i of the packed Request */
static int
rs_send(int i)
{
	return pl_rpc_call(rs.rpc, rs.req, rs.req_len, rs.timeout_ms, rs_replied,
	    &rs.ans[i]);
}

/* rs_wait - run the loop until copy i is answered */
static void
rs_wait(int i)
{
	while (!rs.ans[i].done)
		event_base_loop(rs.base, EVLOOP_ONCE);
}

/* rs_pack - the Request of the command line, packed once */
static void
rs_pack(int argc, char **argv, int first)
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;
	static char key[33];
	unsigned char raw[16];
	int i;

	pl_request_init(&req, rs.method);
	caller.team = (char *)rs.team;
	caller.user = (char *)rs.user;
	caller.admin = rs.admin;
	req.caller = &caller;
	req.source = "web";
	if (rs.key == NULL) {
		pl_random_bytes(raw, sizeof(raw));
		for (i = 0; i < 16; i++)
			snprintf(key + 2 * i, 3, "%02x", raw[i]);
		rs.key = key;
	}
	req.idempotency_key = (char *)rs.key;
	for (i = first; i < argc; i++) {
		char *eq = strchr(argv[i], '=');
		char *name;

		if (eq == NULL)
			continue;
		name = pl_strndup(argv[i], (size_t)(eq - argv[i]));
		pl_request_param(&req, name, eq + 1);
		free(name);
	}
	rs.req_len = parley__request__get_packed_size(&req);
	rs.req = pl_malloc(rs.req_len ? rs.req_len : 1);
	parley__request__pack(&req, rs.req);
	req.caller = NULL;
	req.source = NULL;
	req.idempotency_key = NULL;
	pl_request_fini(&req);
}

/* rs_shard - the shard that owns the request, as message_clnt routes it:
 * the channel's, else the caller's team's, else team_id's, else 0 */
static int
rs_shard(int argc, char **argv, int first)
{
	const char *team_id = NULL;
	int i;

	for (i = first; i < argc; i++) {
		if (strncmp(argv[i], "channel=", 8) == 0 && argv[i][8] != '\0')
			return pl_shard_of_channel(argv[i] + 8, rs.partitions, rs.shards);
		if (strncmp(argv[i], "team_id=", 8) == 0 && argv[i][8] != '\0')
			team_id = argv[i] + 8;
	}
	if (rs.team[0] != '\0')
		return pl_shard_of_team(rs.team, rs.partitions, rs.shards);
	return team_id ? pl_shard_of_team(team_id, rs.partitions, rs.shards) : 0;
}

/* rs_print - the answers as JSON lines */
static int
rs_print(void)
{
	struct pl_buf b;
	int i, bad = 0;

	pl_buf_init(&b);
	for (i = 0; i < RS_COPIES; i++) {
		struct rs_answer *a = &rs.ans[i];

		pl_buf_reset(&b);
		pl_buf_printf(&b, "{\"copy\":%d,\"rv\":%d,\"ok\":%s,\"error\":", i, a->rv,
		    a->ok ? "true" : "false");
		pl_buf_json_str(&b, a->error);
		pl_buf_puts(&b, ",\"warning\":");
		pl_buf_json_str(&b, a->warning);
		pl_buf_puts(&b, ",\"json\":");
		pl_buf_json_str(&b, a->json);
		pl_buf_puts(&b, "}");
		printf("%s\n", b.data);
		bad |= a->rv != 0;
		free(a->error);
		free(a->warning);
		free(a->json);
	}
	pl_buf_fini(&b);
	fflush(stdout);
	return bad ? 1 : 0;
}

/* rs_args - --name value pairs up to the first name=value; the index of
 * that one, or -1 */
static int
rs_args(int argc, char **argv)
{
	static const struct { const char *name; const char **v; } strs[] = {
		{ "--run-dir", &rs.run_dir }, { "--method", &rs.method },
		{ "--team", &rs.team }, { "--user", &rs.user }, { "--key", &rs.key },
		{ "--mode", &rs.mode },
	};
	static const struct { const char *name; int *v; } ints[] = {
		{ "--admin", &rs.admin }, { "--shards", &rs.shards },
		{ "--partitions", &rs.partitions }, { "--timeout-ms", &rs.timeout_ms },
	};
	size_t k;
	int i;

	rs.shards = 2;
	rs.partitions = PL_TOPIC_MESSAGES_PARTITIONS;
	rs.timeout_ms = 30000;
	rs.mode = "concurrent";
	rs.team = rs.user = "";
	for (i = 1; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
		if (i + 1 >= argc)
			return -1;
		for (k = 0; k < sizeof(strs) / sizeof(strs[0]); k++)
			if (strcmp(argv[i], strs[k].name) == 0)
				*strs[k].v = argv[i + 1];
		for (k = 0; k < sizeof(ints) / sizeof(ints[0]); k++)
			if (strcmp(argv[i], ints[k].name) == 0)
				*ints[k].v = atoi(argv[i + 1]);
	}
	if (rs.run_dir == NULL || rs.method == NULL || rs.shards < 1 ||
	    rs.partitions < 1 || (strcmp(rs.mode, "concurrent") != 0 &&
	    strcmp(rs.mode, "after") != 0))
		return -1;
	return i;
}

int
main(int argc, char **argv)
{
	int first, rv = 1;
	char *url;

	if ((first = rs_args(argc, argv)) < 0) {
		fprintf(stderr, "usage: resend --run-dir DIR --method M --team T --user U"
		    " [--admin 1] [--key K] [--mode concurrent|after] [--shards N]"
		    " [--partitions P] [--timeout-ms MS] [name=value ...]\n");
		return 2;
	}
	rs_pack(argc, argv, first);
	url = pl_endpoint(PL_EP_MESSAGE_FMT, rs.run_dir, rs_shard(argc, argv, first), NULL);
	rs.base = event_base_new();
	rs.loop = pl_loop_event_create(rs.base);
	if (pl_rpc_client_start(rs.loop, url, rs.timeout_ms, &rs.rpc) != 0)
		goto out;
	if (rs_send(0) != 0)
		goto out;
	if (strcmp(rs.mode, "after") == 0)
		rs_wait(0);
	if (rs_send(1) != 0)
		goto out;
	rs_wait(0);
	rs_wait(1);
	rv = rs_print();
out:
	if (rs.rpc != NULL)
		pl_rpc_client_stop(&rs.rpc);
	pl_loop_free(&rs.loop);
	event_base_free(rs.base);
	free(rs.req);
	free(url);
	return rv;
}
