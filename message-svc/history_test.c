/* history_test.c - the cursor round trip and its rejection of foreign input. */

/* the modules this test links (Makefile, test_links): what it tests */
/* test-links: history */
/* and what those need: history.c is a method handler (the call and the
 * replies it keeps for resends, the channel table, a page of rows, the
 * cache and the tail) */
/* test-links: call resend chan page target tail cache state seq render */
#include "err.h"
#include "message_svc.h"
#include "ms_methods.h"
#include "pl_test.h"

PL_TEST(test_cursor)
{
	char cur[32];
	int64_t seq = 0;

	ms_history_cursor(12345, cur);
	PL_CHECK_EQ_STR(cur, "c2VxOjEyMzQ1");
	PL_CHECK_EQ_INT(ms_history_cursor_parse(cur, &seq), 0);
	PL_CHECK_EQ_INT(seq, 12345);
	PL_CHECK_EQ_INT(ms_history_cursor_parse("bm9wZQ", &seq), PL_EINVAL);
	PL_CHECK_EQ_INT(ms_history_cursor_parse("!!", &seq), PL_EINVAL);
	ms_history_cursor(0, cur);
	PL_CHECK_EQ_INT(ms_history_cursor_parse(cur, &seq), PL_EINVAL);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_cursor),
};
PL_TEST_MAIN(tests)
