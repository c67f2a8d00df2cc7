/* page_test.c - a history page's rows with tail events applied: reactions,
 * a thread root's summary, parent_user_id, edits and deletes. */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: page target */
/* and what those need: target.c reads the process state (state.c) and
 * the tail (tail.c) */
/* test-links: state tail */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "message_svc.h"
#include "ms_chan.h"
#include "pl_test.h"

/* msg - a tail-like event (strings borrowed from the arguments) */
static Parley__Message
msg(int64_t seq, const char *ts, const char *user, const char *thread, const char *target,
    const char *reaction)
{
	Parley__Message m;

	parley__message__init(&m);
	m.seq = seq;
	m.ts = (char *)ts;
	m.user = (char *)user;
	m.text = (char *)"t";
	m.thread_ts = (char *)thread;
	m.target_ts = (char *)target;
	m.reaction = (char *)reaction;
	return m;
}

PL_TEST(test_reactions_and_thread)
{
	struct ms_page pg = { NULL, 0, 0 };
	Parley__Message root = msg(1, "100.000001", "UA", "", "", "");
	Parley__Message ev;
	struct ms_page_row *r;
	struct pl_buf b;

	r = ms_page_add(&pg, &root);
	ms_target_rx_add(&r->rx, "fire", "UB");		/* from PostgreSQL */
	ev = msg(2, "100.000002", "UB", "100.000001", "", "");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &ev);
	ev = msg(3, "100.000003", "UC", "100.000001", "", "");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &ev);
	ev = msg(4, "100.000004", "UB", "100.000001", "", "");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_CREATED, &ev);
	ev = msg(5, "100.000005", "UA", "", "100.000001", "fire");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__REACTION_ADDED, &ev);
	ev = msg(6, "100.000006", "UB", "", "100.000001", "fire");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__REACTION_REMOVED, &ev);
	ev = msg(7, "100.000007", "UC", "100.000001", "100.000003", "");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_DELETED, &ev);
	pl_buf_init(&b);
	ms_page_row_json(&pg.v[0], &b);
	PL_CHECK(strstr(b.data, "\"thread_ts\":\"100.000001\",\"reply_count\":2") != NULL);
	PL_CHECK(strstr(b.data, "\"reply_users_count\":2,\"reply_users\":[\"UB\",\"UC\"],"
	    "\"latest_reply\":\"100.000004\"") != NULL);
	PL_CHECK(strstr(b.data, "\"reactions\":[{\"name\":\"fire\",\"users\":[\"UA\"],"
	    "\"count\":1}]}") != NULL);
	PL_CHECK(strstr(b.data, "parent_user_id") == NULL);
	PL_CHECK_EQ_INT(pg.v[0].drop, 0);
	pl_buf_fini(&b);
	ms_page_fini(&pg);
}

PL_TEST(test_reply_edit_delete)
{
	struct ms_page pg = { NULL, 0, 0 };
	Parley__Message reply = msg(2, "100.000002", "UB", "100.000001", "", "");
	Parley__Message ev;
	struct ms_page_row *r;
	struct pl_buf b;

	r = ms_page_add(&pg, &reply);
	r->parent_user = "UA";
	ev = msg(3, "100.000003", "UB", "100.000001", "100.000002", "");
	ev.text = (char *)"edited";
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_CHANGED, &ev);
	pl_buf_init(&b);
	ms_page_row_json(&pg.v[0], &b);
	PL_CHECK(strstr(b.data, "\"text\":\"edited\"") != NULL);
	PL_CHECK(strstr(b.data, "\"edited\":{\"user\":\"UB\",\"ts\":\"100.000003\"}") != NULL);
	PL_CHECK(strstr(b.data, "\"parent_user_id\":\"UA\"}") != NULL);
	PL_CHECK(strstr(b.data, "reply_users") == NULL && strstr(b.data, "reactions") == NULL);
	ev = msg(4, "100.000004", "UB", "100.000001", "100.000002", "");
	ms_page_apply(&pg, PARLEY__EVENT_TYPE__MESSAGE_DELETED, &ev);
	PL_CHECK_EQ_INT(pg.v[0].drop, 1);
	pl_buf_fini(&b);
	ms_page_fini(&pg);
}

