/* event_json_test.c - exact JSON of every rendered event type. */
#include <stdlib.h>

#include "err.h"
#include "event_json.h"
#include "pl_test.h"

/* render - env to a heap string ("" when nothing rendered) */
static char *
render(const Parley__Envelope *env, int *rv_r)
{
	struct pl_buf b;
	char *s;

	pl_buf_init(&b);
	*rv_r = pl_event_json(env, &b);
	pl_buf_puts(&b, "");
	s = pl_buf_steal(&b, NULL);
	return s;
}

/* msg_env - an envelope of type t around m */
static void
msg_env(Parley__Envelope *env, Parley__Message *m, Parley__EventType t)
{
	parley__envelope__init(env);
	env->type = t;
	env->team = "T1";
	env->body_case = PARLEY__ENVELOPE__BODY_MESSAGE;
	env->message = m;
}

PL_TEST(test_created)
{
	Parley__Envelope env;
	Parley__Message m;
	char *s;
	int rv;

	parley__message__init(&m);
	m.channel = "C1";
	m.user = "U1";
	m.text = "hi \"there\"\n";
	m.ts = "1700000000.000001";
	m.seq = 42;
	msg_env(&env, &m, PARLEY__EVENT_TYPE__MESSAGE_CREATED);
	s = render(&env, &rv);
	PL_CHECK_EQ_INT(rv, 0);
	PL_CHECK_EQ_STR(s, "{\"type\":\"message\",\"channel\":\"C1\",\"user\":\"U1\","
	    "\"text\":\"hi \\\"there\\\"\\n\",\"ts\":\"1700000000.000001\","
	    "\"seq\":42,\"team\":\"T1\"}");
	free(s);
	m.client_msg_id = "abc";
	m.thread_ts = "1700000000.000000";
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"message\",\"channel\":\"C1\",\"user\":\"U1\","
	    "\"text\":\"hi \\\"there\\\"\\n\",\"ts\":\"1700000000.000001\","
	    "\"seq\":42,\"team\":\"T1\",\"client_msg_id\":\"abc\","
	    "\"thread_ts\":\"1700000000.000000\"}");
	free(s);
}

PL_TEST(test_changed_deleted)
{
	Parley__Envelope env;
	Parley__Message m;
	char *s;
	int rv;

	parley__message__init(&m);
	m.channel = "C1";
	m.user = "U1";
	m.text = "new";
	m.previous_text = "old";
	m.ts = "5.000002";
	m.target_ts = "5.000001";
	m.edited_ts = "5.000002";
	m.seq = 7;
	msg_env(&env, &m, PARLEY__EVENT_TYPE__MESSAGE_CHANGED);
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"message\",\"subtype\":\"message_changed\","
	    "\"channel\":\"C1\",\"hidden\":true,\"message\":{\"type\":\"message\","
	    "\"user\":\"U1\",\"text\":\"new\",\"ts\":\"5.000001\",\"edited\":"
	    "{\"user\":\"U1\",\"ts\":\"5.000002\"}},\"previous_message\":"
	    "{\"type\":\"message\",\"user\":\"U1\",\"text\":\"old\",\"ts\":\"5.000001\"},"
	    "\"ts\":\"5.000002\",\"event_ts\":\"5.000002\",\"seq\":7}");
	free(s);
	env.type = PARLEY__EVENT_TYPE__MESSAGE_DELETED;
	m.seq = 8;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"message\",\"subtype\":\"message_deleted\","
	    "\"channel\":\"C1\",\"hidden\":true,\"deleted_ts\":\"5.000001\","
	    "\"previous_message\":{\"type\":\"message\",\"user\":\"U1\",\"text\":\"old\","
	    "\"ts\":\"5.000001\"},\"ts\":\"5.000002\",\"seq\":8}");
	free(s);
}

