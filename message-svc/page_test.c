/* page_test.c - a history page's rows with tail events applied: reactions,
 * a thread root's summary, parent_user_id, edits and deletes. */
#include <stdlib.h>
#include <string.h>

#include "message_svc.h"
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

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_reactions_and_thread),
	PL_TEST_CASE(test_reply_edit_delete),
};
PL_TEST_MAIN(tests)
