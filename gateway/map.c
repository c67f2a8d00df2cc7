/* map.c - a string-keyed hash map (chained, power-of-two buckets, FNV-1a).
 *
 * Keys are copied; values are borrowed pointers. Grows at load 1. */
#include <stdlib.h>
#include <string.h>

#include "gateway.h"
#include "mem.h"

struct gw_map_ent {
	struct gw_map_ent *next;
	uint32_t hash;
	void *val;
	char key[];
};

struct gw_map {
	struct gw_map_ent **b;
	size_t nb, n;
};

/* gw_map_hash - FNV-1a 32 */
static uint32_t
gw_map_hash(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

/* gw_map_create - an empty map */
struct gw_map *
gw_map_create(void)
{
	struct gw_map *m = pl_calloc(1, sizeof(*m));

	m->nb = 16;
	m->b = pl_calloc(m->nb, sizeof(*m->b));
	return m;
}

/* gw_map_free - free entries (not values) and the map */
void
gw_map_free(struct gw_map **mp)
{
	struct gw_map *m = *mp;
	struct gw_map_ent *e, *next;
	size_t i;

	if (m == NULL)
		return;
	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = next) {
			next = e->next;
			free(e);
		}
	free(m->b);
	pl_free(mp);
}

/* gw_map_slot - the link that points at key's entry (or at NULL) */
static struct gw_map_ent **
gw_map_slot(const struct gw_map *m, const char *key, uint32_t h)
{
	struct gw_map_ent **p = &m->b[h & (m->nb - 1)];

	while (*p != NULL && ((*p)->hash != h || strcmp((*p)->key, key) != 0))
		p = &(*p)->next;
	return p;
}

/* gw_map_get - the value of key or NULL */
void *
gw_map_get(const struct gw_map *m, const char *key)
{
	struct gw_map_ent *e = *gw_map_slot(m, key, gw_map_hash(key));

	return e ? e->val : NULL;
}

/* gw_map_rehash - double the buckets */
static void
gw_map_rehash(struct gw_map *m)
{
	size_t nb = m->nb * 2, i;
	struct gw_map_ent **b = pl_calloc(nb, sizeof(*b)), *e, *next;

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

/* gw_map_put - set key to val */
void
gw_map_put(struct gw_map *m, const char *key, void *val)
{
	uint32_t h = gw_map_hash(key);
	struct gw_map_ent **p = gw_map_slot(m, key, h), *e;
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
		gw_map_rehash(m);
}

/* gw_map_del - remove key if present */
void
gw_map_del(struct gw_map *m, const char *key)
{
	struct gw_map_ent **p = gw_map_slot(m, key, gw_map_hash(key)), *e = *p;

	if (e == NULL)
		return;
	*p = e->next;
	free(e);
	m->n--;
}

/* gw_map_count - number of keys */
size_t
gw_map_count(const struct gw_map *m)
{
	return m->n;
}

/* gw_map_each - call fn for every entry (fn must not change the map) */
void
gw_map_each(const struct gw_map *m, gw_map_fn fn, void *arg)
{
	struct gw_map_ent *e;
	size_t i;

	for (i = 0; i < m->nb; i++)
		for (e = m->b[i]; e != NULL; e = e->next)
			fn(e->key, e->val, arg);
}
