/* schema_test.c - every migration of notify-svc's database still reads as
 * it did when it shipped (its recorded SHA-256): an edited one fails here. */
#include <stdio.h>

#include "migrate.h"
#include "notify.h"
#include "pl_test.h"

PL_TEST(test_schema_unchanged)
{
	char err[512];
	size_t n = 0;
	const struct pl_migration *m = ns_schema_migrations(&n);

	PL_CHECK(n >= 5);
	if (pl_migrations_check("notify-svc", m, n, err, sizeof(err)) != 0) {
		printf("%s\n", err);
		PL_CHECK(!"a migration that shipped was edited: add a new migration instead");
	}
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_schema_unchanged),
};
PL_TEST_MAIN(tests)
