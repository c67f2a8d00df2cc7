/* event_json.c - Slack-shaped JSON for events and message objects (see
 * event_json.h). Members are written in a fixed order so that every path
 * (live, resume, poll, history) produces the same bytes. A renderer is picked
 * from a table by event type, never by a switch ladder. */
#include <inttypes.h>
#include <string.h>

#include "err.h"
#include "event_json.h"

typedef int (*ej_render_fn)(const Parley__Envelope *env, struct pl_buf *out);

/* ej_str - append ,"key":"value" (always) */
static void
ej_str(struct pl_buf *out, const char *key, const char *v)
{
	pl_buf_printf(out, ",\"%s\":", key);
	pl_buf_json_str(out, v ? v : "");
}

/* ej_opt - append ,"key":"value" only when value is non-empty */
static void
ej_opt(struct pl_buf *out, const char *key, const char *v)
{
	if (v != NULL && v[0] != '\0')
		ej_str(out, key, v);
}

/* ej_seq - append ,"seq":N */
static void
ej_seq(struct pl_buf *out, int64_t seq)
{
	pl_buf_printf(out, ",\"seq\":%" PRId64, seq);
}

/* ej_team - the team of a message event: the message's, else the envelope's */
static const char *
ej_team(const Parley__Envelope *env, const Parley__Message *m)
{
	if (m->team != NULL && m->team[0] != '\0')
		return m->team;
	return env->team ? env->team : "";
}

/* ej_msg - the Message body or NULL */
static const Parley__Message *
ej_msg(const Parley__Envelope *env)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_MESSAGE)
		return NULL;
	return env->message;
}

/* ej_created - MESSAGE_CREATED */
static int
ej_created(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);

	if (m == NULL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"message\"");
	ej_str(out, "channel", m->channel);
	ej_str(out, "user", m->user);
	ej_str(out, "text", m->text);
	ej_str(out, "ts", m->ts);
	ej_seq(out, m->seq);
	ej_str(out, "team", ej_team(env, m));
	ej_opt(out, "client_msg_id", m->client_msg_id);
	ej_opt(out, "thread_ts", m->thread_ts);
	ej_opt(out, "subtype", m->subtype);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_prev - {"type":"message","user","text","ts"} of the message acted on */
static void
ej_prev(struct pl_buf *out, const Parley__Message *m)
{
	pl_buf_puts(out, "{\"type\":\"message\"");
	ej_str(out, "user", m->user);
	ej_str(out, "text", m->previous_text);
	ej_str(out, "ts", m->target_ts);
	pl_buf_puts(out, "}");
}

/* ej_changed - MESSAGE_CHANGED: the edited message as an object */
static int
ej_changed(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);
	Parley__Message cur;

	if (m == NULL)
		return PL_ENOTFOUND;
	cur = *m;
	cur.ts = m->target_ts;
	cur.seq = 0;		/* the event's seq is not the message's */
	cur.subtype = (char *)"";
	cur.client_msg_id = (char *)"";
	pl_buf_puts(out, "{\"type\":\"message\",\"subtype\":\"message_changed\"");
	ej_str(out, "channel", m->channel);
	pl_buf_puts(out, ",\"hidden\":true,\"message\":");
	pl_message_obj_json(&cur, out);
	pl_buf_puts(out, ",\"previous_message\":");
	ej_prev(out, m);
	ej_str(out, "ts", m->ts);
	ej_str(out, "event_ts", m->ts);
	ej_seq(out, m->seq);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_deleted - MESSAGE_DELETED */
static int
ej_deleted(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);

	if (m == NULL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"message\",\"subtype\":\"message_deleted\"");
	ej_str(out, "channel", m->channel);
	pl_buf_puts(out, ",\"hidden\":true");
	ej_str(out, "deleted_ts", m->target_ts);
	if (m->previous_text != NULL && m->previous_text[0] != '\0') {
		pl_buf_puts(out, ",\"previous_message\":");
		ej_prev(out, m);
	}
	ej_str(out, "ts", m->ts);
	ej_seq(out, m->seq);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_reaction - REACTION_ADDED / REACTION_REMOVED */
static int
ej_reaction(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);

	if (m == NULL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, env->type == PARLEY__EVENT_TYPE__REACTION_ADDED ?
	    "{\"type\":\"reaction_added\"" : "{\"type\":\"reaction_removed\"");
	ej_str(out, "user", m->user);
	ej_str(out, "reaction", m->reaction);
	pl_buf_puts(out, ",\"item\":{\"type\":\"message\"");
	ej_str(out, "channel", m->channel);
	ej_str(out, "ts", m->target_ts);
	pl_buf_puts(out, "}");
	ej_str(out, "event_ts", m->ts);
	ej_seq(out, m->seq);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_join - CHANNEL_JOIN / CHANNEL_LEAVE: message subtypes */
