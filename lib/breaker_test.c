/* breaker_test.c - the closed / open / half-open state machine as a script. */
#include "breaker.h"
#include "pl_test.h"

enum { ALLOW, OK, FAIL };

static const struct step {
	int op;
	uint64_t now_ms;
	int want;	/* ALLOW: the answer; OK/FAIL: ignored */
	enum pl_breaker_state state;
} script[] = {
	{ ALLOW, 0, 1, PL_BREAKER_CLOSED },
	{ FAIL, 0, 0, PL_BREAKER_CLOSED },
	{ FAIL, 1, 0, PL_BREAKER_CLOSED },
	{ OK, 2, 0, PL_BREAKER_CLOSED },	/* success resets the count */
	{ FAIL, 3, 0, PL_BREAKER_CLOSED },
	{ FAIL, 4, 0, PL_BREAKER_CLOSED },
	{ FAIL, 10, 0, PL_BREAKER_OPEN },	/* third in a row opens */
	{ ALLOW, 11, 0, PL_BREAKER_OPEN },
	{ ALLOW, 109, 0, PL_BREAKER_OPEN },
	{ ALLOW, 110, 1, PL_BREAKER_HALF_OPEN },	/* the probe */
	{ ALLOW, 111, 0, PL_BREAKER_HALF_OPEN },	/* one at a time */
	{ FAIL, 112, 0, PL_BREAKER_OPEN },	/* failed probe reopens */
	{ ALLOW, 200, 0, PL_BREAKER_OPEN },
	{ ALLOW, 212, 1, PL_BREAKER_HALF_OPEN },
	{ OK, 213, 0, PL_BREAKER_CLOSED },	/* good probe closes */
	{ ALLOW, 214, 1, PL_BREAKER_CLOSED },
	{ ALLOW, 214, 1, PL_BREAKER_CLOSED },
	{ FAIL, 215, 0, PL_BREAKER_CLOSED },
};

PL_TEST(test_script)
{
	struct pl_breaker b;
	size_t i;

	pl_breaker_init(&b, 3, 100);
	for (i = 0; i < sizeof(script) / sizeof(script[0]); i++) {
		const struct step *s = &script[i];
		if (s->op == ALLOW)
			PL_CHECK_EQ_INT(pl_breaker_allow(&b, s->now_ms), s->want);
		else if (s->op == OK)
			pl_breaker_success(&b);
		else
			pl_breaker_failure(&b, s->now_ms);
		if (b.state != s->state)
			PL_CHECK_EQ_STR(pl_breaker_state_name(b.state),
			    pl_breaker_state_name(s->state));
	}
}

PL_TEST(test_names)
{
	PL_CHECK_EQ_STR(pl_breaker_state_name(PL_BREAKER_CLOSED), "closed");
	PL_CHECK_EQ_STR(pl_breaker_state_name(PL_BREAKER_OPEN), "open");
	PL_CHECK_EQ_STR(pl_breaker_state_name(PL_BREAKER_HALF_OPEN), "half_open");
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_script),
	PL_TEST_CASE(test_names),
};
PL_TEST_MAIN(tests)
