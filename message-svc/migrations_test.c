/* migrations_test.c - every migration of both sets still reads as it did
 * when it shipped (its recorded SHA-256). An edited migration fails here:
 * it has already run on some database, so add a new migration instead. */
#include <stdio.h>

#include "message_svc.h"
#include "migrate.h"
#include "pl_test.h"

/* check_set - the set's versions and hashes, reporting the first mismatch */
static void
check_set(const char *name, int directory)
{
	char err[512];
	size_t n = 0;
	const struct pl_migration *m = ms_migrations(directory, &n);

	PL_CHECK(n > 0);
	if (pl_migrations_check(name, m, n, err, sizeof(err)) != 0) {
		printf("%s\n", err);
		PL_CHECK(!"a migration that shipped was edited: add a new migration instead");
	}
}

PL_TEST(test_directory_set_unchanged)
{
	check_set("message-svc/directory", 1);
}

PL_TEST(test_shard_set_unchanged)
{
	check_set("message-svc/shard", 0);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_directory_set_unchanged),
	PL_TEST_CASE(test_shard_set_unchanged),
};
PL_TEST_MAIN(tests)
