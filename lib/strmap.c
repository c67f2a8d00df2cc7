/* strmap.c - string -> pointer hash table, chained (see strmap.h). */
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "mem.h"
#include "strmap.h"

#define PL_STRMAP_MIN_BUCKETS 16

struct pl_strmap_ent {
	struct pl_strmap_ent *next;
	uint32_t hash;
	void *val;
	char key[];
};

struct pl_strmap {
	struct pl_strmap_ent **b;
	size_t nb;		/* buckets, a power of two */
	size_t n;
};

/* pl_strmap_hash - FNV-1a, finalized: the low bits depend on every byte */
uint32_t
pl_strmap_hash(const char *key)
{
	return pl_hash_mix32(pl_hash_fnv1a_str(key));
}

/* pl_strmap_create - an empty map */
struct pl_strmap *
pl_strmap_create(void)
{
	struct pl_strmap *m = pl_calloc(1, sizeof(*m));

	m->nb = PL_STRMAP_MIN_BUCKETS;
	m->b = pl_calloc(m->nb, sizeof(*m->b));
	return m;
}

/* pl_strmap_free - every entry (val_free on each value when given), then the map */
void
pl_strmap_free(struct pl_strmap **mp, void (*val_free)(void *))
{
	struct pl_strmap *m = *mp;
	struct pl_strmap_ent *e, *next;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			if (val_free != NULL)
				val_free(e->val);
			free(e);
		}
	free(m->b);
	pl_free(mp);
}

/* pl_strmap_slot - the link that points at key's entry (or at NULL) */
static struct pl_strmap_ent **
pl_strmap_slot(const struct pl_strmap *m, const char *key, uint32_t h)
{
	struct pl_strmap_ent **p = &m->b[h & (m->nb - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

/* pl_strmap_get - the value of key, or NULL */
void *
pl_strmap_get(const struct pl_strmap *m, const char *key)
{
	struct pl_strmap_ent *e = *pl_strmap_slot(m, key, pl_strmap_hash(key));

	return e != NULL ? e->val : NULL;
}

/* pl_strmap_grow - double the buckets */
static void
pl_strmap_grow(struct pl_strmap *m)
{
	size_t nb = m->nb * 2, i;
	struct pl_strmap_ent **b = pl_calloc(nb, sizeof(*b)), *e, *next;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			e->next = b[e->hash & (nb - 1)];
			b[e->hash & (nb - 1)] = e;
		}
	free(m->b);
	m->b = b;
	m->nb = nb;
}

/* pl_strmap_put - set key to val (replaces) */
void
pl_strmap_put(struct pl_strmap *m, const char *key, void *val)
{
	uint32_t h = pl_strmap_hash(key);
	struct pl_strmap_ent **p = pl_strmap_slot(m, key, h), *e;
	size_t kl;

	if (*p != NULL) {
		(*p)->val = val;
		return;
	}
	kl = strlen(key);
	e = pl_malloc(sizeof(*e) + kl + 1);
	memcpy(e->key, key, kl + 1);
	e->hash = h;
	e->val = val;
	e->next = NULL;
	*p = e;
	if (++m->n > m->nb)
		pl_strmap_grow(m);
}

/* pl_strmap_del - remove key; its value, or NULL when absent */
void *
pl_strmap_del(struct pl_strmap *m, const char *key)
{
	struct pl_strmap_ent **p = pl_strmap_slot(m, key, pl_strmap_hash(key)), *e = *p;
	void *val;

	if (e == NULL)
		return NULL;
	*p = e->next;
	val = e->val;
	free(e);
	m->n--;
	return val;
}

/* pl_strmap_count - number of keys */
size_t
pl_strmap_count(const struct pl_strmap *m)
{
	return m->n;
}

/* pl_strmap_each - fn(key, val, arg) for every entry */
void
pl_strmap_each(const struct pl_strmap *m, pl_strmap_fn fn, void *arg)
{
	struct pl_strmap_ent *e;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
}
