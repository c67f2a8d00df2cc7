/* json.h - small helpers over cJSON. */
#ifndef PL_JSON_H
#define PL_JSON_H
#include <stdint.h>
#include <cjson/cJSON.h>

/* string member or NULL if missing / not a string */
const char *pl_json_str(const cJSON *o, const char *key);
/* integer member into *v; 0 on success, PL_EINVAL if missing / not integral */
int pl_json_int(const cJSON *o, const char *key, int64_t *v);
/* the largest integer a JSON number (an IEEE double, a JavaScript number)
 * holds exactly: 2^53 - 1 */
#define PL_JSON_INT_SAFE 9007199254740991LL
/* pl_json_int_in - n is an integral number within [lo, hi] (which must lie
 * within int64): 0 and *v; PL_EINVAL otherwise (not a number, a fraction,
 * out of range, infinite). The range is checked on the double, before any
 * conversion: a double outside int64 converted to it is undefined. */
int pl_json_int_in(const cJSON *n, int64_t lo, int64_t hi, int64_t *v);
/* pl_json_print - compact text (heap) */
char *pl_json_print(const cJSON *o);
/* pl_json_parse - s[0..n) as exactly one JSON value (whitespace may
 * follow it, nothing else: cJSON alone takes '{}{}' or '{} x' as '{}'); the
 * caller deletes *o_r. PL_EINVAL when it is not. */
int pl_json_parse(const char *s, size_t n, cJSON **o_r);
/* pl_json_has_nul - does JSON text s[0..n) encode a NUL (\u0000) in a
 * string: C strings would end there and silently lose the rest */
int pl_json_has_nul(const char *s, size_t n);

#endif
