/* post.c - chat.postMessage: validate, de-duplicate, append, answer after the
 * broker's acknowledgement.
 *
 * Idempotency: the same (channel, user, client_msg_id) within 24 h returns
 * the original message. Checked in memory first (in-flight and recent sends,
 * and everything the consumer read from the log since its committed offset),
 * then in PostgreSQL (older ones). While PostgreSQL is down the second check
 * is skipped so sends keep working (counted by MS-DEDUPE-PG-SKIP). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "event_json.h"
#include "fields.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "ms_methods.h"
#include "ms_pure.h"
#include "pg.h"
#include "slack_err.h"
#include "utf8.h"

#define MS_TEXT_MAX 40000
#define MS_TEXT_MAX_RTM 4000

struct post {
	struct ms_call *c;
	struct ms_chan *ch;
	Parley__Message m;
	struct pl_buf key;
	char *ts;		/* heap ts of a message found in PostgreSQL */
};

/* post_free - the handler state (with the call) */
static void
post_free(void *p)
{
	struct post *st = p;

	if (st->m.ts != NULL && st->m.ts != protobuf_c_empty_string)
		free(st->m.ts);
	pl_buf_fini(&st->key);
	free(st);
}

/* ms_post_message_json - {"channel","ts","message":{…}} */
void
ms_post_message_json(const Parley__Message *m, struct pl_buf *b)
{
	pl_buf_puts(b, "{\"channel\":");
	pl_buf_json_str(b, m->channel);
	pl_buf_puts(b, ",\"ts\":");
	pl_buf_json_str(b, m->ts);
	pl_buf_puts(b, ",\"message\":");
	pl_message_obj_json(m, b);
	pl_buf_puts(b, "}");
}

/* post_reply_msg - ok with Reply.message and the Slack json */
static void
post_reply_msg(struct ms_call **c, const Parley__Message *m)
{
	Parley__Reply r;
	struct pl_buf b;

	pl_buf_init(&b);
	ms_post_message_json(m, &b);
	parley__reply__init(&r);
	r.ok = 1;
	r.json = b.data;
	r.message = (Parley__Message *)m;
	ms_call_reply(c, &r);
	pl_buf_fini(&b);
}

/* post_chan_error - the Slack code for a failed channel look-up */
static void
post_chan_error(struct ms_call **c, int rv)
{
	ms_call_error(c, pl_slack_chan_error(rv));
}

/* post_sent - the broker acknowledged (or not): settle and answer */
static void
post_sent(int rv, Parley__Message *m, void *arg)
{
	struct post *st = arg;

	ms_dedupe_finish(st->key.data, rv, m);
	if (rv != 0) {
		ms_call_error(&st->c, "internal_error");
		return;
	}
	pl_metrics_inc(ms_m.sends);
	post_reply_msg(&st->c, m);
}

/* post_dup_done - a resend waited for the original's outcome */
static void
post_dup_done(int rv, const Parley__Message *m, void *arg)
{
	struct post *st = arg;

	if (rv != 0)
		ms_call_error(&st->c, "internal_error");
	else
		post_reply_msg(&st->c, m);
}

/* post_append - a new message: reserve the key, append to the log */
static void
post_append(struct post *st)
{
	struct ms_call *c = st->c;
	int rv;

	ms_dedupe_begin(st->key.data);
	st->m.user = (char *)c->user;
	st->m.team = (char *)c->team;
	st->m.text = (char *)ms_param(c, "text");
	st->m.thread_ts = (char *)ms_param(c, "thread_ts");
	st->m.client_msg_id = (char *)ms_param(c, "client_msg_id");
	rv = ms_send_append(st->ch, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &st->m,
	    st->key.len ? st->key.data : NULL, post_sent, st);
	if (rv != 0) {
		ms_dedupe_finish(st->key.data, rv, NULL);
		ms_call_rv_error(&st->c, rv == PL_EAGAIN ? PL_EUNAVAIL : rv);
	}
}

