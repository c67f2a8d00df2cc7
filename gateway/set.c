/* set.c - an unordered set of connections (swap-remove array). */
#include <stdlib.h>

#include "gw.h"
#include "gw_set.h"
#include "mem.h"

/* gw_set_add - add c (the caller ensures it is not there yet) */
void
gw_set_add(struct gw_set *s, struct gw_conn *c)
{
	s->v = pl_grow(s->v, &s->cap, s->n + 1, 2, sizeof(*s->v));
	s->v[s->n++] = c;
}

/* gw_set_del - remove c; 1 if it was there */
int
gw_set_del(struct gw_set *s, struct gw_conn *c)
{
	size_t i;

	for (i = 0; i < s->n; i++) {
		if (s->v[i] == c) {
			s->v[i] = s->v[--s->n];
			return 1;
		}
	}
	return 0;
}

/* gw_set_has - 1 if c is in s */
int
gw_set_has(const struct gw_set *s, const struct gw_conn *c)
{
	size_t i;

	for (i = 0; i < s->n; i++)
		if (s->v[i] == c)
			return 1;
	return 0;
}

/* gw_set_fini - free the array */
void
gw_set_fini(struct gw_set *s)
{
	free(s->v);
	s->v = NULL;
	s->n = s->cap = 0;
}
