/* react.c - reactions.add, reactions.remove, reactions.get.
 *
 * A reaction is an event on parley.messages (REACTION_ADDED / _REMOVED) with
 * the channel's next seq; the persistence consumer keeps the reactions
 * table. The current set comes from PostgreSQL with the tail applied
 * (target.c), and the check-and-append runs in one loop turn after that
 * look-up, with pending appends already in the tail: two concurrent adds of
 * the same reaction give one event and one already_reacted, and the caps
 * (too_many_emoji, too_many_reactions) hold under concurrent adds. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "event_json.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "ms_chan.h"
#include "ms_methods.h"
#include "ms_pure.h"
#include "slack_err.h"

enum { RX_ADD, RX_REMOVE, RX_GET };

struct react {
	struct ms_call *c;
	struct ms_chan *ch;
	int op;
	char name[104];
	char *target;
	Parley__Message m;
};

static void
react_free(void *p)
{
	struct react *st = p;

	if (st->m.ts != NULL && st->m.ts != protobuf_c_empty_string)
		free(st->m.ts);
	free(st->target);
	free(st);
}

/* react_get_reply - {"type":"message","channel","message":{…,"reactions"}} */
static void
react_get_reply(struct react *st, const struct ms_target *t)
{
	Parley__Message m;
	struct pl_buf b;

	parley__message__init(&m);
	m.user = t->user;
	m.text = t->text;
	m.ts = t->ts;
	m.seq = t->seq;
	m.thread_ts = t->thread_ts;
	m.subtype = t->subtype;
	m.edited_ts = t->edited_ts;
	m.client_msg_id = t->cmid;
	m.reply_count = t->reply_count;
	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"type\":\"message\",\"channel\":");
	pl_buf_json_str(&b, st->ch->id);
	pl_buf_puts(&b, ",\"message\":");
	pl_message_obj_json(&m, &b);
	b.len--;			/* reopen the object for "reactions" */
	ms_target_rx_json(t, &b);
	pl_buf_puts(&b, "}}");
	ms_call_json(&st->c, b.data);
	pl_buf_fini(&b);
}

/* react_sent - the broker's answer */
static void
react_sent(int rv, Parley__Message *m, void *arg)
{
	struct react *st = arg;

	if (rv != 0)
		ms_call_error(&st->c, "internal_error");
	else
		ms_call_json(&st->c, "{}");
}

/* react_cap - Slack's limits on one message: a new emoji beyond
 * rx_emoji_max distinct ones (too_many_emoji), a reaction beyond rx_max in
 * all (too_many_reactions); NULL when the add is allowed. Checked in the
 * same loop turn as the append, against the set with pending adds. */
static const char *
react_cap(const struct ms_target *t, const char *name)
{
	if (!ms_target_rx_has_emoji(t, name) && t->nemoji >= ms_conf.rx_emoji_max)
		return "too_many_emoji";
	if (t->nrx >= ms_conf.rx_max)
		return "too_many_reactions";
	return NULL;
}

/* react_found - the message's reactions as they are now */
static void
react_found(int rv, struct ms_target *t, void *arg)
{
	struct react *st = arg;
	const char *why;
	int has;

	if (rv != 0) {
		ms_call_rv_error(&st->c, rv);
		return;
	}
	if (!t->found || t->deleted) {
		ms_call_error(&st->c, "message_not_found");
		return;
	}
	if (st->op == RX_GET) {
		react_get_reply(st, t);
		return;
	}
	has = ms_target_has_rx(t, st->name, st->c->user);
	if (st->op == RX_ADD && has) {
		ms_call_error(&st->c, "already_reacted");
		return;
	}
	if (st->op == RX_REMOVE && !has) {
		ms_call_error(&st->c, "no_reaction");
		return;
	}
	if (st->op == RX_ADD && (why = react_cap(t, st->name)) != NULL) {
		pl_log_info("MS-REACTION-CAP", "channel=%s ts=%s user=%s error=%s emoji=%d"
		    " reactions=%d", st->ch->id, st->target, st->c->user, why, t->nemoji, t->nrx);
		ms_call_error(&st->c, why);
		return;
	}
	parley__message__init(&st->m);
	st->m.user = (char *)st->c->user;
	st->m.reaction = st->name;
	st->m.target_ts = st->target;
	st->m.thread_ts = t->thread_ts;
	rv = ms_send_append(st->ch, st->op == RX_ADD ? PARLEY__EVENT_TYPE__REACTION_ADDED :
	    PARLEY__EVENT_TYPE__REACTION_REMOVED, &st->m, NULL, react_sent, st);
	st->m.thread_ts = (char *)"";	/* t's, gone after this call */
	if (rv != 0)
		ms_call_rv_error(&st->c, rv == PL_EAGAIN ? PL_EUNAVAIL : rv);
}

/* react_chan_ready - the caller may see the channel (and react if a member) */
static void
react_chan_ready(int rv, struct ms_chan *ch, void *arg)
{
	struct react *st = arg;

	if (rv != 0) {
		ms_call_error(&st->c, pl_slack_chan_error(rv));
		return;
	}
	if (!ms_chan_visible(ch, st->c->team, st->c->user)) {
		ms_call_error(&st->c, "channel_not_found");
		return;
	}
	if (st->op != RX_GET && ch->archived) {
		ms_call_error(&st->c, "is_archived");
		return;
	}
	if (st->op != RX_GET && !ms_chan_is_member(ch, st->c->user)) {
		ms_call_error(&st->c, "not_in_channel");
		return;
	}
	st->ch = ch;
	ms_target_get(ch, st->target, react_found, st);
}

/* react_start - shared validation */
static int
react_start(struct ms_call *c, int op)
{
	const char *ts = ms_param(c, "timestamp");
	struct react *st;
	char name[104];
	uint64_t us;

	if (ts[0] == '\0')
		ts = ms_param(c, "ts");
	if (ms_param(c, "channel")[0] == '\0') {
		ms_call_error(&c, "channel_not_found");
		return 0;
	}
	if (ts[0] == '\0' || ms_seq_ts_parse(ts, &us) != 0) {
		ms_call_error(&c, op == RX_GET ? "message_not_found" : "no_item_specified");
		return 0;
	}
	if (op != RX_GET && ms_render_reaction_name(ms_param(c, "name"), name,
	    sizeof(name)) != 0) {
		ms_call_error(&c, "invalid_name");
		return 0;
	}
	st = pl_calloc(1, sizeof(*st));
	st->c = c;
	st->op = op;
	if (op != RX_GET)
		memcpy(st->name, name, sizeof(st->name));
	st->target = pl_strdup(ts);
	c->state = st;
	c->state_free = react_free;
	ms_chan_get(ms_param(c, "channel"), react_chan_ready, st);
	return 0;
}

int
ms_react_add(struct ms_call *c)
{
	return react_start(c, RX_ADD);
}

int
ms_react_remove(struct ms_call *c)
{
	return react_start(c, RX_REMOVE);
}

int
ms_react_get(struct ms_call *c)
{
	return react_start(c, RX_GET);
}
