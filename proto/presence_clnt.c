/* presence_clnt.c - reports to presence-svc over nng push (see presence_clnt.h). */
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
#include "rpc.h"

#define PL_PRESENCE_MAX 512	/* a report is ids and a word: far below this */

struct pl_presence_clnt {
	struct pl_rpc_push *push;
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

void
pl_presence_clnt_stop(struct pl_presence_clnt **c)
{
	if (*c == NULL)
		return;
	pl_rpc_push_stop(&(*c)->push);
	pl_free(c);
}
