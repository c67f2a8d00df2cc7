/* ids.c - Slack-style identifiers and random bytes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "ids.h"
#include "log.h"
#include "mem.h"

/* 32 symbols (Crockford: no I L O U): 256 is a multiple of 32, so byte % 32 has no bias */
static const char pl_id_alphabet[] = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
#define PL_ID_SYMBOLS 32
#define PL_ID_RANDOM 10

/* pl_random_bytes - n bytes from getrandom(2); failure is a broken invariant */
void
pl_random_bytes(void *p, size_t n)
{
	unsigned char *q = p;
	ssize_t got;

	while (n > 0) {
		got = getrandom(q, n, 0);
		if (got < 0 && errno == EINTR)
			continue;
		if (got <= 0)
			pl_panic("PL-RANDOM-FAIL", "err=\"%s\"", strerror(errno));
		q += got;
		n -= (size_t)got;
	}
}

/* pl_id_new - prefix + 10 random chars into out */
void
pl_id_new(char prefix, char out[PL_ID_MAX + 1])
{
	unsigned char r[PL_ID_RANDOM];
	int i;

	pl_random_bytes(r, sizeof(r));
	out[0] = prefix;
	for (i = 0; i < PL_ID_RANDOM; i++)
		out[1 + i] = pl_id_alphabet[r[i] % PL_ID_SYMBOLS];
	out[1 + PL_ID_RANDOM] = '\0';
}

/* pl_id_valid - 1 if s is a prefix letter then 1..15 of [A-Z0-9] */
int
pl_id_valid(const char *s, const char *prefixes)
{
	size_t i;

	if (s == NULL || s[0] == '\0' || prefixes == NULL ||
	    strchr(prefixes, s[0]) == NULL)
		return 0;
	for (i = 1; s[i]; i++) {
		if (i >= PL_ID_MAX)
			return 0;
		if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= '0' && s[i] <= '9')))
			return 0;
	}
	return i >= 2;
}

/* pl_random_hex - n random bytes as lowercase hex (heap) */
char *
pl_random_hex(size_t n)
{
	static const char hex[] = "0123456789abcdef";
	unsigned char *r = pl_malloc(n);
	char *s = pl_malloc(2 * n + 1);
	size_t i;

	pl_random_bytes(r, n);
	for (i = 0; i < n; i++) {
		s[2 * i] = hex[r[i] >> 4];
		s[2 * i + 1] = hex[r[i] & 15];
	}
	s[2 * n] = '\0';
	free(r);
	return s;
}
