/* pgarr.h - PostgreSQL one-dimensional text[] literals as query parameters
 * ("{\"a\",\"b c\"}") and the parsing of text[] results. Pure mechanism:
 * elements are always double-quoted, '"' and '\' backslash-escaped. Batches
 * that must be cheap for the server use the binary arrays of pgbin.h. */
#ifndef PL_PGARR_H
#define PL_PGARR_H
#include "buf.h"

/* pl_pgarr_begin - start a literal in b (b is reset) */
void pl_pgarr_begin(struct pl_buf *b);
/* pl_pgarr_text - append one quoted text element */
void pl_pgarr_text(struct pl_buf *b, const char *s);
/* pl_pgarr_end - close the literal */
void pl_pgarr_end(struct pl_buf *b);
/* pl_pgarr_split - parse a one-dimensional text[] output ("{a,\"b c\"}")
 * into heap strings; *n_r entries */
char **pl_pgarr_split(const char *s, int *n_r);
/* pl_pgarr_free - free what pl_pgarr_split returned; NULLs *v */
void pl_pgarr_free(char ***v, int n);

#endif
