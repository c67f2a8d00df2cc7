/* dk_wire.h - the Kafka wire encoding for devkafka's native broker: a
 * bounds-checked reader over one request and a writer onto a pl_buf.
 *
 * Big-endian integers, int16-length strings (-1 = null), int32-length byte
 * arrays, int32-count arrays, and for the flexible versions (KIP-482) the
 * unsigned varints, compact strings/arrays and tagged-field buffers. A read
 * past the end sets rd->err and returns zeros; callers check err once at the
 * end of a request instead of after every field. */
#ifndef DK_WIRE_H
#define DK_WIRE_H
#include <stddef.h>
#include <stdint.h>

struct pl_buf;

struct dk_rd {
	const uint8_t *p, *end;
	int err;		/* 1 once a read ran past the end or was malformed */
};

/* a string or byte array inside the request (not NUL-terminated) */
struct dk_str {
	const char *p;
	int32_t len;		/* -1: null */
};

void dk_rd_init(struct dk_rd *rd, const void *p, size_t len);
int8_t dk_rd_i8(struct dk_rd *rd);
int16_t dk_rd_i16(struct dk_rd *rd);
int32_t dk_rd_i32(struct dk_rd *rd);
int64_t dk_rd_i64(struct dk_rd *rd);
uint32_t dk_rd_uvarint(struct dk_rd *rd);
struct dk_str dk_rd_str(struct dk_rd *rd);		/* int16 length */
struct dk_str dk_rd_compact_str(struct dk_rd *rd);	/* uvarint length + 1 */
struct dk_str dk_rd_bytes(struct dk_rd *rd);		/* int32 length */
/* dk_rd_array - an int32 count; -1 (null) reads as 0. A count that cannot
 * fit in what is left (each element needs min_elem bytes) is an error. */
int32_t dk_rd_array(struct dk_rd *rd, size_t min_elem);
void dk_rd_tags(struct dk_rd *rd);			/* skip a tagged-field buffer */
void dk_rd_skip(struct dk_rd *rd, size_t n);
size_t dk_rd_left(const struct dk_rd *rd);

void dk_wr_i8(struct pl_buf *b, int8_t v);
void dk_wr_i16(struct pl_buf *b, int16_t v);
void dk_wr_i32(struct pl_buf *b, int32_t v);
void dk_wr_i64(struct pl_buf *b, int64_t v);
void dk_wr_uvarint(struct pl_buf *b, uint32_t v);
void dk_wr_str(struct pl_buf *b, const char *s);	/* NULL: null string */
void dk_wr_strn(struct pl_buf *b, const char *s, int32_t len);
/* dk_wr_i32_at - overwrite 4 bytes at off (sizes and counts known later) */
void dk_wr_i32_at(struct pl_buf *b, size_t off, int32_t v);

/* big-endian loads and stores on raw bytes (record batch headers) */
int16_t dk_be16(const uint8_t *p);
int32_t dk_be32(const uint8_t *p);
int64_t dk_be64(const uint8_t *p);
void dk_put_be64(uint8_t *p, int64_t v);

/* dk_crc32c - CRC-32C (Castagnoli), the checksum of a record batch */
uint32_t dk_crc32c(const void *p, size_t len);

#endif
