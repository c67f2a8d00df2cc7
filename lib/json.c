/* json.c - small helpers over cJSON. */
#include <math.h>
#include <string.h>

#include "err.h"
#include "json.h"
#include "log.h"

/* pl_json_str - string member or NULL if missing / not a string */
const char *
pl_json_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* pl_json_int - integral number member into *v */
int
pl_json_int(const cJSON *o, const char *key, int64_t *v)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);
	double d;

	if (!cJSON_IsNumber(n))
		return PL_EINVAL;
	d = n->valuedouble;
	/* 2^63 itself does not fit: the bound is exclusive */
	if (d != floor(d) || d < -9223372036854775808.0 || d >= 9223372036854775808.0)
		return PL_EINVAL;
	*v = (int64_t)d;
	return 0;
}

/* pl_json_int_in - an integral number within [lo, hi] into *v */
int
pl_json_int_in(const cJSON *n, int64_t lo, int64_t hi, int64_t *v)
{
	double d;

	if (!cJSON_IsNumber(n))
		return PL_EINVAL;
	d = n->valuedouble;
	/* the comparisons are false for NaN, so NaN is refused too */
	if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
		return PL_EINVAL;
	/* (double)hi may round up past hi (hi near 2^63): the check above
	 * then let d == 2^63 through, which is not an int64 */
	if (d >= 9223372036854775808.0)
		return PL_EINVAL;
	*v = (int64_t)d;
	return 0;
}

/* pl_json_print - compact text (heap); allocation failure aborts */
char *
pl_json_print(const cJSON *o)
{
	char *s = cJSON_PrintUnformatted(o);

	if (s == NULL)
		pl_panic("PL-OOM", "what=cJSON_PrintUnformatted");
	return s;
}

/* pl_json_parse - exactly one JSON value, then only whitespace */
int
pl_json_parse(const char *s, size_t n, cJSON **o_r)
{
	const char *end = NULL;
	cJSON *o = cJSON_ParseWithLengthOpts(s, n, &end, 0);

	*o_r = NULL;
	if (o == NULL)
		return PL_EINVAL;
	while (end != NULL && end < s + n && (*end == ' ' || *end == '\t' ||
	    *end == '\n' || *end == '\r'))
		end++;
	if (end == NULL || end != s + n) {
		cJSON_Delete(o);
		return PL_EINVAL;
	}
	*o_r = o;
	return 0;
}

/* pl_json_has_nul - a \u0000 escape (an escaped backslash is skipped,
 * so "\\u0000" is the six characters it spells) */
int
pl_json_has_nul(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i + 1 < n; i++) {
		if (s[i] != '\\')
			continue;
		if (s[i + 1] == 'u' && n - i >= 6 && memcmp(s + i + 2, "0000", 4) == 0)
			return 1;
		i++;		/* the escaped character */
	}
	return 0;
}
