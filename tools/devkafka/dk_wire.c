/* dk_wire.c - Kafka wire primitives (see dk_wire.h). */
#include <string.h>

#include "be.h"
#include "buf.h"
#include "dk_wire.h"

/* dk_rd_init - read len bytes at p */
void
dk_rd_init(struct dk_rd *rd, const void *p, size_t len)
{
	rd->p = p;
	rd->end = rd->p + len;
	rd->err = 0;
}

/* dk_rd_left - bytes not read yet */
size_t
dk_rd_left(const struct dk_rd *rd)
{
	return (size_t)(rd->end - rd->p);
}

/* rd_take - n bytes or NULL (and err) */
static const uint8_t *
rd_take(struct dk_rd *rd, size_t n)
{
	const uint8_t *p = rd->p;

	if (rd->err || dk_rd_left(rd) < n) {
		rd->err = 1;
		rd->p = rd->end;
		return NULL;
	}
	rd->p += n;
	return p;
}

int16_t
dk_be16(const uint8_t *p)
{
	return (int16_t)((uint16_t)p[0] << 8 | p[1]);
}

int32_t
dk_be32(const uint8_t *p)
{
	return (int32_t)pl_be32_get(p);
}

int64_t
dk_be64(const uint8_t *p)
{
	return (int64_t)pl_be64_get(p);
}

void
dk_put_be64(uint8_t *p, int64_t v)
{
	pl_be64_put(p, (uint64_t)v);
}

int8_t
dk_rd_i8(struct dk_rd *rd)
{
	const uint8_t *p = rd_take(rd, 1);

	return p ? (int8_t)p[0] : 0;
}

int16_t
dk_rd_i16(struct dk_rd *rd)
{
	const uint8_t *p = rd_take(rd, 2);

	return p ? dk_be16(p) : 0;
}

int32_t
dk_rd_i32(struct dk_rd *rd)
{
	const uint8_t *p = rd_take(rd, 4);

	return p ? dk_be32(p) : 0;
}

int64_t
dk_rd_i64(struct dk_rd *rd)
{
	const uint8_t *p = rd_take(rd, 8);

	return p ? dk_be64(p) : 0;
}

/* dk_rd_uvarint - an unsigned LEB128 of at most 5 bytes */
uint32_t
dk_rd_uvarint(struct dk_rd *rd)
{
	uint32_t v = 0;
	const uint8_t *p;
	int shift;

	for (shift = 0; shift < 35; shift += 7) {
		if ((p = rd_take(rd, 1)) == NULL)
			return 0;
		v |= (uint32_t)(*p & 0x7f) << shift;
		if (!(*p & 0x80))
			return v;
	}
	rd->err = 1;
	return 0;
}

/* rd_span - len bytes as a string (-1: null) */
static struct dk_str
rd_span(struct dk_rd *rd, int32_t len)
{
	struct dk_str s = { NULL, -1 };

	if (len < -1) {
		rd->err = 1;
		return s;
	}
	if (len >= 0 && (s.p = (const char *)rd_take(rd, (size_t)len)) != NULL)
		s.len = len;
	return s;
}

struct dk_str
dk_rd_str(struct dk_rd *rd)
{
	return rd_span(rd, dk_rd_i16(rd));
}

struct dk_str
dk_rd_compact_str(struct dk_rd *rd)
{
	return rd_span(rd, (int32_t)dk_rd_uvarint(rd) - 1);
}

struct dk_str
dk_rd_bytes(struct dk_rd *rd)
{
	return rd_span(rd, dk_rd_i32(rd));
}

int32_t
dk_rd_array(struct dk_rd *rd, size_t min_elem)
{
	int32_t n = dk_rd_i32(rd);

	if (n == -1 || rd->err)
		return 0;
	if (n < 0 || (min_elem > 0 && (size_t)n > dk_rd_left(rd) / min_elem)) {
		rd->err = 1;
		return 0;
	}
	return n;
}

/* dk_rd_tags - skip every tagged field (tag, size, bytes) */
void
dk_rd_tags(struct dk_rd *rd)
{
	uint32_t n = dk_rd_uvarint(rd), i;

	for (i = 0; i < n && !rd->err; i++) {
		(void)dk_rd_uvarint(rd);
		dk_rd_skip(rd, dk_rd_uvarint(rd));
	}
}

void
dk_rd_skip(struct dk_rd *rd, size_t n)
{
	(void)rd_take(rd, n);
}

void
dk_wr_i8(struct pl_buf *b, int8_t v)
{
	pl_buf_append(b, &v, 1);
}

void
dk_wr_i16(struct pl_buf *b, int16_t v)
{
	uint8_t p[2] = { (uint8_t)((uint16_t)v >> 8), (uint8_t)v };

	pl_buf_append(b, p, 2);
}

void
dk_wr_i32(struct pl_buf *b, int32_t v)
{
	pl_buf_be32(b, (uint32_t)v);
}

void
dk_wr_i64(struct pl_buf *b, int64_t v)
{
	pl_buf_be64(b, (uint64_t)v);
}

void
dk_wr_uvarint(struct pl_buf *b, uint32_t v)
{
	uint8_t p[5];
	size_t n = 0;

	while (v >= 0x80) {
		p[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	p[n++] = (uint8_t)v;
	pl_buf_append(b, p, n);
}

void
dk_wr_strn(struct pl_buf *b, const char *s, int32_t len)
{
	if (s == NULL) {
		dk_wr_i16(b, -1);
		return;
	}
	dk_wr_i16(b, (int16_t)len);
	pl_buf_append(b, s, (size_t)len);
}

void
dk_wr_str(struct pl_buf *b, const char *s)
{
	dk_wr_strn(b, s, s ? (int32_t)strlen(s) : -1);
}

void
dk_wr_i32_at(struct pl_buf *b, size_t off, int32_t v)
{
	pl_be32_put((uint8_t *)b->data + off, (uint32_t)v);
}

/* crc32c_table - the reflected Castagnoli table (poly 0x82F63B78), once */
static uint32_t crc32c_tab[8][256];

static void
crc32c_init(void)
{
	uint32_t c;
	int i, j, k;

	for (i = 0; i < 256; i++) {
		c = (uint32_t)i;
		for (j = 0; j < 8; j++)
			c = c & 1 ? (c >> 1) ^ 0x82F63B78u : c >> 1;
		crc32c_tab[0][i] = c;
	}
	for (i = 0; i < 256; i++)
		for (k = 1; k < 8; k++)
			crc32c_tab[k][i] = (crc32c_tab[k - 1][i] >> 8) ^
			    crc32c_tab[0][crc32c_tab[k - 1][i] & 0xff];
}

/* dk_crc32c - slicing-by-8 over the table */
uint32_t
dk_crc32c(const void *data, size_t len)
{
	static int ready;
	const uint8_t *p = data;
	uint32_t c = 0xffffffffu;

	if (!ready) {
		crc32c_init();
		ready = 1;
	}
	while (len >= 8) {
		c ^= (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		    (uint32_t)p[3] << 24;
		c = crc32c_tab[7][c & 0xff] ^ crc32c_tab[6][(c >> 8) & 0xff] ^
		    crc32c_tab[5][(c >> 16) & 0xff] ^ crc32c_tab[4][c >> 24] ^
		    crc32c_tab[3][p[4]] ^ crc32c_tab[2][p[5]] ^
		    crc32c_tab[1][p[6]] ^ crc32c_tab[0][p[7]];
		p += 8;
		len -= 8;
	}
	while (len--)
		c = crc32c_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c ^ 0xffffffffu;
}
