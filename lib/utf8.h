/* utf8.h - UTF-8 validation as PostgreSQL and JSON readers accept it
 * (RFC 3629): no overlong forms, no surrogates (U+D800..U+DFFF), nothing
 * above U+10FFFF, no NUL inside the counted length. Pure functions. */
#ifndef PL_UTF8_H
#define PL_UTF8_H
#include <stddef.h>

/* pl_utf8_valid - 1 when the n bytes of s are well-formed UTF-8 */
int pl_utf8_valid(const char *s, size_t n);
/* pl_utf8_valid_str - the same for a NUL-terminated string */
int pl_utf8_valid_str(const char *s);
/* pl_utf8_len - code points of a valid string (counts lead bytes) */
size_t pl_utf8_len(const char *s);

#endif
