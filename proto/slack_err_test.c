/* slack_err_test.c - the decided PL_E* -> Slack code mapping, place by place. */
#include "err.h"
#include "pl_test.h"
#include "slack_err.h"

/* a method's own dependencies: what message-svc's ms_call_rv_error answered */
PL_TEST(test_call)
{
	PL_CHECK_EQ_STR(pl_slack_error(PL_EINVAL), "invalid_arguments");
	PL_CHECK_EQ_STR(pl_slack_error(PL_EPERM), "not_allowed");
	PL_CHECK_EQ_STR(pl_slack_error(PL_EAGAIN), "not_ready");
	PL_CHECK_EQ_STR(pl_slack_error(PL_EUNAVAIL), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_error(PL_ETIMEDOUT), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_error(PL_EIO), "internal_error");
	PL_CHECK_EQ_STR(pl_slack_error(PL_ENOTFOUND), "internal_error");
	PL_CHECK_EQ_STR(pl_slack_error(-5), "internal_error");	/* -errno */
}

/* a call to another daemon: transport failures only, what the gateway's
 * gw_rtm_rpc_error answered (an nng EINVAL is not the client's argument) */
PL_TEST(test_rpc)
{
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_EUNAVAIL), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_ETIMEDOUT), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_ECLOSED), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_ETOOBIG), "response_too_large");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_EINVAL), "internal_error");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_EAGAIN), "internal_error");
	PL_CHECK_EQ_STR(pl_slack_rpc_error(PL_EPERM), "internal_error");
}

/* a channel look-up: the five copies disagreed (edit, react, open and
 * history answered channel_not_found for a timeout). A backend failure is
 * service_unavailable, whichever method looked the channel up. */
PL_TEST(test_chan)
{
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_ENOTFOUND), "channel_not_found");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_EPROTO), "wrong_shard");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_ETIMEDOUT), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_EUNAVAIL), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_ECLOSED), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_EAGAIN), "service_unavailable");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_EIO), "internal_error");
	PL_CHECK_EQ_STR(pl_slack_chan_error(PL_EINVAL), "internal_error");
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_call),
	PL_TEST_CASE(test_rpc),
	PL_TEST_CASE(test_chan),
};
PL_TEST_MAIN(tests)
