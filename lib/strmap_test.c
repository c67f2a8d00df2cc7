/* strmap_test.c - the string table: put, get, replace, delete, growth,
 * iteration, value freeing, and buckets spread for keys of one shard. */
#include <stdio.h>
#include <stdlib.h>

#include "hash.h"
#include "pl_test.h"
#include "strmap.h"

/* put/get/del over enough keys to grow several times */
PL_TEST(test_put_get_del)
{
	struct pl_strmap *m = pl_strmap_create();
	char key[16];

	for (long i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		pl_strmap_put(m, key, (void *)(i + 1));
	}
	PL_CHECK_EQ_INT(pl_strmap_count(m), 1000);
	for (long i = 0; i < 1000; i++) {
		snprintf(key, sizeof(key), "k%ld", i);
		PL_CHECK_EQ_INT((long)pl_strmap_get(m, key), i + 1);
	}
	PL_CHECK_EQ_INT((long)pl_strmap_del(m, "k500"), 501);
	PL_CHECK(pl_strmap_get(m, "k500") == NULL);
	PL_CHECK(pl_strmap_del(m, "k500") == NULL);
	PL_CHECK_EQ_INT(pl_strmap_count(m), 999);
	pl_strmap_put(m, "k1", (void *)7L);	/* replaces, no new key */
	PL_CHECK_EQ_INT((long)pl_strmap_get(m, "k1"), 7);
	PL_CHECK_EQ_INT(pl_strmap_count(m), 999);
	PL_CHECK(pl_strmap_get(m, "") == NULL);
	pl_strmap_put(m, "", (void *)3L);	/* the empty key is a key */
	PL_CHECK_EQ_INT((long)pl_strmap_get(m, ""), 3);
	pl_strmap_free(&m, NULL);
	PL_CHECK(m == NULL);
	pl_strmap_free(&m, NULL);		/* NULL is fine */
}

/* keys are copied: the caller's buffer may change after put */
PL_TEST(test_keys_copied)
{
	struct pl_strmap *m = pl_strmap_create();
	char key[8] = "abc";

	pl_strmap_put(m, key, (void *)1L);
	key[0] = 'x';
	PL_CHECK_EQ_INT((long)pl_strmap_get(m, "abc"), 1);
	PL_CHECK(pl_strmap_get(m, "xbc") == NULL);
	pl_strmap_free(&m, NULL);
}

static void
sum_fn(const char *key, void *val, void *arg)
{
	(void)key;
	*(long *)arg += (long)val;
}

static int freed;

static void
count_free(void *v)
{
	freed++;
	free(v);
}

/* each visits every entry once; free hands every value to val_free */
PL_TEST(test_each_and_free)
{
	struct pl_strmap *m = pl_strmap_create();
	char key[16];
	long sum = 0;

	for (long i = 1; i <= 100; i++) {
		snprintf(key, sizeof(key), "C%ld", i);
		pl_strmap_put(m, key, (void *)i);
	}
	pl_strmap_each(m, sum_fn, &sum);
	PL_CHECK_EQ_INT(sum, 5050);
	pl_strmap_free(&m, NULL);

	m = pl_strmap_create();
	freed = 0;
	for (int i = 0; i < 40; i++) {
		snprintf(key, sizeof(key), "U%d", i);
		pl_strmap_put(m, key, malloc(8));
	}
	pl_strmap_free(&m, count_free);
	PL_CHECK_EQ_INT(freed, 40);
}

/* the channels one message-svc shard owns share FNV-1a's low bits (partition
 * % shards): the table's hash still reaches every bucket with them */
PL_TEST(test_shard_keys_spread)
{
	int seen[64] = { 0 }, used = 0, odd = 0, n = 0;
	char key[16];

	for (int i = 0; n < 2048; i++) {
		snprintf(key, sizeof(key), "C%07d", i);
		if (pl_hash_fnv1a_str(key) % 4 != 0)	/* shard 0 of 4 */
			continue;
		n++;
		seen[pl_strmap_hash(key) & 63]++;
		odd += pl_strmap_hash(key) & 1;
	}
	for (int b = 0; b < 64; b++)
		used += seen[b] > 0;
	PL_CHECK_EQ_INT(used, 64);
	PL_CHECK(odd > 2048 / 4 && odd < 2048 * 3 / 4);
	PL_CHECK_EQ_INT(pl_strmap_hash("C01"), pl_hash_mix32(0xa073ccf5u));
}

static const struct pl_test_case tests[] = {
	PL_TEST_CASE(test_put_get_del),
	PL_TEST_CASE(test_keys_copied),
	PL_TEST_CASE(test_each_and_free),
	PL_TEST_CASE(test_shard_keys_spread),
};
PL_TEST_MAIN(tests)
