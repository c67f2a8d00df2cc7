/* fields.c - bounds of client-supplied message fields (see fields.h). */
#include <string.h>

#include "fields.h"
#include "utf8.h"

/* pl_fields_ts_canonical - digits, '.', 6 digits; no leading zero */
int
pl_fields_ts_canonical(const char *s)
{
	size_t n, i, dot;

	if (s == NULL || (n = strnlen(s, PL_FIELDS_TS_MAX + 1)) > PL_FIELDS_TS_MAX)
		return 0;
	for (dot = 0; dot < n && s[dot] >= '0' && s[dot] <= '9'; dot++)
		;
	if (dot == 0 || dot > 12 || (s[0] == '0' && dot > 1) || s[dot] != '.' ||
	    n - dot - 1 != 6)
		return 0;
	for (i = dot + 1; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return 0;
	return 1;
}

/* pl_fields_message_error - first refused field's code, or NULL */
const char *
pl_fields_message_error(const char *text, const char *thread_ts, const char *cmid)
{
	if (text != NULL && !pl_utf8_valid_str(text))
		return "invalid_arguments";
	if (thread_ts != NULL && thread_ts[0] != '\0' && !pl_fields_ts_canonical(thread_ts))
		return "invalid_thread_ts";
	if (cmid != NULL && (strnlen(cmid, PL_FIELDS_CMID_MAX + 1) > PL_FIELDS_CMID_MAX ||
	    !pl_utf8_valid_str(cmid)))
		return "invalid_arguments";
	return NULL;
}
