/* strmap.h - the string-keyed hash table: string -> borrowed pointer.
 *
 * Chained, power-of-two buckets, grows at load 1; keys are copied, values
 * are the caller's. The bucket hash is pl_hash_mix32(pl_hash_fnv1a_str(key))
 * (pl_strmap_hash): always finalized, so keys whose FNV-1a share their low
 * bits (the channels of one message-svc shard) still spread over every
 * bucket. No iteration order; fn of pl_strmap_each must not change the map. */
#ifndef PL_STRMAP_H
#define PL_STRMAP_H
#include <stddef.h>
#include <stdint.h>

struct pl_strmap;
typedef void (*pl_strmap_fn)(const char *key, void *val, void *arg);

/* pl_strmap_create - an empty map */
struct pl_strmap *pl_strmap_create(void);
/* pl_strmap_free - every entry (val_free on each value when given), then the map; NULLs *mp */
void pl_strmap_free(struct pl_strmap **mp, void (*val_free)(void *));
/* pl_strmap_get - the value of key, or NULL */
void *pl_strmap_get(const struct pl_strmap *m, const char *key);
/* pl_strmap_put - set key to val (replaces) */
void pl_strmap_put(struct pl_strmap *m, const char *key, void *val);
/* pl_strmap_del - remove key; its value, or NULL when absent */
void *pl_strmap_del(struct pl_strmap *m, const char *key);
/* pl_strmap_count - number of keys */
size_t pl_strmap_count(const struct pl_strmap *m);
/* pl_strmap_each - fn(key, val, arg) for every entry */
void pl_strmap_each(const struct pl_strmap *m, pl_strmap_fn fn, void *arg);
/* pl_strmap_hash - the bucket hash of key (its low bits pick the bucket) */
uint32_t pl_strmap_hash(const char *key);

#endif