/* post_pg_dup - the PostgreSQL half of the idempotency check */
static void
post_pg_dup(int rv, struct pg_result *res, void *arg)
{
	struct post *st = arg;
	struct ms_dedupe_entry *e;

	if (rv != 0)
		pl_log_warn("MS-DEDUPE-PG-SKIP", "channel=%s err=%s", st->ch->id, pl_err_str(rv));
	if (rv == 0 && PQntuples(res) > 0) {
		pl_metrics_inc(ms_m.dedupe_hits);
		st->m.channel = st->ch->id;
		st->m.seq = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		st->m.ts = pl_strdup(PQgetvalue(res, 0, 1));
		st->m.text = PQgetvalue(res, 0, 2);
		st->m.thread_ts = PQgetvalue(res, 0, 3);
		st->m.user = (char *)st->c->user;
		st->m.team = st->ch->team;
		st->m.client_msg_id = (char *)ms_param(st->c, "client_msg_id");
		post_reply_msg(&st->c, &st->m);
		return;
	}
	/* a resend may have arrived while we were asking */
	if ((e = ms_dedupe_get(st->key.data)) != NULL) {
		if (e->pending)
			ms_dedupe_wait(e, post_dup_done, st);
		else
			post_reply_msg(&st->c, e->msg);
		return;
	}
	post_append(st);
}

/* post_check - membership and state of the channel for the caller */
static const char *
post_check(const struct ms_chan *ch, const struct ms_call *c)
{
	if (strcmp(ch->team, c->team) != 0)
		return "channel_not_found";
	if (ch->archived)
		return "is_archived";
	if (!ms_chan_is_member(ch, c->user))
		return "not_in_channel";
	return NULL;
}

/* post_chan_ready - the channel is known: check, de-duplicate, append */
static void
post_chan_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct post *st = arg;
	struct ms_call *c = st->c;
	struct ms_dedupe_entry *e;
	const char *why, *cmid = ms_param(c, "client_msg_id");
	char since[32];
	const char *p[4];

	if (rv != 0) {
		post_chan_error(&st->c, rv);
		return;
	}
	if ((why = post_check(ch, c)) != NULL) {
		ms_call_error(&st->c, why);
		return;
	}
	st->ch = ch;
	ms_dedupe_key(ch->id, c->user, cmid, c->req->idempotency_key, &st->key);
	if ((e = ms_dedupe_get(st->key.data)) != NULL) {
		pl_metrics_inc(ms_m.dedupe_hits);
		if (e->pending)
			ms_dedupe_wait(e, post_dup_done, st);
		else
			post_reply_msg(&st->c, e->msg);
		return;
	}
	if (cmid[0] == '\0') {
		post_append(st);
		return;
	}
	snprintf(since, sizeof(since), "%llu",
	    (unsigned long long)(pl_clock_wall_us() - 24ULL * 3600 * 1000000));
	p[0] = ch->id;
	p[1] = c->user;
	p[2] = cmid;
	p[3] = since;
	rv = pl_pg_query(ms.pg, "SELECT seq, ts, text, thread_ts FROM messages"
	    " WHERE channel_id = $1 AND user_id = $2 AND client_msg_id = $3"
	    " AND ts_us > $4 LIMIT 1", 4, p, post_pg_dup, st);
	if (rv != 0)
		post_pg_dup(rv, NULL, st);
}

/* ms_post_message - chat.postMessage (and RTM sends, source "rtm") */
int
ms_post_message(struct ms_call *c)
{
	const char *text = ms_param(c, "text"), *thread = ms_param(c, "thread_ts");
	const char *cmid = ms_param(c, "client_msg_id"), *bad;
	const char *src = c->req->source ? c->req->source : "";
	size_t max = strcmp(src, "rtm") == 0 ? MS_TEXT_MAX_RTM : MS_TEXT_MAX;
	struct post *st;
	uint64_t us;

	if (ms_param(c, "channel")[0] == '\0') {
		ms_call_error(&c, "channel_not_found");
		return 0;
	}
	if (text[0] == '\0') {
		ms_call_error(&c, "no_text");
		return 0;
	}
	if (pl_utf8_len(text) > max) {
		ms_call_error(&c, "msg_too_long");
		return 0;
	}
	if (thread[0] != '\0' && ms_seq_ts_parse(thread, &us) != 0) {
		ms_call_error(&c, "invalid_thread_ts");
		return 0;
	}
	/* everything appended must be storable (fields.h): one refused row
	 * would otherwise cost a quarantine in the persister */
	if ((bad = pl_fields_message_error(text, thread, cmid)) != NULL) {
		pl_metrics_inc(ms_m.bad_input);
		ms_call_error(&c, bad);
		return 0;
	}
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	parley__message__init(&st->m);
	pl_buf_init(&st->key);
	pl_buf_puts(&st->key, "");
	c->state = st;
	c->state_free = post_free;
	ms_chan_get(ms_param(c, "channel"), post_chan_ready, st);
	return 0;
}
