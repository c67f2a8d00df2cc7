/* fields.h - the bounds of the message fields a client supplies, checked
 * the same way by the gateway (before the request travels) and message-svc
 * (before the event is appended to the log): every value that reaches
 * parley.messages must be storable by PostgreSQL, or the row would stop the
 * shard's persistence (docs/security.md, "Poison rows").
 *
 * text: well-formed UTF-8 (its length in characters is checked by the
 * callers, whose limits differ: Web API and RTM). thread_ts and ts: the
 * canonical form message-svc itself writes. client_msg_id: UTF-8, at most
 * PL_FIELDS_CMID_MAX bytes. */
#ifndef PL_FIELDS_H
#define PL_FIELDS_H

#define PL_FIELDS_CMID_MAX 64	/* bytes of a client_msg_id */
#define PL_FIELDS_TS_MAX 19	/* bytes of a ts: 12 digits, '.', 6 digits */

/* pl_fields_ts_canonical - 1 when s is "<seconds>.<6 digits>" with no
 * leading zero (seconds "0" alone is allowed) and at most 12 digits of
 * seconds: exactly what message-svc formats */
int pl_fields_ts_canonical(const char *s);
/* pl_fields_message_error - the Slack error code for the fields of a new
 * or edited message, NULL when they may enter the log. Each argument may be
 * NULL or "" (absent). text: "invalid_arguments" when not UTF-8;
 * thread_ts: "invalid_thread_ts" when not canonical; client_msg_id:
 * "invalid_arguments" when not UTF-8 or longer than PL_FIELDS_CMID_MAX. */
const char *pl_fields_message_error(const char *text, const char *thread_ts,
    const char *cmid);

#endif
