/* table.c - a bounded table of string keys in time order (see presence.h).
 *
 * lib/strmap.c for look-ups and one doubly linked list in the order the
 * entries were last stamped. Callers stamp with a monotonic clock and one
 * fixed lifetime per table, so the head of the list is always the entry that
 * expires first and expiry costs O(1) per entry: no scan, no heap. */
#include <stdlib.h>

#include "err.h"
#include "mem.h"
#include "presence.h"
#include "strmap.h"

struct ps_table {
	struct pl_strmap *idx;		/* key -> entry */
	size_t max;
	struct ps_entry *head, *tail;	/* oldest first */
};

/* ps_table_create - an empty table of at most max entries */
struct ps_table *
ps_table_create(size_t max)
{
	struct ps_table *t = pl_calloc(1, sizeof(*t));

	t->idx = pl_strmap_create();
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

/* ps_table_get - the entry of key, or NULL */
struct ps_entry *
ps_table_get(const struct ps_table *t, const char *key)
{
	return pl_strmap_get(t->idx, key);
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
		if (pl_strmap_count(t->idx) >= t->max)
			return PL_ETOOBIG;
		e = pl_calloc(1, sizeof(*e));
		e->key = pl_strdup(key);
		pl_strmap_put(t->idx, e->key, e);
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
	(void)pl_strmap_del(t->idx, e->key);
	ps_table_unlink(t, e);
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
	return pl_strmap_count(t->idx);
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
	pl_strmap_free(&t->idx, NULL);
	pl_free(tp);
}