static int
ej_join(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);

	if (m == NULL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"message\"");
	ej_str(out, "subtype", env->type == PARLEY__EVENT_TYPE__CHANNEL_JOIN ?
	    "channel_join" : "channel_leave");
	ej_str(out, "channel", m->channel);
	ej_str(out, "user", m->user);
	ej_str(out, "text", m->text);
	ej_str(out, "ts", m->ts);
	ej_seq(out, m->seq);
	ej_str(out, "team", ej_team(env, m));
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_chan_obj - {"id","name","created","creator"} */
static void
ej_chan_obj(struct pl_buf *out, const Parley__Channel *c)
{
	pl_buf_puts(out, "{\"id\":");
	pl_buf_json_str(out, c->id ? c->id : "");
	ej_str(out, "name", c->name);
	pl_buf_printf(out, ",\"created\":%" PRId64, c->created);
	ej_str(out, "creator", c->creator);
	pl_buf_puts(out, "}");
}

/* ej_chan - CHANNEL_CREATED / CHANNEL_RENAMED */
static int
ej_chan(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_CHANNEL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, env->type == PARLEY__EVENT_TYPE__CHANNEL_CREATED ?
	    "{\"type\":\"channel_created\",\"channel\":" :
	    "{\"type\":\"channel_rename\",\"channel\":");
	ej_chan_obj(out, env->channel);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_archived - CHANNEL_ARCHIVED: Slack's channel_archive */
static int
ej_archived(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_CHANNEL)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"channel_archive\",\"channel\":");
	pl_buf_json_str(out, env->channel->id ? env->channel->id : "");
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_channel_type - Slack's channel_type letter of a channel kind */
static const char *
ej_channel_type(const char *kind)
{
	if (kind == NULL || strcmp(kind, "public") == 0 || kind[0] == '\0')
		return "C";
	if (strcmp(kind, "dm") == 0)
		return "D";
	return "G";
}

/* ej_member - MEMBER_JOINED / MEMBER_LEFT */
static int
ej_member(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Membership *m;

	if (env->body_case != PARLEY__ENVELOPE__BODY_MEMBERSHIP)
		return PL_ENOTFOUND;
	m = env->membership;
	pl_buf_puts(out, env->type == PARLEY__EVENT_TYPE__MEMBER_JOINED ?
	    "{\"type\":\"member_joined_channel\"" :
	    "{\"type\":\"member_left_channel\"");
	ej_str(out, "user", m->user);
	ej_str(out, "channel", m->channel);
	ej_str(out, "channel_type", ej_channel_type(m->kind));
	ej_str(out, "team", m->team && m->team[0] ? m->team : env->team);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_typing - USER_TYPING */
static int
ej_typing(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_PRESENCE)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"user_typing\"");
	ej_str(out, "channel", env->presence->channel);
	ej_str(out, "user", env->presence->user);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_presence - PRESENCE_CHANGE */
static int
ej_presence(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_PRESENCE)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"presence_change\"");
	ej_str(out, "user", env->presence->user);
	ej_str(out, "presence", env->presence->presence);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_manual - MANUAL_PRESENCE_CHANGE: Slack's manual_presence_change */
static int
ej_manual(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_PRESENCE)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"manual_presence_change\"");
	ej_str(out, "presence", env->presence->presence);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_marked - CHANNEL_MARKED (a Message body: channel and ts) */
static int
ej_marked(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__Message *m = ej_msg(env);

	if (m == NULL)
		return PL_ENOTFOUND;
	/* notify-svc names the kind's event in subtype: im_marked, group_marked */
	if (m->subtype != NULL && (strcmp(m->subtype, "im_marked") == 0 ||
	    strcmp(m->subtype, "group_marked") == 0))
		pl_buf_printf(out, "{\"type\":\"%s\"", m->subtype);
	else
		pl_buf_puts(out, "{\"type\":\"channel_marked\"");
	ej_str(out, "channel", m->channel);
	ej_str(out, "ts", m->ts);
	pl_buf_puts(out, "}");
	return 0;
}

/* ej_user - USER_CHANGED: Slack's user_change */
static int
ej_user(const Parley__Envelope *env, struct pl_buf *out)
{
	const Parley__User *u;

	if (env->body_case != PARLEY__ENVELOPE__BODY_USER)
		return PL_ENOTFOUND;
	u = env->user;
	pl_buf_puts(out, "{\"type\":\"user_change\",\"user\":{\"id\":");
	pl_buf_json_str(out, u->id ? u->id : "");
	ej_str(out, "team_id", u->team);
	ej_str(out, "name", u->name);
	ej_str(out, "real_name", u->real_name);
	pl_buf_printf(out, ",\"deleted\":%s}}", u->deleted ? "true" : "false");
	return 0;
}

/* ej_dnd_status - ,"dnd_status":{…}; snooze fields for the user's own */
static void
ej_dnd_status(const Parley__Dnd *d, struct pl_buf *out, int own)
{
	pl_buf_printf(out, ",\"dnd_status\":{\"dnd_enabled\":%s,\"next_dnd_start_ts\":%"
	    PRId64 ",\"next_dnd_end_ts\":%" PRId64, d->dnd_enabled ? "true" : "false",
	    d->next_dnd_start_ts, d->next_dnd_end_ts);
	if (own)
		pl_buf_printf(out, ",\"snooze_enabled\":%s,\"snooze_endtime\":%" PRId64,
		    d->snooze_enabled ? "true" : "false", d->snooze_endtime);
	pl_buf_puts(out, "}");
}

