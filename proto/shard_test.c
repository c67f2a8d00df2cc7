/* shard_test.c - the channel -> partition -> shard function is stable. */
#include "pl_test.h"
#include "shard.h"

/* FNV-1a 32 reference values: any change breaks every existing deployment */
PL_TEST(test_hash_reference)
{
	static const struct { const char *s; uint32_t h; } cases[] = {
		{ "", 2166136261u },
		{ "a", 0xe40c292cu },
		{ "foobar", 0xbf9cf968u },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		PL_CHECK_EQ_INT(pl_shard_hash(cases[i].s), cases[i].h);
}

/* a shard owns whole partitions: shard = partition % shards */
PL_TEST(test_shard_owns_partitions)
{
	static const char *ids[] = { "C01", "C02", "GABCDEF", "D9Z", "CGENERAL" };
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		int p = pl_shard_partition(ids[i], 8);
		PL_CHECK(p >= 0 && p < 8);
		PL_CHECK_EQ_INT(pl_shard_of_channel(ids[i], 8, 2), p % 2);
		PL_CHECK_EQ_INT(pl_shard_of_channel(ids[i], 8, 1), 0);
	}
}

PL_TEST(test_degenerate_counts)
{
	PL_CHECK_EQ_INT(pl_shard_partition("C1", 0), 0);
	PL_CHECK_EQ_INT(pl_shard_of_channel("C1", 8, 0), 0);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_hash_reference),
	PL_TEST_CASE(test_shard_owns_partitions),
	PL_TEST_CASE(test_degenerate_counts),
};
PL_TEST_MAIN(tests)
