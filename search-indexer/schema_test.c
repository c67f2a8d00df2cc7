/* schema_test.c - every migration of the index's set still reads as it did
 * when it shipped (its recorded SHA-256). An edited migration fails here:
 * it has already run on some database, so add a new migration instead. */
#include <stdio.h>

#include "migrate.h"
#include "pl_test.h"
#include "search.h"

PL_TEST(test_set_unchanged)
{
	char err[512];
	size_t n = 0;
	const struct pl_migration *m = si_schema_migrations(&n);

	PL_CHECK(n > 0);
	if (pl_migrations_check("search-indexer", m, n, err, sizeof(err)) != 0) {
		printf("%s\n", err);
		PL_CHECK(!"a migration that shipped was edited: add a new migration instead");
	}
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_set_unchanged),
};
PL_TEST_MAIN(tests)
