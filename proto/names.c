/* names.c - endpoint formatting (see names.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "mem.h"
#include "names.h"

char *
pl_endpoint(const char *fmt, const char *run_dir, int shard, const char *override)
{
	char buf[1024];

	if (override != NULL && override[0] != '\0')
		return pl_strdup(override);
	if (strstr(fmt, "%d") != NULL)
		snprintf(buf, sizeof(buf), fmt, run_dir, shard);
	else
		snprintf(buf, sizeof(buf), fmt, run_dir);
	return pl_strdup(buf);
}
