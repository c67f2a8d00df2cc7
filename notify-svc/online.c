/* online.c - "who of these users has a live connection": the one question
 * push asks, asked of presence-svc over its RPC socket (presence.query, in
 * batches of at most PL_PRESENCE_QUERY_MAX users; its per-user "connected"
 * is a live session or a reconnect grace, away or not). notify-svc reads
 * nothing of presence-svc's data layout.
 *
 * When presence-svc does not answer within presence-timeout-ms (down, its
 * Redis down, an undecodable answer), every recipient counts as offline:
 * the push goes out. A push to someone who is reading is less bad than a
 * notification that never comes (docs/notify.md "Who is online"). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "err.h"
#include "log.h"
#include "mem.h"
#include "message_clnt.h"
#include "metrics.h"
#include "names.h"
#include "notify.h"
#include "parley.pb-c.h"
#include "presence_clnt.h"
#include "request_call.h"
#include "rpc.h"
#include "settings.h"

#define NS_ONLINE_CALLER "notify-svc"	/* presence.query's caller user */

static struct {
	struct pl_rpc_client *rpc;
	struct pl_metric *m_calls, *m_unavail;
	int closing;			/* ns_online_fini: answers touch nothing */
} no;

/* one ns_online question */
struct online_q {
	int *online;
	int left, failed;
	ns_online_fn done;
	void *arg;
};

/* one presence.query call: users [from, from + n) */
struct online_part {
	struct online_q *q;
	const char **ids;
	int from, n;
};

/* ns_online_init - the REQ client of presence-svc's RPC socket */
int
ns_online_init(struct pl_loop *loop)
{
	char *url = pl_endpoint(PL_EP_PRESENCE_RPC_FMT, pl_settings.run_dir, 0,
	    ns_conf.presence_rpc_url);
	int rv;

	no.m_calls = pl_metrics_counter("parley_notify_presence_calls_total",
	    "presence.query calls asking who is connected.", NULL);
	no.m_unavail = pl_metrics_counter("parley_notify_presence_unavailable_total",
	    "presence.query calls that failed: their users counted as offline.", NULL);
	rv = pl_rpc_client_start(loop, url, (int)ns_conf.presence_timeout_ms, &no.rpc);
	if (rv != 0)
		pl_log_error("NS-PRESENCE-CLIENT", "url=%s err=%s", url, pl_err_str(rv));
	free(url);
	return rv;
}

/* ns_online_fini - pending calls complete (PL_ECLOSED) first, and their
 * questions end there: done is not called, online[] not touched (the
 * caller is stopping) */
void
ns_online_fini(void)
{
	no.closing = 1;
	if (no.rpc != NULL)
		pl_rpc_client_stop(&no.rpc);
}

/* online_part_done - one part answered (or not): the question is over when
 * every part is */
static void
online_part_done(struct online_part *p, int rv)
{
	struct online_q *q = p->q;
	int i;

	if (no.closing) {
		free(p->ids);
		free(p);
		if (--q->left == 0)
			free(q);
		return;
	}
	if (rv != 0) {
		pl_metrics_inc(no.m_unavail);
		for (i = 0; i < p->n; i++)
			q->online[p->from + i] = 0;
		q->failed = 1;
	}
	free(p->ids);
	free(p);
	if (--q->left == 0) {
		if (q->failed)
			pl_log_warn("NS-PRESENCE-UNAVAILABLE", "users=offline");
		q->done(0, q->arg);
		free(q);
	}
}

/* online_replied - presence.query's answer for one part */
static void
online_replied(int rv, Parley__Reply *reply, void *arg)
{
	struct online_part *p = arg;

	if (rv == 0 && !reply->ok)
		rv = PL_EUNAVAIL;
	if (rv == 0 && !no.closing)
		rv = pl_presence_connected(reply->json, p->ids, (size_t)p->n,
		    p->q->online + p->from);
	online_part_done(p, rv);
}

/* online_ask - one presence.query for part p of the users */
static void
online_ask(struct online_part *p, const char *team, char (*users)[NS_ID_MAX + 1])
{
	Parley__Request req;
	Parley__Caller caller = PARLEY__CALLER__INIT;
	struct pl_buf ids;
	int i, rv;

	pl_buf_init(&ids);
	p->ids = pl_calloc((size_t)p->n, sizeof(*p->ids));
	for (i = 0; i < p->n; i++) {
		p->ids[i] = users[p->from + i];
		pl_buf_printf(&ids, "%s%s", i ? "," : "", users[p->from + i]);
	}
	pl_request_init(&req, "presence.query");
	pl_request_param(&req, "users", ids.data);
	caller.user = (char *)NS_ONLINE_CALLER;
	caller.team = (char *)team;
	req.caller = &caller;
	pl_metrics_inc(no.m_calls);
	rv = pl_request_call(no.rpc, &req, (int)ns_conf.presence_timeout_ms,
	    online_replied, p);
	req.caller = NULL;
	pl_request_fini(&req);
	pl_buf_fini(&ids);
	if (rv != 0)
		online_part_done(p, rv);
}

/* ns_online - ask for users[0..n), all of team (users must outlive done) */
int
ns_online(const char *team, char (*users)[NS_ID_MAX + 1], int n, int *online,
    ns_online_fn done, void *arg)
{
	struct online_q *q;
	int from, parts;

	if (n <= 0 || no.rpc == NULL)
		return PL_EINVAL;
	parts = (n + PL_PRESENCE_QUERY_MAX - 1) / PL_PRESENCE_QUERY_MAX;
	q = pl_calloc(1, sizeof(*q));
	q->online = online;
	q->left = parts;
	q->done = done;
	q->arg = arg;
	for (from = 0; from < n; from += PL_PRESENCE_QUERY_MAX) {
		struct online_part *p = pl_calloc(1, sizeof(*p));

		p->q = q;
		p->from = from;
		p->n = n - from < PL_PRESENCE_QUERY_MAX ? n - from : PL_PRESENCE_QUERY_MAX;
		online_ask(p, team, users);
	}
	return 0;
}