PL_TEST(test_reaction_join)
{
	Parley__Envelope env;
	Parley__Message m;
	char *s;
	int rv;

	parley__message__init(&m);
	m.channel = "C1";
	m.user = "U2";
	m.reaction = "thumbsup";
	m.ts = "6.000001";
	m.target_ts = "5.000001";
	m.seq = 9;
	msg_env(&env, &m, PARLEY__EVENT_TYPE__REACTION_ADDED);
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"reaction_added\",\"user\":\"U2\","
	    "\"reaction\":\"thumbsup\",\"item\":{\"type\":\"message\",\"channel\":\"C1\","
	    "\"ts\":\"5.000001\"},\"event_ts\":\"6.000001\",\"seq\":9}");
	free(s);
	env.type = PARLEY__EVENT_TYPE__CHANNEL_JOIN;
	m.text = "<@U2> has joined the channel";
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"message\",\"subtype\":\"channel_join\","
	    "\"channel\":\"C1\",\"user\":\"U2\",\"text\":\"<@U2> has joined the channel\","
	    "\"ts\":\"6.000001\",\"seq\":9,\"team\":\"T1\"}");
	free(s);
}

PL_TEST(test_directory_events)
{
	Parley__Envelope env;
	Parley__Channel c;
	Parley__Membership mb;
	char *s;
	int rv;

	parley__envelope__init(&env);
	parley__channel__init(&c);
	c.id = "C9";
	c.name = "general";
	c.created = 1700000000;
	c.creator = "U1";
	env.type = PARLEY__EVENT_TYPE__CHANNEL_CREATED;
	env.body_case = PARLEY__ENVELOPE__BODY_CHANNEL;
	env.channel = &c;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"channel_created\",\"channel\":{\"id\":\"C9\","
	    "\"name\":\"general\",\"created\":1700000000,\"creator\":\"U1\"}}");
	free(s);
	parley__membership__init(&mb);
	mb.channel = "G1";
	mb.user = "U3";
	mb.team = "T1";
	mb.kind = "private";
	env.type = PARLEY__EVENT_TYPE__MEMBER_JOINED;
	env.body_case = PARLEY__ENVELOPE__BODY_MEMBERSHIP;
	env.membership = &mb;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"member_joined_channel\",\"user\":\"U3\","
	    "\"channel\":\"G1\",\"channel_type\":\"G\",\"team\":\"T1\"}");
	free(s);
}

PL_TEST(test_presence_unknown)
{
	Parley__Envelope env;
	Parley__Presence p;
	char *s;
	int rv;

	parley__envelope__init(&env);
	parley__presence__init(&p);
	p.user = "U1";
	p.presence = "away";
	p.channel = "C1";
	env.type = PARLEY__EVENT_TYPE__PRESENCE_CHANGE;
	env.body_case = PARLEY__ENVELOPE__BODY_PRESENCE;
	env.presence = &p;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"presence_change\",\"user\":\"U1\",\"presence\":\"away\"}");
	free(s);
	env.type = PARLEY__EVENT_TYPE__USER_TYPING;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"user_typing\",\"channel\":\"C1\",\"user\":\"U1\"}");
	free(s);
	env.type = PARLEY__EVENT_TYPE__TEAM_CREATED;
	s = render(&env, &rv);
	PL_CHECK_EQ_INT(rv, PL_ENOTFOUND);
	PL_CHECK_EQ_STR(s, "");
	free(s);
	/* a body that does not match the type renders nothing */
	env.type = PARLEY__EVENT_TYPE__MESSAGE_CREATED;
	s = render(&env, &rv);
	PL_CHECK_EQ_INT(rv, PL_ENOTFOUND);
	free(s);
}

