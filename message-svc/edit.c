/* edit.c - chat.update and chat.delete.
 *
 * Only the author may edit or delete a message. The change is an event on
 * parley.messages (MESSAGE_CHANGED / MESSAGE_DELETED) that takes the
 * channel's next seq like any other, so every member sees it in order, and
 * the persistence consumer applies it to the messages row. The target is
 * looked up in PostgreSQL with the channel's tail applied (target.c), so a
 * message sent a millisecond ago can be edited, and two edits in flight are
 * ordered by their seq. The reply goes after the broker's acknowledgement. */
#include <stdlib.h>
#include <string.h>

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
#include "slack_err.h"
#include "utf8.h"

#define MS_TEXT_MAX 40000

struct edit {
	struct ms_call *c;
	struct ms_chan *ch;
	int del;
	Parley__Message m;	/* the event */
	char *prev, *thread, *target;	/* heap copies */
};

static void
edit_free(void *p)
{
	struct edit *st = p;

	if (st->m.ts != NULL && st->m.ts != protobuf_c_empty_string)
		free(st->m.ts);
	free(st->prev);
	free(st->thread);
	free(st->target);
	free(st);
}

/* edit_reply - Slack's answer: update {channel, ts, text, message}, delete {channel, ts} */
static void
edit_reply(struct edit *st, const Parley__Message *ev)
{
	Parley__Message obj;
	struct pl_buf b;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"channel\":");
	pl_buf_json_str(&b, st->ch->id);
	pl_buf_puts(&b, ",\"ts\":");
	pl_buf_json_str(&b, st->target);
	if (!st->del) {
		parley__message__init(&obj);
		obj.user = (char *)st->c->user;
		obj.text = ev->text;
		obj.ts = st->target;
		obj.thread_ts = st->thread;
		obj.edited_ts = ev->ts;
		pl_buf_puts(&b, ",\"text\":");
		pl_buf_json_str(&b, ev->text);
		pl_buf_puts(&b, ",\"message\":");
		pl_message_obj_json(&obj, &b);
	}
	pl_buf_printf(&b, ",\"seq\":%lld}", (long long)ev->seq);
	ms_call_json(&st->c, b.data);
	pl_buf_fini(&b);
}

/* edit_sent - the broker's answer */
static void
edit_sent(int rv, Parley__Message *m, void *arg)
{
	struct edit *st = arg;

	if (rv != 0) {
		ms_call_error(&st->c, "internal_error");
		return;
	}
	pl_log_info(st->del ? "MS-MSG-DELETE" : "MS-MSG-UPDATE", "channel=%s ts=%s seq=%lld",
	    st->ch->id, st->target, (long long)m->seq);
	edit_reply(st, m);
}

/* edit_check - the Slack error for t, or NULL when the caller may go on */
static const char *
edit_check(const struct edit *st, const struct ms_target *t)
{
	if (!t->found || t->deleted)
		return "message_not_found";
	if (strcmp(t->user, st->c->user) != 0 || t->subtype[0] != '\0')
		return st->del ? "cant_delete_message" : "cant_update_message";
	return NULL;
}

/* edit_found - the target's current state: check, then append the event */
static void
edit_found(int rv, struct ms_target *t, void *arg)
{
	struct edit *st = arg;
	const char *why;

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if ((why = edit_check(st, t)) != NULL) {
		ms_call_error(&st->c, why);
		return;
	}
	st->prev = pl_strdup(t->text);
	st->thread = pl_strdup(t->thread_ts);
	parley__message__init(&st->m);
	st->m.user = (char *)st->c->user;
	st->m.text = st->del ? (char *)"" : (char *)ms_param(st->c, "text");
	st->m.target_ts = st->target;
	st->m.previous_text = st->prev;
	st->m.thread_ts = st->thread;
	rv = ms_send_append(st->ch, st->del ? PARLEY__EVENT_TYPE__MESSAGE_DELETED :
	    PARLEY__EVENT_TYPE__MESSAGE_CHANGED, &st->m, NULL, edit_sent, st);
	if (rv != 0)
		ms_call_rv_error(&st->c, rv == PL_EAGAIN ? PL_EUNAVAIL : rv);
}

/* edit_chan_ready - visibility and state of the channel */
static void
edit_chan_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct edit *st = arg;

	if (rv != 0) {
		ms_call_error(&st->c, pl_slack_chan_error(rv));
		return;
	}
	if (!ms_chan_visible(ch, st->c->team, st->c->user)) {
		ms_call_error(&st->c, "channel_not_found");
		return;
	}
	if (ch->archived) {
		ms_call_error(&st->c, "is_archived");
		return;
	}
	st->ch = ch;
	ms_target_get(ch, st->target, edit_found, st);
}

/* edit_start - shared validation; del: chat.delete */
static int
edit_start(struct ms_call *c, int del)
{
	const char *ts = ms_param(c, "ts"), *text = ms_param(c, "text");
	struct edit *st;
	uint64_t us;

	if (ms_param(c, "channel")[0] == '\0') {
		ms_call_error(&c, "channel_not_found");
		return 0;
	}
	/* a ts we never wrote names no message (fields.h) */
	if (!pl_fields_ts_canonical(ts) || ms_seq_ts_parse(ts, &us) != 0) {
		ms_call_error(&c, "message_not_found");
		return 0;
	}
	if (!del && text[0] == '\0') {
		ms_call_error(&c, "no_text");
		return 0;
	}
	if (!del && pl_utf8_len(text) > MS_TEXT_MAX) {
		ms_call_error(&c, "msg_too_long");
		return 0;
	}
	if (!del && pl_fields_message_error(text, NULL, NULL) != NULL) {
		pl_metrics_inc(ms_m.bad_input);
		ms_call_error(&c, pl_fields_message_error(text, NULL, NULL));
		return 0;
	}
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	st->del = del;
	st->target = pl_strdup(ts);
	c->state = st;
	c->state_free = edit_free;
	ms_chan_get(ms_param(c, "channel"), edit_chan_ready, st);
	return 0;
}

/* ms_edit_update - chat.update(channel, ts, text) */
int
ms_edit_update(struct ms_call *c)
{
	return edit_start(c, 0);
}

/* ms_edit_delete - chat.delete(channel, ts) */
int
ms_edit_delete(struct ms_call *c)
{
	return edit_start(c, 1);
}
