/* buf.h - a growable byte buffer (always NUL-terminated after data[len]).
 * Embedded by callers: pl_buf_init / pl_buf_fini. */
#ifndef PL_BUF_H
#define PL_BUF_H
#include <stddef.h>
#include <stdarg.h>
#include <stdint.h>

struct pl_buf {
	char *data;	/* NULL until the first append; then data[len] == 0 */
	size_t len;
	size_t cap;
};

void pl_buf_init(struct pl_buf *b);
void pl_buf_fini(struct pl_buf *b);
void pl_buf_reset(struct pl_buf *b);			/* len = 0, keeps memory */
void pl_buf_reserve(struct pl_buf *b, size_t extra);
void pl_buf_append(struct pl_buf *b, const void *p, size_t n);
void pl_buf_puts(struct pl_buf *b, const char *s);
/* big-endian (network order) integers, for hand-written wire formats */
void pl_buf_be32(struct pl_buf *b, uint32_t v);
void pl_buf_be64(struct pl_buf *b, uint64_t v);
void pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap);
/* pl_buf_json_str - append s as a quoted, escaped JSON string. */
void pl_buf_json_str(struct pl_buf *b, const char *s);
/* pl_buf_steal - hand the memory to the caller (may be NULL when empty). */
char *pl_buf_steal(struct pl_buf *b, size_t *len_r);

#endif