PL_TEST(test_manual_dnd)
{
	Parley__Envelope env;
	Parley__Presence p;
	Parley__Dnd d;
	struct pl_buf b;
	char *s;
	int rv;

	parley__envelope__init(&env);
	parley__presence__init(&p);
	p.user = "U1";
	p.presence = "away";
	env.type = PARLEY__EVENT_TYPE__MANUAL_PRESENCE_CHANGE;
	env.body_case = PARLEY__ENVELOPE__BODY_PRESENCE;
	env.presence = &p;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"manual_presence_change\",\"presence\":\"away\"}");
	free(s);

	parley__dnd__init(&d);
	d.user = "U1";
	d.team = "T1";
	d.dnd_enabled = 1;
	d.next_dnd_start_ts = 100;
	d.next_dnd_end_ts = 200;
	d.snooze_enabled = 1;
	d.snooze_endtime = 150;
	env.type = PARLEY__EVENT_TYPE__DND_UPDATED;
	env.body_case = PARLEY__ENVELOPE__BODY_DND;
	env.dnd = &d;
	s = render(&env, &rv);
	PL_CHECK_EQ_STR(s, "{\"type\":\"dnd_updated\",\"user\":\"U1\",\"dnd_status\":"
	    "{\"dnd_enabled\":true,\"next_dnd_start_ts\":100,\"next_dnd_end_ts\":200,"
	    "\"snooze_enabled\":true,\"snooze_endtime\":150}}");
	free(s);
	pl_buf_init(&b);
	PL_CHECK_EQ_INT(pl_event_json_dnd_user(&env, &b), 0);
	pl_buf_puts(&b, "");
	PL_CHECK_EQ_STR(b.data, "{\"type\":\"dnd_updated_user\",\"user\":\"U1\","
	    "\"dnd_status\":{\"dnd_enabled\":true,\"next_dnd_start_ts\":100,"
	    "\"next_dnd_end_ts\":200}}");
	pl_buf_fini(&b);
	/* a DND_UPDATED without its body renders nothing, on either path */
	env.body_case = PARLEY__ENVELOPE__BODY_PRESENCE;
	env.presence = &p;
	s = render(&env, &rv);
	PL_CHECK_EQ_INT(rv, PL_ENOTFOUND);
	free(s);
	pl_buf_init(&b);
	PL_CHECK_EQ_INT(pl_event_json_dnd_user(&env, &b), PL_ENOTFOUND);
	pl_buf_fini(&b);
}

PL_TEST(test_message_obj)
{
	Parley__Message m;
	struct pl_buf b;

	parley__message__init(&m);
	m.user = "U1";
	m.text = "parent";
	m.ts = "5.000001";
	m.thread_ts = "5.000001";
	m.seq = 3;
	m.reply_count = 2;
	m.edited_ts = "6.000000";
	pl_buf_init(&b);
	pl_message_obj_json(&m, &b);
	PL_CHECK_EQ_STR(b.data, "{\"type\":\"message\",\"user\":\"U1\",\"text\":\"parent\","
	    "\"ts\":\"5.000001\",\"seq\":3,\"thread_ts\":\"5.000001\",\"reply_count\":2,"
	    "\"edited\":{\"user\":\"U1\",\"ts\":\"6.000000\"}}");
	pl_buf_fini(&b);
}

/* CHANNEL_MARKED: notify-svc names the kind's event in subtype */
PL_TEST(test_marked_kinds)
{
	static const struct { const char *subtype, *want; } cases[] = {
		{ "", "{\"type\":\"channel_marked\",\"channel\":\"D1\",\"ts\":\"1.000001\"}" },
		{ "channel_marked", "{\"type\":\"channel_marked\",\"channel\":\"D1\",\"ts\":\"1.000001\"}" },
		{ "im_marked", "{\"type\":\"im_marked\",\"channel\":\"D1\",\"ts\":\"1.000001\"}" },
		{ "group_marked", "{\"type\":\"group_marked\",\"channel\":\"D1\",\"ts\":\"1.000001\"}" },
		{ "evil\",\"x", "{\"type\":\"channel_marked\",\"channel\":\"D1\",\"ts\":\"1.000001\"}" },
	};
	Parley__Envelope env;
	Parley__Message m;
	size_t i;
	char *s;
	int rv;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		parley__message__init(&m);
		m.channel = "D1";
		m.user = "U1";
		m.ts = "1.000001";
		m.subtype = (char *)cases[i].subtype;
		msg_env(&env, &m, PARLEY__EVENT_TYPE__CHANNEL_MARKED);
		s = render(&env, &rv);
		PL_CHECK_EQ_INT(rv, 0);
		PL_CHECK_EQ_STR(s, cases[i].want);
		free(s);
	}
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_created),
	PL_TEST_CASE(test_changed_deleted),
	PL_TEST_CASE(test_reaction_join),
	PL_TEST_CASE(test_directory_events),
	PL_TEST_CASE(test_presence_unknown),
	PL_TEST_CASE(test_manual_dnd),
	PL_TEST_CASE(test_message_obj),
	PL_TEST_CASE(test_marked_kinds),
};
PL_TEST_MAIN(tests)
