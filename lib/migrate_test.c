/* migrate_test.c - the migration hash and the check of a set. */
#include <string.h>

#include "err.h"
#include "migrate.h"
#include "pl_test.h"

PL_TEST(test_sha256_known)
{
	char h[65];

	/* FIPS 180-2 test vector */
	pl_migration_sha256("abc", h);
	PL_CHECK_EQ_STR(h, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	pl_migration_sha256("", h);
	PL_CHECK_EQ_STR(h, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}

PL_TEST(test_check_accepts_recorded)
{
	static const struct pl_migration set[] = {
		{ 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc" },
		{ 3, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", "" },
	};
	char err[512] = "x";

	PL_CHECK_EQ_INT(pl_migrations_check("t", set, 2, err, sizeof(err)), 0);
	PL_CHECK_EQ_STR(err, "");
}

PL_TEST(test_check_refuses_edited)
{
	/* one character added to an applied migration */
	static const struct pl_migration set[] = {
		{ 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc" },
		{ 2, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc " },
	};
	char err[512];

	PL_CHECK_EQ_INT(pl_migrations_check("t", set, 2, err, sizeof(err)), PL_EINVAL);
	PL_CHECK(strstr(err, "t: migration 2 was edited") != NULL);
	PL_CHECK(strstr(err, "add a new migration instead") != NULL);
}

PL_TEST(test_check_refuses_order_and_missing_hash)
{
	static const struct pl_migration dup[] = {
		{ 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc" },
		{ 1, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad", "abc" },
	};
	static const struct pl_migration nohash[] = {
		{ 1, NULL, "abc" },
	};
	/* an entry written the old way, { version, sql }: the SQL lands in sha256 */
	static const struct pl_migration oldstyle[] = {
		{ 1, "CREATE TABLE t (a int);", NULL },
	};
	char err[512];

	PL_CHECK_EQ_INT(pl_migrations_check("t", dup, 2, err, sizeof(err)), PL_EINVAL);
	PL_CHECK(strstr(err, "out of order") != NULL);
	PL_CHECK_EQ_INT(pl_migrations_check("t", nohash, 1, err, sizeof(err)), PL_EINVAL);
	PL_CHECK(strstr(err, "t: migration 1 has no recorded sha256: its text hashes to"
	    " ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad") != NULL);
	PL_CHECK_EQ_INT(pl_migrations_check("t", oldstyle, 1, err, sizeof(err)), PL_EINVAL);
	PL_CHECK(strstr(err, "migration 1 has no SQL") != NULL);
}

PL_TEST(test_apply_refuses_edited_before_connecting)
{
	static const struct pl_migration set[] = {
		{ 1, "0000000000000000000000000000000000000000000000000000000000000000",
		  "CREATE TABLE x (a int);" },
	};

	/* the DSN is never used: the check comes first */
	PL_CHECK_EQ_INT(pl_migrations_apply("host=/nonexistent", "t", set, 1), PL_EINVAL);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_sha256_known),
	PL_TEST_CASE(test_check_accepts_recorded),
	PL_TEST_CASE(test_check_refuses_edited),
	PL_TEST_CASE(test_check_refuses_order_and_missing_hash),
	PL_TEST_CASE(test_apply_refuses_edited_before_connecting),
};
PL_TEST_MAIN(tests)
