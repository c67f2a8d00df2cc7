/* buf.c - a growable byte buffer, always NUL-terminated after data[len]. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "be.h"
#include "buf.h"
#include "mem.h"

/* pl_buf_init - an empty buffer with no memory */
void
pl_buf_init(struct pl_buf *b)
{
	b->data = NULL;
	b->len = 0;
	b->cap = 0;
}

/* pl_buf_fini - release the memory */
void
pl_buf_fini(struct pl_buf *b)
{
	free(b->data);
	pl_buf_init(b);
}

/* pl_buf_reset - len = 0, keeps memory */
void
pl_buf_reset(struct pl_buf *b)
{
	b->len = 0;
	if (b->data)
		b->data[0] = '\0';
}

/* pl_buf_reserve - room for extra bytes plus the terminating NUL */
void
pl_buf_reserve(struct pl_buf *b, size_t extra)
{
	size_t need = b->len + extra + 1, cap = b->cap ? b->cap : 64;

	if (need <= b->cap)
		return;
	while (cap < need)
		cap *= 2;
	b->data = pl_realloc(b->data, cap);
	b->cap = cap;
}

/* pl_buf_append - append n bytes */
void
pl_buf_append(struct pl_buf *b, const void *p, size_t n)
{
	pl_buf_reserve(b, n);
	if (n)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* pl_buf_be32 - append v as 4 big-endian bytes */
void
pl_buf_be32(struct pl_buf *b, uint32_t v)
{
	uint8_t p[4];

	pl_be32_put(p, v);
	pl_buf_append(b, p, sizeof(p));
}

/* pl_buf_be64 - append v as 8 big-endian bytes */
void
pl_buf_be64(struct pl_buf *b, uint64_t v)
{
	uint8_t p[8];

	pl_be64_put(p, v);
	pl_buf_append(b, p, sizeof(p));
}

/* pl_buf_puts - append a C string */
void
pl_buf_puts(struct pl_buf *b, const char *s)
{
	pl_buf_append(b, s, strlen(s));
}

/* pl_buf_vprintf - append formatted text */
void
pl_buf_vprintf(struct pl_buf *b, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	va_copy(ap2, ap);
	pl_buf_reserve(b, 64);
	n = vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return;
	if ((size_t)n >= b->cap - b->len) {
		pl_buf_reserve(b, (size_t)n);
		vsnprintf(b->data + b->len, b->cap - b->len, fmt, ap);
	}
	b->len += (size_t)n;
}

/* pl_buf_printf - append formatted text */
void
pl_buf_printf(struct pl_buf *b, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pl_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

/* pl_buf_json_str - append s as a quoted, escaped JSON string; runs of
 * bytes that need no escape are copied at once */
void
pl_buf_json_str(struct pl_buf *b, const char *s)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)(s ? s : ""), *run;

	pl_buf_reserve(b, strlen((const char *)p) + 2);
	pl_buf_append(b, "\"", 1);
	for (;;) {
		const char *esc = NULL;

		for (run = p; *p >= 0x20 && *p != '"' && *p != '\\'; p++)
			;
		if (p > run)
			pl_buf_append(b, run, (size_t)(p - run));
		if (*p == '\0')
			break;
		switch (*p) {
		case '"': esc = "\\\""; break;
		case '\\': esc = "\\\\"; break;
		case '\n': esc = "\\n"; break;
		case '\r': esc = "\\r"; break;
		case '\t': esc = "\\t"; break;
		case '\b': esc = "\\b"; break;
		case '\f': esc = "\\f"; break;
		}
		if (esc) {
			pl_buf_puts(b, esc);
		} else {
			char u[6] = { '\\', 'u', '0', '0', hex[*p >> 4], hex[*p & 15] };

			pl_buf_append(b, u, sizeof(u));
		}
		p++;
	}
	pl_buf_append(b, "\"", 1);
}

/* pl_buf_steal - hand the memory to the caller (may be NULL when empty) */
char *
pl_buf_steal(struct pl_buf *b, size_t *len_r)
{
	char *p = b->data;

	if (len_r)
		*len_r = b->len;
	pl_buf_init(b);
	return p;
}
