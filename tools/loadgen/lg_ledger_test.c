/* lg_ledger_test.c - the ledger checker: gap, duplicate, reorder, foreign channel */
#include "lg_ledger.h"
#include "pl_test.h"

struct step {
	uint32_t conn, chan, seq;
	int want;
};

/* run - a fresh ledger (conn 0 in chans 1,2; conn 1 in chan 2) fed the steps */
static void
run(const struct step *s, int n, struct lg_ledger *l)
{
	lg_ledger_init(l, 2, 8);
	PL_CHECK_EQ_INT(lg_ledger_add(l, 0, 1), 0);
	PL_CHECK_EQ_INT(lg_ledger_add(l, 0, 2), 0);
	PL_CHECK_EQ_INT(lg_ledger_add(l, 1, 2), 0);
	for (int i = 0; i < n; i++)
		PL_CHECK_EQ_INT(lg_ledger_check(l, s[i].conn, s[i].chan, s[i].seq),
		    s[i].want);
}

PL_TEST(test_in_order)
{
	static const struct step s[] = {
		{0, 1, 1, LG_LEDGER_OK}, {0, 1, 2, LG_LEDGER_OK},
		{0, 2, 1, LG_LEDGER_OK}, {1, 2, 1, LG_LEDGER_OK},
		{0, 1, 3, LG_LEDGER_OK}, {1, 2, 2, LG_LEDGER_OK},
	};
	struct lg_ledger l;

	run(s, 6, &l);
	PL_CHECK_EQ_INT(lg_ledger_violations(&l), 0);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_OK], 6);
	PL_CHECK_EQ_INT(lg_ledger_last(&l, 0, 1), 3);
	lg_ledger_fini(&l);
}

PL_TEST(test_gap_then_late)
{
	static const struct step s[] = {
		{0, 1, 1, LG_LEDGER_OK}, {0, 1, 4, LG_LEDGER_GAP},
		{0, 1, 2, LG_LEDGER_REORDER}, {0, 1, 2, LG_LEDGER_DUP},
		{0, 1, 5, LG_LEDGER_OK}, {0, 2, 2, LG_LEDGER_GAP},
	};
	struct lg_ledger l;

	run(s, 6, &l);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_GAP], 2);
	PL_CHECK_EQ_INT(l.missing, 3);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_REORDER], 1);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_DUP], 1);
	PL_CHECK_EQ_INT(lg_ledger_violations(&l), 4);
	lg_ledger_fini(&l);
}

PL_TEST(test_duplicate)
{
	static const struct step s[] = {
		{1, 2, 1, LG_LEDGER_OK}, {1, 2, 1, LG_LEDGER_DUP},
		{1, 2, 2, LG_LEDGER_OK}, {1, 2, 1, LG_LEDGER_DUP},
	};
	struct lg_ledger l;

	run(s, 4, &l);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_DUP], 2);
	lg_ledger_fini(&l);
}

PL_TEST(test_foreign)
{
	static const struct step s[] = {
		{1, 1, 1, LG_LEDGER_FOREIGN}, {0, 3, 1, LG_LEDGER_FOREIGN},
		{5, 1, 1, LG_LEDGER_FOREIGN}, {0, 1, 1, LG_LEDGER_OK},
	};
	struct lg_ledger l;

	run(s, 4, &l);
	PL_CHECK_EQ_INT(l.count[LG_LEDGER_FOREIGN], 3);
	PL_CHECK_EQ_STR(lg_ledger_kind(LG_LEDGER_FOREIGN), "foreign");
	lg_ledger_fini(&l);
}

PL_TEST(test_any_base_and_resync)
{
	struct lg_ledger l;

	run(NULL, 0, &l);
	lg_ledger_any(&l, 0, 1);
	PL_CHECK_EQ_INT(lg_ledger_check(&l, 0, 1, 40), LG_LEDGER_OK);
	PL_CHECK_EQ_INT(lg_ledger_check(&l, 0, 1, 41), LG_LEDGER_OK);
	lg_ledger_any(&l, 0, 1);                        /* resync_required */
	PL_CHECK_EQ_INT(lg_ledger_check(&l, 0, 1, 90), LG_LEDGER_OK);
	PL_CHECK_EQ_INT(lg_ledger_check(&l, 0, 1, 92), LG_LEDGER_GAP);
	PL_CHECK_EQ_INT(lg_ledger_add(&l, 0, 9), -1);    /* out of order */
	lg_ledger_fini(&l);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_in_order),
	PL_TEST_CASE(test_gap_then_late),
	PL_TEST_CASE(test_duplicate),
	PL_TEST_CASE(test_foreign),
	PL_TEST_CASE(test_any_base_and_resync),
};
PL_TEST_MAIN(tests)
