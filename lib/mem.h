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
/* pl_free - free(*pp) and set *pp to NULL. */
#define pl_free(pp) do { free(*(pp)); *(pp) = NULL; } while (0)

#endif
