/* mention_test.c - ns_mention_parse and ns_id_ok */
#include <stdio.h>
#include <string.h>

#include "notify.h"
#include "pl_test.h"

PL_TEST(test_users)
{
	struct ns_mentions m;

	ns_mention_parse("hi <@U1> and <@U2|bob>, again <@U1> and me <@UA>", "UA", &m);
	PL_CHECK(m.n == 2);
	PL_CHECK(strcmp(m.users[0], "U1") == 0);
	PL_CHECK(strcmp(m.users[1], "U2") == 0);
	PL_CHECK(!m.broadcast);
}

PL_TEST(test_broadcast)
{
	struct ns_mentions m;

	ns_mention_parse("<!here> look", "U1", &m);
	PL_CHECK(m.broadcast && m.here && !m.channel);
	ns_mention_parse("<!channel|channel> and <!everyone>", "U1", &m);
	PL_CHECK(m.broadcast && m.channel && !m.here);
	ns_mention_parse("<!subteam^S1> <!date^1|x>", "U1", &m);
	PL_CHECK(!m.broadcast && m.n == 0);
}

PL_TEST(test_malformed)
{
	struct ns_mentions m;
	char big[4096];
	int i;

	ns_mention_parse("<@U1 <@U2> <@> <@U3|x <!here", "U9", &m);
	PL_CHECK(m.n == 1 && strcmp(m.users[0], "U2") == 0);
	PL_CHECK(!m.broadcast);
	ns_mention_parse("<@U\"1>", "U9", &m);
	PL_CHECK(m.n == 0);
	ns_mention_parse(NULL, "U9", &m);
	PL_CHECK(m.n == 0);
	/* a flood of mentions keeps the first NS_MENTION_MAX */
	big[0] = 0;
	for (i = 0; i < 100; i++) {
		char one[16];

		snprintf(one, sizeof(one), "<@U%d>", i);
		strcat(big, one);
	}
	ns_mention_parse(big, "U9", &m);
	PL_CHECK(m.n == NS_MENTION_MAX);
}

PL_TEST(test_id_ok)
{
	PL_CHECK(ns_id_ok("U123"));
	PL_CHECK(ns_id_ok("1700000000.000001"));
	PL_CHECK(!ns_id_ok(""));
	PL_CHECK(!ns_id_ok("a\"b"));
	PL_CHECK(!ns_id_ok("0123456789012345678901234567890123"));
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_users),
	PL_TEST_CASE(test_broadcast),
	PL_TEST_CASE(test_malformed),
	PL_TEST_CASE(test_id_ok),
};
PL_TEST_MAIN(tests)
