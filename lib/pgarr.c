/* pgarr.c - PostgreSQL text[] literals as query parameters and the parsing
 * of text[] results (see pgarr.h). Elements are always double-quoted; '"'
 * and '\' are backslash-escaped. Large batches use pgbin.c instead. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "mem.h"
#include "pgarr.h"

/* pl_pgarr_begin - start a literal */
void
pl_pgarr_begin(struct pl_buf *b)
{
	pl_buf_reset(b);
	pl_buf_puts(b, "{");
}

/* pgarr_sep - a comma unless this is the first element */
static void
pgarr_sep(struct pl_buf *b)
{
	if (b->len > 1)
		pl_buf_puts(b, ",");
}

/* pl_pgarr_text - one quoted text element */
void
pl_pgarr_text(struct pl_buf *b, const char *s)
{
	pgarr_sep(b);
	pl_buf_puts(b, "\"");
	for (; s != NULL && *s; s++) {
		if (*s == '"' || *s == '\\')
			pl_buf_append(b, "\\", 1);
		pl_buf_append(b, s, 1);
	}
	pl_buf_puts(b, "\"");
}

/* pl_pgarr_end - close the literal */
void
pl_pgarr_end(struct pl_buf *b)
{
	pl_buf_puts(b, "}");
}

/* pgarr_elem - parse one element at *pp into a heap string */
static char *
pgarr_elem(const char **pp)
{
	const char *p = *pp;
	struct pl_buf e;

	pl_buf_init(&e);
	pl_buf_puts(&e, "");
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			pl_buf_append(&e, p, 1);
		}
		if (*p == '"')
			p++;
	} else {
		for (; *p && *p != ',' && *p != '}'; p++)
			pl_buf_append(&e, p, 1);
	}
	*pp = p;
	return pl_buf_steal(&e, NULL);
}

/* pl_pgarr_split - a text[] in output format into heap strings */
char **
pl_pgarr_split(const char *s, int *n_r)
{
	char **v = NULL;
	size_t cap = 0;
	int n = 0;

	*n_r = 0;
	if (s == NULL || *s != '{')
		return NULL;
	for (s++; *s && *s != '}';) {
		if (n == INT_MAX)
			break;		/* the count is an int: never wrap it */
		v = pl_grow(v, &cap, (size_t)n + 1, 16, sizeof(*v));
		v[n++] = pgarr_elem(&s);
		if (*s == ',')
			s++;
	}
	*n_r = n;
	return v;
}

/* pl_pgarr_free - free what pl_pgarr_split returned */
void
pl_pgarr_free(char ***v, int n)
{
	int i;

	for (i = 0; i < n && *v != NULL; i++)
		free((*v)[i]);
	pl_free(v);
}
