/* render_test.c - the pure parts of the directory methods and the tail:
 * Slack objects, cursors, types=, limits, DM member sets, reaction names,
 * and a target's state with tail events applied. */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: render tail target */
/* and what those need: target.c reads the process state (state.c) */
/* test-links: state */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "message_svc.h"
#include "ms_chan.h"
#include "ms_pure.h"
#include "pgarr.h"
#include "pl_test.h"

PL_TEST(test_chan_object)
{
	struct ms_chan_view v = { "G123", "secret", "private", "T1", "U1", NULL, 1700000000,
	    1, 1, 3, -1, 0, 0 };
	struct pl_buf b;

	pl_buf_init(&b);
	ms_render_chan(&v, &b);
	PL_CHECK(strstr(b.data, "\"id\":\"G123\",\"name\":\"secret\",\"is_channel\":false,"
	    "\"is_group\":true,\"is_im\":false,\"is_mpim\":false,\"is_private\":true") != NULL);
	PL_CHECK(strstr(b.data, "\"created\":1700000000,\"creator\":\"U1\"") != NULL);
	PL_CHECK(strstr(b.data, "\"is_archived\":true,\"is_member\":true,\"num_members\":3") != NULL);
	PL_CHECK(strstr(b.data, "last_seq") == NULL);
	PL_CHECK(strstr(b.data, "\"is_general\":false") != NULL);
	pl_buf_reset(&b);
	v.is_general = 1;
	ms_render_chan(&v, &b);
	PL_CHECK(strstr(b.data, "\"is_general\":true") != NULL);
	v.is_general = 0;
	pl_buf_reset(&b);
	v.kind = "dm";
	v.user = "U2";
	v.last_seq = 7;
	ms_render_chan(&v, &b);
	PL_CHECK(strstr(b.data, "\"is_im\":true") != NULL);
	PL_CHECK(strstr(b.data, "\"user\":\"U2\"") != NULL);
	PL_CHECK(strstr(b.data, "num_members") == NULL);
	PL_CHECK(strstr(b.data, "\"last_seq\":7") != NULL);
	pl_buf_fini(&b);
}

PL_TEST(test_user_object)
{
	struct ms_user_view v = { "U1", "T1", "al\"ice", "", 0, 1, 5, NULL };
	struct pl_buf b;

	pl_buf_init(&b);
	ms_render_user(&v, &b);
	PL_CHECK(strncmp(b.data, "{\"id\":\"U1\",\"team_id\":\"T1\",\"name\":\"al\\\"ice\","
	    "\"deleted\":false,\"real_name\":\"al\\\"ice\"", 60) == 0);
	PL_CHECK(strstr(b.data, "\"is_admin\":true") != NULL);
	PL_CHECK(strstr(b.data, "\"profile\":{\"real_name\":") != NULL);
	PL_CHECK(b.data[b.len - 1] == '}' && b.data[b.len - 2] == '}');
	PL_CHECK(strstr(b.data, "\"email\"") == NULL);	/* none: no member */
	pl_buf_reset(&b);
	v.email = "al\"ice@example.org";
	ms_render_user(&v, &b);
	PL_CHECK(strstr(b.data, ",\"email\":\"al\\\"ice@example.org\",\"team\":\"T1\"}}") != NULL);
	pl_buf_fini(&b);
}

PL_TEST(test_cursor)
{
	char out[32];
	char *c = ms_render_cursor("id", "C0ABC");

	PL_CHECK_EQ_INT(ms_render_cursor_parse(c, "id", out, sizeof(out)), 0);
	PL_CHECK_EQ_STR(out, "C0ABC");
	PL_CHECK_EQ_INT(ms_render_cursor_parse(c, "seq", out, sizeof(out)), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_cursor_parse("%%%", "id", out, sizeof(out)), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_cursor_parse(c, "id", out, 3), PL_EINVAL);
	free(c);
}

PL_TEST(test_kinds_and_limit)
{
	static const struct { const char *in; int rv; const char *out; } cases[] = {
		{ "", 0, "{\"public\"}" },
		{ "public_channel,private_channel", 0, "{\"public\",\"private\"}" },
		{ "im, mpim", 0, "{\"dm\",\"group\"}" },
		{ "public_channel,bogus", PL_EINVAL, NULL },
	};
	size_t i;
	int lim;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pl_buf b;

		pl_buf_init(&b);
		PL_CHECK_EQ_INT(ms_render_kinds(cases[i].in, &b), cases[i].rv);
		if (cases[i].out)
			PL_CHECK_EQ_STR(b.data, cases[i].out);
		pl_buf_fini(&b);
	}
	PL_CHECK_EQ_INT(ms_render_limit("", 100, 1000, &lim), 0);
	PL_CHECK_EQ_INT(lim, 100);
	PL_CHECK_EQ_INT(ms_render_limit("5000", 100, 1000, &lim), 0);
	PL_CHECK_EQ_INT(lim, 1000);
	PL_CHECK_EQ_INT(ms_render_limit("2", 100, 1000, &lim), 0);
	PL_CHECK_EQ_INT(lim, 2);
	PL_CHECK_EQ_INT(ms_render_limit("x", 100, 1000, &lim), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_limit("-1", 100, 1000, &lim), PL_EINVAL);
}

