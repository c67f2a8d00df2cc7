/* ids.h - Slack-style identifiers: a prefix letter and uppercase letters and
 * digits, at most 16 characters ("U0G9QF9C6", "C024BE91L"). */
#ifndef PL_IDS_H
#define PL_IDS_H
#include <stddef.h>

#define PL_ID_MAX 16

/* pl_id_new - prefix + 10 random chars into out (PL_ID_MAX + 1 bytes). */
void pl_id_new(char prefix, char out[PL_ID_MAX + 1]);
/* pl_id_valid - 1 if s looks like an id with one of the prefixes ("CGD"). */
int pl_id_valid(const char *s, const char *prefixes);
/* pl_random_bytes - from getrandom(2) */
void pl_random_bytes(void *p, size_t n);
/* pl_random_token - n random bytes as lowercase hex into heap string */
char *pl_random_hex(size_t n);

#endif
