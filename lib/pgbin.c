/* pgbin.c - PostgreSQL one-dimensional arrays in the binary wire format, so
 * that a batch travels as a few binary parameters that the
 * server copies in without parsing (the text literals of pgarr.c cost the
 * backend array_in and hex_decode per element, and us an escape per byte).
 *
 *   int32 ndim | int32 flags (0: no NULLs) | int32 element type oid
 *   | int32 count | int32 lower bound (1) | count × (int32 length | bytes)
 *
 * All integers big-endian. An empty array is ndim 0 and no dimension. */
#include <string.h>

#include "be.h"
#include "pgbin.h"

/* pl_pgbin_begin - an array of element type oid (PL_OID_*) */
void
pl_pgbin_begin(struct pl_pgbin *a, uint32_t oid)
{
	pl_buf_reset(&a->b);
	a->n = 0;
	pl_buf_be32(&a->b, 1);
	pl_buf_be32(&a->b, 0);
	pl_buf_be32(&a->b, oid);
	pl_buf_be32(&a->b, 0);	/* count, set by pl_pgbin_end */
	pl_buf_be32(&a->b, 1);
}

/* pl_pgbin_bytes - one element of n raw bytes (text, bytea) */
void
pl_pgbin_bytes(struct pl_pgbin *a, const void *p, size_t n)
{
	pl_buf_be32(&a->b, (uint32_t)n);
	pl_buf_append(&a->b, p, n);
	a->n++;
}

void
pl_pgbin_text(struct pl_pgbin *a, const char *s)
{
	pl_pgbin_bytes(a, s != NULL ? s : "", s != NULL ? strlen(s) : 0);
}

void
pl_pgbin_int4(struct pl_pgbin *a, int32_t v)
{
	pl_buf_be32(&a->b, 4);
	pl_buf_be32(&a->b, (uint32_t)v);
	a->n++;
}

void
pl_pgbin_int8(struct pl_pgbin *a, int64_t v)
{
	pl_buf_be32(&a->b, 8);
	pl_buf_be64(&a->b, (uint64_t)v);
	a->n++;
}

/* pl_pgbin_end - set the count (an empty array drops its dimension) */
void
pl_pgbin_end(struct pl_pgbin *a)
{
	uint8_t *d = (uint8_t *)a->b.data;

	if (a->n == 0) {
		pl_be32_put(d, 0);
		a->b.len = 12;
		return;
	}
	pl_be32_put(d + 12, (uint32_t)a->n);
}
