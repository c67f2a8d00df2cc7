/* pgbin.h - PostgreSQL one-dimensional arrays in the binary wire format, as
 * binary query parameters (pl_pg_query_bin): the server copies them in
 * without parsing. Pure mechanism. */
#ifndef PL_PGBIN_H
#define PL_PGBIN_H
#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* element type oids (pg_type.oid) */
#define PL_OID_BYTEA 17
#define PL_OID_INT8 20
#define PL_OID_INT4 23
#define PL_OID_TEXT 25

struct pl_pgbin {
	struct pl_buf b;	/* the parameter's bytes */
	int n;
};

/* pl_pgbin_begin - an empty array of element type oid (PL_OID_*) */
void pl_pgbin_begin(struct pl_pgbin *a, uint32_t oid);
/* pl_pgbin_bytes - one element of n raw bytes */
void pl_pgbin_bytes(struct pl_pgbin *a, const void *p, size_t n);
/* pl_pgbin_text - one text element */
void pl_pgbin_text(struct pl_pgbin *a, const char *s);
/* pl_pgbin_int4 - one int4 element */
void pl_pgbin_int4(struct pl_pgbin *a, int32_t v);
/* pl_pgbin_int8 - one int8 element */
void pl_pgbin_int8(struct pl_pgbin *a, int64_t v);
/* pl_pgbin_end - write the count (an empty array becomes ndim 0) */
void pl_pgbin_end(struct pl_pgbin *a);

#endif
