/* utf8.c - UTF-8 validation (see utf8.h).
 *
 * One decoder for the daemons: the gateway and message-svc both check every
 * text field a stranger sends with it before the field reaches the log, so
 * that PostgreSQL (which refuses invalid UTF-8 with SQLSTATE 22021) never
 * sees a byte sequence it will refuse. The ranges are Table 3-7 of the
 * Unicode standard ("well-formed UTF-8 byte sequences"). */
#include <string.h>

#include "utf8.h"

/* utf8_seq - length of the well-formed sequence at p (at most n bytes
 * available), or 0 when it is not one */
static size_t
utf8_seq(const unsigned char *p, size_t n)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t len, i;

	if (c < 0x80)
		return c != 0;
	if (c >= 0xC2 && c <= 0xDF)
		len = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		len = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		len = 4;
	else
		return 0;	/* continuation byte, C0/C1 (overlong), F5.. */
	if (n < len)
		return 0;
	if (c == 0xE0)
		lo = 0xA0;	/* overlong 3-byte */
	else if (c == 0xED)
		hi = 0x9F;	/* surrogates */
	else if (c == 0xF0)
		lo = 0x90;	/* overlong 4-byte */
	else if (c == 0xF4)
		hi = 0x8F;	/* above U+10FFFF */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < len; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return len;
}

/* pl_utf8_valid - every byte of s[0..n) belongs to a well-formed sequence */
int
pl_utf8_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t k;

	while (n > 0) {
		if ((k = utf8_seq(p, n)) == 0)
			return 0;
		p += k;
		n -= k;
	}
	return 1;
}

/* pl_utf8_valid_str - pl_utf8_valid up to the terminating NUL */
int
pl_utf8_valid_str(const char *s)
{
	return s != NULL && pl_utf8_valid(s, strlen(s));
}

/* pl_utf8_len - code points: bytes that are not continuation bytes */
size_t
pl_utf8_len(const char *s)
{
	size_t n = 0;

	for (; *s; s++)
		if (((unsigned char)*s & 0xC0) != 0x80)
			n++;
	return n;
}