/* ej_dnd - DND_UPDATED: Slack's dnd_updated (the user's own sessions) */
static int
ej_dnd(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->body_case != PARLEY__ENVELOPE__BODY_DND)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"dnd_updated\"");
	ej_str(out, "user", env->dnd->user);
	ej_dnd_status(env->dnd, out, 1);
	pl_buf_puts(out, "}");
	return 0;
}

/* pl_event_json_dnd_user - DND_UPDATED as Slack's dnd_updated_user (what
 * others watching the user see: no snooze details) */
int
pl_event_json_dnd_user(const Parley__Envelope *env, struct pl_buf *out)
{
	if (env->type != PARLEY__EVENT_TYPE__DND_UPDATED ||
	    env->body_case != PARLEY__ENVELOPE__BODY_DND)
		return PL_ENOTFOUND;
	pl_buf_puts(out, "{\"type\":\"dnd_updated_user\"");
	ej_str(out, "user", env->dnd->user);
	ej_dnd_status(env->dnd, out, 0);
	pl_buf_puts(out, "}");
	return 0;
}

static const struct {
	Parley__EventType type;
	ej_render_fn fn;
} ej_table[] = {
	{ PARLEY__EVENT_TYPE__MESSAGE_CREATED, ej_created },
	{ PARLEY__EVENT_TYPE__MESSAGE_CHANGED, ej_changed },
	{ PARLEY__EVENT_TYPE__MESSAGE_DELETED, ej_deleted },
	{ PARLEY__EVENT_TYPE__REACTION_ADDED, ej_reaction },
	{ PARLEY__EVENT_TYPE__REACTION_REMOVED, ej_reaction },
	{ PARLEY__EVENT_TYPE__CHANNEL_JOIN, ej_join },
	{ PARLEY__EVENT_TYPE__CHANNEL_LEAVE, ej_join },
	{ PARLEY__EVENT_TYPE__CHANNEL_CREATED, ej_chan },
	{ PARLEY__EVENT_TYPE__CHANNEL_RENAMED, ej_chan },
	{ PARLEY__EVENT_TYPE__CHANNEL_ARCHIVED, ej_archived },
	{ PARLEY__EVENT_TYPE__MEMBER_JOINED, ej_member },
	{ PARLEY__EVENT_TYPE__MEMBER_LEFT, ej_member },
	{ PARLEY__EVENT_TYPE__USER_CHANGED, ej_user },
	{ PARLEY__EVENT_TYPE__CHANNEL_MARKED, ej_marked },
	{ PARLEY__EVENT_TYPE__PRESENCE_CHANGE, ej_presence },
	{ PARLEY__EVENT_TYPE__USER_TYPING, ej_typing },
	{ PARLEY__EVENT_TYPE__DND_UPDATED, ej_dnd },
	{ PARLEY__EVENT_TYPE__MANUAL_PRESENCE_CHANGE, ej_manual },
};

/* pl_event_json - render env through the table; out is untouched on failure */
int
pl_event_json(const Parley__Envelope *env, struct pl_buf *out)
{
	size_t i, mark = out->len;
	int rv;

	for (i = 0; i < sizeof(ej_table) / sizeof(ej_table[0]); i++) {
		if (ej_table[i].type != env->type)
			continue;
		rv = ej_table[i].fn(env, out);
		if (rv != 0 && out->data != NULL) {
			out->len = mark;
			out->data[mark] = '\0';
		}
		return rv;
	}
	return PL_ENOTFOUND;
}

/* pl_message_obj_json - a history message object; seq 0 is left out (an
 * object rendered inside another event has no seq of its own). Callers that
 * add members ("reactions") drop the final '}' and append their own. */
void
pl_message_obj_json(const Parley__Message *m, struct pl_buf *out)
{
	pl_buf_puts(out, "{\"type\":\"message\"");
	ej_opt(out, "subtype", m->subtype);
	ej_str(out, "user", m->user);
	ej_str(out, "text", m->text);
	ej_str(out, "ts", m->ts);
	if (m->seq > 0)
		ej_seq(out, m->seq);
	ej_opt(out, "thread_ts", m->thread_ts);
	if (m->reply_count > 0)
		pl_buf_printf(out, ",\"reply_count\":%d", m->reply_count);
	ej_opt(out, "client_msg_id", m->client_msg_id);
	if (m->edited_ts != NULL && m->edited_ts[0] != '\0') {
		pl_buf_puts(out, ",\"edited\":{\"user\":");
		pl_buf_json_str(out, m->user ? m->user : "");
		ej_str(out, "ts", m->edited_ts);
		pl_buf_puts(out, "}");
	}
	pl_buf_puts(out, "}");
}
