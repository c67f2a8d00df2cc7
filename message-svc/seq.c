/* seq.c - Slack-style ts values and their ordering (pure functions).
 *
 * A ts is "<unix seconds>.<6 digits>", i.e. a microsecond wall-clock time.
 * Per channel it must be strictly increasing even when the clock steps back
 * or two events fall in the same microsecond, so the next ts is
 * max(now, last + 1 us). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "message_svc.h"
#include "ms_pure.h"

/* ms_seq_next_ts_us - a ts strictly after last_us, now_us when possible */
uint64_t
ms_seq_next_ts_us(uint64_t last_us, uint64_t now_us)
{
	return now_us > last_us ? now_us : last_us + 1;
}

/* ms_seq_ts_format - "<s>.<6 digits>" */
void
ms_seq_ts_format(uint64_t ts_us, char out[MS_TS_MAX])
{
	snprintf(out, MS_TS_MAX, "%llu.%06llu",
	    (unsigned long long)(ts_us / 1000000), (unsigned long long)(ts_us % 1000000));
}

/* ms_seq_ts_parse - the inverse; a missing or short fraction is
 * zero-padded. At most MS_TS_MAX - 1 bytes are read: leading zeros do not
 * grow the value, so without the bound a ts of any length was accepted. */
int
ms_seq_ts_parse(const char *s, uint64_t *us_r)
{
	uint64_t sec = 0, frac = 0;
	int digits = 0;
	const char *p = s;

	if (s == NULL || *s < '0' || *s > '9' || strnlen(s, MS_TS_MAX) >= MS_TS_MAX)
		return PL_EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (sec > 100000000000ULL)
			return PL_EINVAL;
		sec = sec * 10 + (uint64_t)(*p - '0');
	}
	if (*p == '.') {
		for (p++; *p >= '0' && *p <= '9'; p++) {
			if (digits++ >= 6)
				return PL_EINVAL;
			frac = frac * 10 + (uint64_t)(*p - '0');
		}
	}
	if (*p != '\0')
		return PL_EINVAL;
	for (; digits < 6; digits++)
		frac *= 10;
	*us_r = sec * 1000000 + frac;
	return 0;
}