PL_TEST(test_user_set)
{
	char **v = NULL;
	int n;

	n = ms_render_user_set("UB", "UC,UA, UB,UC", &v);
	PL_CHECK_EQ_INT(n, 3);
	PL_CHECK_EQ_STR(v[0], "UA");
	PL_CHECK_EQ_STR(v[1], "UB");
	PL_CHECK_EQ_STR(v[2], "UC");
	pl_pgarr_free(&v, n);
	n = ms_render_user_set("UB", "UB", &v);
	PL_CHECK_EQ_INT(n, 1);
	pl_pgarr_free(&v, n);
	PL_CHECK_EQ_INT(ms_render_user_set("UB", "CNOTAUSER", &v), PL_EINVAL);
}

PL_TEST(test_reaction_name)
{
	char out[104];

	PL_CHECK_EQ_INT(ms_render_reaction_name(":thumbsup:", out, sizeof(out)), 0);
	PL_CHECK_EQ_STR(out, "thumbsup");
	PL_CHECK_EQ_INT(ms_render_reaction_name("+1", out, sizeof(out)), 0);
	PL_CHECK_EQ_INT(ms_render_reaction_name("", out, sizeof(out)), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_reaction_name("::", out, sizeof(out)), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_reaction_name("a,b", out, sizeof(out)), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_render_reaction_name("A", out, sizeof(out)), PL_EINVAL);
}

/* a message event of the tail */
static Parley__Message
ev(int64_t seq, const char *ts, const char *user, const char *text, const char *target,
    const char *rx, const char *thread)
{
	Parley__Message m;

	parley__message__init(&m);
	m.channel = "C1";
	m.seq = seq;
	m.ts = (char *)ts;
	m.user = (char *)user;
	m.text = (char *)text;
	m.target_ts = (char *)target;
	m.reaction = (char *)rx;
	m.thread_ts = (char *)thread;
	return m;
}

PL_TEST(test_target_apply)
{
	struct ms_target t;
	Parley__Message m;

	memset(&t, 0, sizeof(t));
	t.ts = strdup("1.000001");
	m = ev(1, "1.000001", "U1", "hi", "", "", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &m);
	PL_CHECK_EQ_INT(t.found, 1);
	m = ev(2, "1.000002", "U2", "reply", "", "", "1.000001");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &m);
	PL_CHECK_EQ_INT(t.reply_count, 1);
	m = ev(3, "1.000003", "U1", "edited", "1.000001", "", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__MESSAGE_CHANGED, &m);
	PL_CHECK_EQ_STR(t.text, "edited");
	PL_CHECK_EQ_STR(t.edited_ts, "1.000003");
	m = ev(4, "1.000004", "U2", "", "1.000001", "wave", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__REACTION_ADDED, &m);
	ms_target_apply(&t, PARLEY__EVENT_TYPE__REACTION_ADDED, &m);
	PL_CHECK_EQ_INT(t.nrx, 1);
	PL_CHECK(ms_target_has_rx(&t, "wave", "U2"));
	m = ev(5, "1.000005", "U2", "", "1.000001", "wave", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__REACTION_REMOVED, &m);
	PL_CHECK_EQ_INT(t.nrx, 0);
	m = ev(6, "1.000006", "U1", "", "1.000009", "", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__MESSAGE_DELETED, &m);
	PL_CHECK_EQ_INT(t.deleted, 0);		/* another message */
	m = ev(7, "1.000007", "U1", "", "1.000001", "", "");
	ms_target_apply(&t, PARLEY__EVENT_TYPE__MESSAGE_DELETED, &m);
	PL_CHECK_EQ_INT(t.deleted, 1);
	ms_target_fini(&t);
}

PL_TEST(test_tail)
{
	Parley__Message a = ev(2, "1.000002", "U1", "b", "", "", "");
	Parley__Message b = ev(1, "1.000001", "U1", "a", "", "", "");
	Parley__Message c = ev(3, "1.000003", "U1", "c", "", "", "");
	const struct ms_tail_ev *e;
	size_t n;

	ms_tail_init();
	ms_tail_add(PARLEY__EVENT_TYPE__MESSAGE_CREATED, &a, 1);
	ms_tail_add(PARLEY__EVENT_TYPE__MESSAGE_CREATED, &b, 0);
	ms_tail_add(PARLEY__EVENT_TYPE__MESSAGE_CREATED, &c, 1);
	ms_tail_add(PARLEY__EVENT_TYPE__MESSAGE_CREATED, &a, 0);	/* the log saw it */
	e = ms_tail_events("C1", &n);
	PL_CHECK_EQ_INT(n, 3);
	PL_CHECK_EQ_INT(e[0].m->seq, 1);
	PL_CHECK_EQ_INT(e[1].pending, 0);
	ms_tail_settle("C1", 3, 0);		/* the produce failed */
	e = ms_tail_events("C1", &n);
	PL_CHECK_EQ_INT(n, 2);
	ms_tail_persisted("C1", 1);
	e = ms_tail_events("C1", &n);
	PL_CHECK_EQ_INT(n, 1);
	PL_CHECK_EQ_INT(e[0].m->seq, 2);
	ms_tail_add(PARLEY__EVENT_TYPE__MESSAGE_CREATED, &b, 0);	/* committed: ignored */
	PL_CHECK_EQ_INT(ms_tail_count(), 1);
	ms_tail_fini();
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_chan_object),
	PL_TEST_CASE(test_user_object),
	PL_TEST_CASE(test_cursor),
	PL_TEST_CASE(test_kinds_and_limit),
	PL_TEST_CASE(test_user_set),
	PL_TEST_CASE(test_reaction_name),
	PL_TEST_CASE(test_target_apply),
	PL_TEST_CASE(test_tail),
};
PL_TEST_MAIN(tests)
