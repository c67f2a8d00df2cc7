/* slack_err.c - PL_E* -> Slack error code, one table (see slack_err.h). */
#include <stddef.h>

#include "err.h"
#include "slack_err.h"

enum {
	SE_CALL = 1,
	SE_RPC = 2,
	SE_CHAN = 4,
	SE_ALL = SE_CALL | SE_RPC | SE_CHAN,
};

/* first row of the caller's place that names rv wins */
static const struct {
	int rv;
	int where;
	const char *code;
} slack_errs[] = {
	{ PL_ENOTFOUND, SE_CHAN, "channel_not_found" },
	{ PL_EPROTO, SE_CHAN, "wrong_shard" },	/* routed to a shard that does not own it */
	{ PL_EINVAL, SE_CALL, "invalid_arguments" },
	{ PL_EPERM, SE_CALL, "not_allowed" },
	{ PL_EAGAIN, SE_CALL, "not_ready" },
	{ PL_EAGAIN, SE_CHAN, "service_unavailable" },	/* the query queue is full */
	{ PL_ETOOBIG, SE_RPC, "response_too_large" },	/* more than the RPC layer carries */
	{ PL_EUNAVAIL, SE_ALL, "service_unavailable" },
	{ PL_ETIMEDOUT, SE_ALL, "service_unavailable" },
	{ PL_ECLOSED, SE_RPC | SE_CHAN, "service_unavailable" },
};

/* slack_err_find - the code of rv in place where, internal_error if none */
static const char *
slack_err_find(int rv, int where)
{
	size_t i;

	for (i = 0; i < sizeof(slack_errs) / sizeof(slack_errs[0]); i++)
		if (slack_errs[i].rv == rv && (slack_errs[i].where & where) != 0)
			return slack_errs[i].code;
	return "internal_error";
}

/* pl_slack_error - the Slack code of a PL_E* from a method's dependency */
const char *
pl_slack_error(int rv)
{
	return slack_err_find(rv, SE_CALL);
}

/* pl_slack_rpc_error - the Slack code of a failed call to another daemon */
const char *
pl_slack_rpc_error(int rv)
{
	return slack_err_find(rv, SE_RPC);
}

/* pl_slack_chan_error - the Slack code of a failed channel look-up */
const char *
pl_slack_chan_error(int rv)
{
	return slack_err_find(rv, SE_CHAN);
}
