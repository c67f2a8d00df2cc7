/* hash_test.c - FNV-1a 32 and the finalizer against recorded values. */
#include <string.h>

#include "hash.h"
#include "pl_test.h"

/* FNV-1a 32 is a wire contract (proto/shard.c): recorded, never recomputed */
static const struct { const char *s; uint32_t h; } fnv_cases[] = {
	{ "", 2166136261u },
	{ "a", 0xe40c292cu },
	{ "foobar", 0xbf9cf968u },
	{ "C01", 0xa073ccf5u },
	{ "CGENERAL", 0xd56f185au },
	{ "T0000000001", 0x2a289a08u },
	{ "hello w\xc3\xb6rld", 0x934789efu },
};

PL_TEST(test_fnv1a_reference)
{
	for (size_t i = 0; i < sizeof(fnv_cases) / sizeof(fnv_cases[0]); i++) {
		const char *s = fnv_cases[i].s;

		PL_CHECK_EQ_INT(pl_hash_fnv1a_str(s), fnv_cases[i].h);
		PL_CHECK_EQ_INT(pl_hash_fnv1a(s, strlen(s)), fnv_cases[i].h);
	}
}

/* the counted form hashes the bytes it is given, NUL included */
PL_TEST(test_fnv1a_counted)
{
	PL_CHECK_EQ_INT(pl_hash_fnv1a("foobarXYZ", 6), 0xbf9cf968u);
	PL_CHECK(pl_hash_fnv1a("a\0b", 3) != pl_hash_fnv1a_str("a"));
}

/* murmur3 fmix32, recorded: the finalizer message-svc's channel maps need */
PL_TEST(test_mix32_reference)
{
	PL_CHECK_EQ_INT(pl_hash_mix32(0), 0);
	PL_CHECK_EQ_INT(pl_hash_mix32(0xa073ccf5u), 0x503dfa87u);
	PL_CHECK_EQ_INT(pl_hash_mix32(0xd56f185au), 0x6de1df66u);
	PL_CHECK_EQ_INT(pl_hash_mix32(0x2a289a08u), 0x57dbfb75u);
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_fnv1a_reference),
	PL_TEST_CASE(test_fnv1a_counted),
	PL_TEST_CASE(test_mix32_reference),
};
PL_TEST_MAIN(tests)
