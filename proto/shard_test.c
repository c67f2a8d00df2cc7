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

/* recorded placements: channel -> partition of 64 -> shard of 4, and the
 * search-indexer's team split (pl_shard_hash(team) % search-count, 2 here).
 * Written down once from the deployed function; never recompute them. */
PL_TEST(test_recorded_placements)
{
	static const struct {
		const char *id;
		uint32_t h;
		int part64, shard4, search2;
	} cases[] = {
		{ "C01", 0xa073ccf5u, 53, 1, 1 },
		{ "CGENERAL", 0xd56f185au, 26, 2, 0 },
		{ "G0ABC123", 0xe3a62142u, 2, 2, 0 },
		{ "D9Z", 0x25a2930cu, 12, 0, 0 },
		{ "T0000000001", 0x2a289a08u, 8, 0, 0 },
		{ "T0ABCDEF12", 0x40394785u, 5, 1, 1 },
		{ "T1", 0x87f60476u, 54, 2, 0 },
		{ "TZZZZ", 0x3e3e5223u, 35, 3, 1 },
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		PL_CHECK_EQ_INT(pl_shard_hash(cases[i].id), cases[i].h);
		PL_CHECK_EQ_INT(pl_shard_partition(cases[i].id, 64), cases[i].part64);
		PL_CHECK_EQ_INT(pl_shard_of_channel(cases[i].id, 64, 4), cases[i].shard4);
		PL_CHECK_EQ_INT(pl_shard_of_team(cases[i].id, 64, 4), cases[i].shard4);
		PL_CHECK_EQ_INT(pl_shard_hash(cases[i].id) % 2, cases[i].search2);
	}
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
	PL_TEST_CASE(test_recorded_placements),
	PL_TEST_CASE(test_shard_owns_partitions),
	PL_TEST_CASE(test_degenerate_counts),
};
PL_TEST_MAIN(tests)
