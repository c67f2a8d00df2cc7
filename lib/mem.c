/* mem.c - allocation that never returns NULL: failure aborts the process. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "mem.h"

/* pl_mem_oom - out of memory is not recoverable: say so and abort */
static void
pl_mem_oom(size_t n)
{
	char msg[96];
	int len = snprintf(msg, sizeof(msg), "PL-OOM out of memory size=%zu\n", n);

	if (len > 0 && write(2, msg, (size_t)len) < 0)
		abort();
	abort();
}

/* pl_malloc - malloc that aborts on failure (n == 0 gives a valid pointer) */
void *
pl_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (p == NULL)
		pl_mem_oom(n);
	return p;
}

/* pl_calloc - zeroed array that aborts on failure or overflow */
void *
pl_calloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (p == NULL)
		pl_mem_oom(n * size);
	return p;
}

/* pl_realloc - realloc that aborts on failure */
void *
pl_realloc(void *p, size_t n)
{
	void *q = realloc(p, n ? n : 1);

	if (q == NULL)
		pl_mem_oom(n);
	return q;
}

/* pl_strdup - heap copy of s */
char *
pl_strdup(const char *s)
{
	return pl_memdup(s, strlen(s) + 1);
}

/* pl_strndup - heap copy of at most n bytes of s, NUL-terminated */
char *
pl_strndup(const char *s, size_t n)
{
	size_t len = strnlen(s, n);
	char *p = pl_malloc(len + 1);

	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

/* pl_memdup - heap copy of n bytes */
void *
pl_memdup(const void *p, size_t n)
{
	void *q = pl_malloc(n);

	if (n)
		memcpy(q, p, n);
	return q;
}

/* pl_size_mul - n * elem, aborting on overflow */
size_t
pl_size_mul(size_t n, size_t elem)
{
	if (elem != 0 && n > SIZE_MAX / elem)
		pl_mem_oom(SIZE_MAX);
	return n * elem;
}

/* pl_grow - make room for need elements: double, at least min and need */
void *
pl_grow(void *p, size_t *cap, size_t need, size_t min, size_t elem)
{
	size_t n = *cap;

	if (need <= n)
		return p;
	n = n > SIZE_MAX / 2 ? need : n * 2;
	if (n < min)
		n = min;
	if (n < need)
		n = need;
	p = pl_realloc(p, pl_size_mul(n, elem));
	*cap = n;
	return p;
}
