/* ids_test.c - id shape and validation, random hex. */
#include <stdlib.h>
#include <string.h>

#include "ids.h"
#include "pl_test.h"

PL_TEST(test_new_ids)
{
	char a[PL_ID_MAX + 1], b[PL_ID_MAX + 1];
	int i;

	for (i = 0; i < 1000; i++) {
		pl_id_new('U', a);
		PL_CHECK_EQ_INT(strlen(a), 11);
		PL_CHECK(a[0] == 'U');
		PL_CHECK(pl_id_valid(a, "U"));
		PL_CHECK(!pl_id_valid(a, "CGD"));
		PL_CHECK(strpbrk(a + 1, "ILOU") == NULL);
	}
	pl_id_new('C', b);
	PL_CHECK(strcmp(a, b) != 0);
}

static const struct {
	const char *id, *prefixes;
	int valid;
} cases[] = {
	{ "U0G9QF9C6", "U", 1 },
	{ "C024BE91L", "CGD", 1 },
	{ "D1", "CGD", 1 },
	{ "C", "C", 0 },			/* prefix only */
	{ "", "C", 0 },
	{ "c024BE91L", "C", 0 },		/* lowercase prefix */
	{ "C024be91L", "C", 0 },		/* lowercase body */
	{ "C024-E91L", "C", 0 },
	{ "C123456789012345", "C", 1 },	/* 16 */
	{ "C1234567890123456", "C", 0 },	/* 17 */
	{ "X024BE91L", "CGD", 0 },
	{ "U0G9 QF9C6", "U", 0 },
};

PL_TEST(test_valid)
{
	size_t i;

	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (pl_id_valid(cases[i].id, cases[i].prefixes) != cases[i].valid)
			PL_CHECK_EQ_STR(cases[i].id, cases[i].valid ? "valid" : "invalid");
	PL_CHECK(!pl_id_valid(NULL, "C"));
}

PL_TEST(test_random_hex)
{
	char *h = pl_random_hex(16), *g = pl_random_hex(16);

	PL_CHECK_EQ_INT(strlen(h), 32);
	PL_CHECK_EQ_INT(strspn(h, "0123456789abcdef"), 32);
	PL_CHECK(strcmp(h, g) != 0);
	free(h);
	free(g);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_new_ids),
	PL_TEST_CASE(test_valid),
	PL_TEST_CASE(test_random_hex),
};
PL_TEST_MAIN(tests)
