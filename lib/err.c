/* err.c - names for Parley's error codes. */
#include <string.h>

#include "err.h"

/* name of each PL_E* code, indexed by PL_EINVAL - rv */
static const char *const pl_err_names[] = {
	"invalid", "timed_out", "closed", "again", "not_found", "exists",
	"protocol", "io", "permission", "too_big", "expired", "internal",
	"unavailable", "bad_char",
};

/* pl_err_str - a short stable name for rv ("timed_out", or strerror for -errno). */
const char *
pl_err_str(int rv)
{
	int n = (int)(sizeof(pl_err_names) / sizeof(pl_err_names[0]));

	if (rv == 0)
		return "ok";
	if (rv <= PL_EINVAL && rv > PL_EINVAL - n)
		return pl_err_names[PL_EINVAL - rv];
	if (rv < 0 && rv > -1000)
		return strerror(-rv);
	return "unknown";
}