/* many reactions: grouped by emoji in order of first use, users in order
 * added, removals anywhere, an emoji fully removed and re-added goes last;
 * the counts the caps read (nrx, nemoji) follow every change */
PL_TEST(test_reactions_many)
{
	struct ms_target t;
	struct pl_buf b;
	char u[16];
	const char *p;
	int i;

	memset(&t, 0, sizeof(t));
	for (i = 0; i < 30000; i++) {
		snprintf(u, sizeof(u), "U%05d", i);
		ms_target_rx_add(&t, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", u);
		ms_target_rx_add(&t, i % 3 == 0 ? "a" : i % 3 == 1 ? "b" : "c", u);
	}
	PL_CHECK_EQ_INT(t.nrx, 30000);
	PL_CHECK_EQ_INT(t.nemoji, 3);
	for (i = 0; i < 30000; i += 3) {	/* every "a" goes */
		snprintf(u, sizeof(u), "U%05d", i);
		PL_CHECK(ms_target_has_rx(&t, "a", u));
		ms_target_rx_del(&t, "a", u);
		PL_CHECK(!ms_target_has_rx(&t, "a", u));
	}
	ms_target_rx_del(&t, "b", "U00000");	/* never added: nothing */
	PL_CHECK_EQ_INT(t.nrx, 20000);
	PL_CHECK_EQ_INT(t.nemoji, 2);
	PL_CHECK(!ms_target_rx_has_emoji(&t, "a") && ms_target_rx_has_emoji(&t, "b"));
	ms_target_rx_add(&t, "a", "UZ");
	ms_target_rx_del(&t, "b", "U00001");
	PL_CHECK_EQ_INT(t.nemoji, 3);
	pl_buf_init(&b);
	ms_target_rx_json(&t, &b);
	PL_CHECK(strncmp(b.data, ",\"reactions\":[{\"name\":\"b\",\"users\":[\"U00004\",", 40) == 0);
	PL_CHECK((p = strstr(b.data, "],\"count\":9999},{\"name\":\"c\",\"users\":[\"U00002\",")) != NULL);
	PL_CHECK(p != NULL && strstr(p, "\"count\":10000},{\"name\":\"a\",\"users\":[\"UZ\"],"
	    "\"count\":1}]") != NULL);
	pl_buf_fini(&b);
	ms_target_fini(&t);
	PL_CHECK(t.nrx == 0 && t.rx == NULL && t.rx_idx == NULL);
}

/* the page byte bound: the item that crosses it is taken back, except the
 * first of a page */
PL_TEST(test_page_fits)
{
	struct pl_buf b;
	size_t mark;

	pl_buf_init(&b);
	pl_buf_puts(&b, "{\"m\":[");
	mark = b.len;
	pl_buf_puts(&b, "\"0123456789\"");
	PL_CHECK_EQ_INT(ms_page_fits(&b, mark, 0, 8), 1);	/* first: always */
	mark = b.len;
	pl_buf_puts(&b, ",\"x\"");
	PL_CHECK_EQ_INT(ms_page_fits(&b, mark, 1, 8), 0);
	PL_CHECK_EQ_INT(b.len, mark);
	PL_CHECK_EQ_STR(b.data, "{\"m\":[\"0123456789\"");
	pl_buf_puts(&b, ",\"x\"");
	PL_CHECK_EQ_INT(ms_page_fits(&b, mark, 1, 64), 1);
	pl_buf_fini(&b);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_reactions_and_thread),
	PL_TEST_CASE(test_reply_edit_delete),
	PL_TEST_CASE(test_reactions_many),
	PL_TEST_CASE(test_page_fits),
};
PL_TEST_MAIN(tests)
