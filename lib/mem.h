/* mem.h - allocation that never returns NULL: failure aborts the process. */
#ifndef PL_MEM_H
#define PL_MEM_H
#include <stddef.h>

void *pl_malloc(size_t n);
void *pl_calloc(size_t n, size_t size);
void *pl_realloc(void *p, size_t n);
char *pl_strdup(const char *s);
char *pl_strndup(const char *s, size_t n);
void *pl_memdup(const void *p, size_t n);
/* pl_grow - the one way an array grows: returns p reallocated so that it
 * holds at least need elements of elem bytes, and sets *cap (elements, a
 * size_t: never a narrower type that could wrap) to the new capacity:
 * doubled, at least min, at least need. Returns p unchanged when *cap >=
 * need. A size that cannot be represented (need * elem or the doubling
 * overflows size_t) aborts like an allocation failure: callers bound their
 * counts far below it, so reaching it is a broken invariant. */
void *pl_grow(void *p, size_t *cap, size_t need, size_t min, size_t elem);
/* pl_size_mul - n * elem, aborting on overflow */
size_t pl_size_mul(size_t n, size_t elem);
/* pl_free - free(*pp) and set *pp to NULL. */
#define pl_free(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif
