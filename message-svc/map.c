/* map.c - a string -> pointer hash map with chaining (keys are copied). */
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "message_svc.h"
#include "shard.h"

struct map_ent {
	struct map_ent *next;
	void *val;
	char key[];
};

struct ms_map {
	struct map_ent **tab;
	size_t size;		/* buckets, a power of two */
	size_t count;
};

struct ms_map *
ms_map_create(void)
{
	struct ms_map *m = pl_calloc(1, sizeof(*m));

	m->size = 16;
	m->tab = pl_calloc(m->size, sizeof(*m->tab));
	return m;
}

/* ms_map_free - free entries (val_free on each value if given) and the map */
void
ms_map_free(struct ms_map **mp, void (*val_free)(void *))
{
	struct ms_map *m = *mp;
	struct map_ent *e, *next;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->size; i++) {
		for (e = m->tab[i]; e != NULL; e = next) {
			next = e->next;
			if (val_free)
				val_free(e->val);
			free(e);
		}
	}
	free(m->tab);
	free(m);
	*mp = NULL;
}

/* map_hash - the key's bucket hash. pl_shard_hash is the channel -> shard
 * function, so the channels one shard owns share its low bits (partition %
 * shard_count): used as is, half the buckets of a channel map stayed empty
 * and chains were twice as long. A finalizer (murmur3's fmix32) spreads
 * every bit over the low ones. */
static uint32_t
map_hash(const char *key)
{
	uint32_t h = pl_shard_hash(key);

	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* map_slot - the link that points at key's entry (or at NULL) */
static struct map_ent **
map_slot(const struct ms_map *m, const char *key)
{
	struct map_ent **pe = &m->tab[map_hash(key) & (m->size - 1)];

	while (*pe != NULL && strcmp((*pe)->key, key) != 0)
		pe = &(*pe)->next;
	return pe;
}

/* map_grow - double the buckets when the load passes 1 */
static void
map_grow(struct ms_map *m)
{
	struct map_ent **old = m->tab, *e, *next;
	size_t i, osize = m->size;

	m->size *= 2;
	m->tab = pl_calloc(m->size, sizeof(*m->tab));
	for (i = 0; i < osize; i++) {
		for (e = old[i]; e != NULL; e = next) {
			size_t h = map_hash(e->key) & (m->size - 1);

			next = e->next;
			e->next = m->tab[h];
			m->tab[h] = e;
		}
	}
	free(old);
}

void *
ms_map_get(const struct ms_map *m, const char *key)
{
	struct map_ent *e = *map_slot(m, key);

	return e ? e->val : NULL;
}

void
ms_map_put(struct ms_map *m, const char *key, void *val)
{
	struct map_ent **pe = map_slot(m, key), *e;
	size_t n;

	if (*pe != NULL) {
		(*pe)->val = val;
		return;
	}
	n = strlen(key);
	e = pl_malloc(sizeof(*e) + n + 1);
	memcpy(e->key, key, n + 1);
	e->val = val;
	e->next = NULL;
	*pe = e;
	if (++m->count > m->size)
		map_grow(m);
}

void *
ms_map_del(struct ms_map *m, const char *key)
{
	struct map_ent **pe = map_slot(m, key), *e = *pe;
	void *val;

	if (e == NULL)
		return NULL;
	*pe = e->next;
	val = e->val;
	free(e);
	m->count--;
	return val;
}

size_t
ms_map_count(const struct ms_map *m)
{
	return m->count;
}

/* ms_map_each - call fn for every entry (fn must not change the map) */
void
ms_map_each(struct ms_map *m, void (*fn)(const char *key, void *val, void *arg), void *arg)
{
	struct map_ent *e;
	size_t i;

	for (i = 0; i < m->size; i++)
		for (e = m->tab[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
}
