/* slack_err.h - the one table from Parley's errors (PL_E*) to Slack error
 * codes, for every daemon that answers a client.
 *
 * Which code an error earns depends on where it came from, so each row says
 * in which of three places it applies:
 *   call  a dependency of the service answering the method (PostgreSQL, the
 *         directory, a rights check): pl_slack_error
 *   rpc   the transport of a call to another daemon, which says nothing of
 *         the caller's arguments or rights: pl_slack_rpc_error
 *   chan  a channel look-up (message-svc's ms_chan_get): pl_slack_chan_error
 * A backend failure (down, breaker open, timed out, closed, queue full) is
 * never the client's fault: `service_unavailable`, never `channel_not_found`.
 * Anything the table does not name is `internal_error`. */
#ifndef PL_SLACK_ERR_H
#define PL_SLACK_ERR_H

/* pl_slack_error - the Slack code of a PL_E* from a method's dependency */
const char *pl_slack_error(int rv);
/* pl_slack_rpc_error - the Slack code of a failed call to another daemon */
const char *pl_slack_rpc_error(int rv);
/* pl_slack_chan_error - the Slack code of a failed channel look-up */
const char *pl_slack_chan_error(int rv);

#endif
