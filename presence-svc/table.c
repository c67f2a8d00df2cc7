/* table.c - a bounded table of string keys in time order (see presence.h).
 *
 * A chained hash for look-ups and one doubly linked list in the order the
 * entries were last stamped. Callers stamp with a monotonic clock and one
 * fixed lifetime per table, so the head of the list is always the entry that
 * expires first and expiry costs O(1) per entry: no scan, no heap. */
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "mem.h"
#include "presence.h"

struct ps_table {
	struct ps_entry **buckets;
	size_t nbuckets;	/* a power of two */
	size_t count;
	size_t max;
	struct ps_entry *head, *tail;	/* oldest first */
};

#define PS_TABLE_MIN_BUCKETS 64

/* ps_table_hash - FNV-1a of a string */
static uint32_t
ps_table_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

/* ps_table_create - an empty table of at most max entries */
struct ps_table *
ps_table_create(size_t max)
{
	struct ps_table *t = pl_calloc(1, sizeof(*t));

	t->nbuckets = PS_TABLE_MIN_BUCKETS;
	t->buckets = pl_calloc(t->nbuckets, sizeof(*t->buckets));
	t->max = max;
	return t;
}

/* ps_table_unlink - take e out of the time list */
static void
ps_table_unlink(struct ps_table *t, struct ps_entry *e)
{
	if (e->prev)
		e->prev->next = e->next;
	else
		t->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	else
		t->tail = e->prev;
	e->prev = e->next = NULL;
}

/* ps_table_append - put e at the young end of the time list */
static void
ps_table_append(struct ps_table *t, struct ps_entry *e)
{
	e->prev = t->tail;
	e->next = NULL;
	if (t->tail)
		t->tail->next = e;
	else
		t->head = e;
	t->tail = e;
}

/* ps_table_grow - double the buckets when the chains get long */
static void
ps_table_grow(struct ps_table *t)
{
	size_t i, n = t->nbuckets * 2;
	struct ps_entry **b = pl_calloc(n, sizeof(*b)), *e, *nx;

	for (i = 0; i < t->nbuckets; i++)
		for (e = t->buckets[i]; e != NULL; e = nx) {
			nx = e->chain;
			e->chain = b[e->hash & (n - 1)];
			b[e->hash & (n - 1)] = e;
		}
	free(t->buckets);
	t->buckets = b;
	t->nbuckets = n;
}

/* ps_table_get - the entry of key, or NULL */
struct ps_entry *
ps_table_get(const struct ps_table *t, const char *key)
{
	uint32_t h = ps_table_hash(key);
	struct ps_entry *e;

	for (e = t->buckets[h & (t->nbuckets - 1)]; e != NULL; e = e->chain)
		if (e->hash == h && strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/* ps_table_put - the entry of key, made if missing (PL_ETOOBIG when full),
 * stamped at_ms and moved to the young end; *created_r says if it is new */
int
ps_table_put(struct ps_table *t, const char *key, uint64_t at_ms,
    struct ps_entry **r, int *created_r)
{
	struct ps_entry *e = ps_table_get(t, key);

	*created_r = 0;
	if (e == NULL) {
		if (t->count >= t->max)
			return PL_ETOOBIG;
		if (t->count >= t->nbuckets)
			ps_table_grow(t);
		e = pl_calloc(1, sizeof(*e));
		e->key = pl_strdup(key);
		e->hash = ps_table_hash(key);
		e->chain = t->buckets[e->hash & (t->nbuckets - 1)];
		t->buckets[e->hash & (t->nbuckets - 1)] = e;
		t->count++;
		*created_r = 1;
	} else {
		ps_table_unlink(t, e);
	}
	e->at_ms = at_ms;
	ps_table_append(t, e);
	*r = e;
	return 0;
}

/* ps_table_del - remove and free e */
void
ps_table_del(struct ps_table *t, struct ps_entry *e)
{
	struct ps_entry **pp = &t->buckets[e->hash & (t->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	ps_table_unlink(t, e);
	t->count--;
	free(e->key);
	free(e->aux);
	free(e);
}

/* ps_table_oldest - the entry stamped longest ago, or NULL */
struct ps_entry *
ps_table_oldest(const struct ps_table *t)
{
	return t->head;
}

/* ps_table_count - how many entries */
size_t
ps_table_count(const struct ps_table *t)
{
	return t->count;
}

/* ps_table_free - every entry, then the table; NULLs *tp */
void
ps_table_free(struct ps_table **tp)
{
	struct ps_table *t = *tp;

	if (t == NULL)
		return;
	while (t->head != NULL)
		ps_table_del(t, t->head);
	free(t->buckets);
	pl_free(tp);
}
