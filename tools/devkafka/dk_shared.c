/* dk_shared.c - what both devkafka engines share: the settings, the Parley
 * topics, and the brokers file every daemon reads (PARLEY_KAFKA_BROKERS_FILE:
 * the bootstrap list, written atomically, tmp + rename). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "devkafka.h"
#include "err.h"
#include "mem.h"
#include "names.h"

struct dk_conf dk_conf;	/* filled by main.c's config table */

const struct dk_topic_spec dk_topics[DK_NTOPICS] = {
	{ PL_TOPIC_MESSAGES, &dk_conf.partitions_messages },
	{ PL_TOPIC_EVENTS, &dk_conf.partitions_events },
	{ PL_TOPIC_PRESENCE, &dk_conf.partitions_presence },
};

/* dk_mkdirs - create the parent directories of path */
static void
dk_mkdirs(const char *path)
{
	char *p = pl_strdup(path), *s;

	for (s = strchr(p + 1, '/'); s != NULL; s = strchr(s + 1, '/')) {
		*s = '\0';
		mkdir(p, 0755);
		*s = '/';
	}
	free(p);
}

/* dk_write_file - write text to path atomically (tmp + rename) */
int
dk_write_file(const char *path, const char *text)
{
	char tmp[4096];
	size_t len = strlen(text);
	int fd, rv = 0;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp.%d", path,
	    (int)getpid()) >= sizeof(tmp))
		return PL_EINVAL;
	dk_mkdirs(path);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644)) < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1)
		rv = -errno ? -errno : PL_EIO;
	if (close(fd) != 0 && rv == 0)
		rv = -errno;
	if (rv == 0 && rename(tmp, path) != 0)
		rv = -errno;
	if (rv != 0)
		unlink(tmp);
	return rv;
}
