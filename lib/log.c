/* log.c - one line per event to stderr (or PARLEY_LOG_FILE).
 *
 * Each line is formatted into a stack buffer and written with one write(2),
 * so lines of concurrent threads never interleave. SIGHUP handlers call
 * pl_log_reopen, which opens the file again and dup2()s it over the old
 * descriptor: writers always see a valid fd. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "err.h"
#include "log.h"

#define PL_LOG_LINE_MAX 4096

enum pl_log_level pl_log_min_level = PL_LOG_INFO;

static const char *const pl_log_names[] = { "DEBUG", "INFO", "WARN", "ERROR" };
static char pl_log_daemon[64] = "parley";
static int pl_log_fd = 2;

/* pl_log_open_file - open PARLEY_LOG_FILE for appending, or -1 */
static int
pl_log_open_file(void)
{
	const char *path = getenv("PARLEY_LOG_FILE");

	if (path == NULL || *path == '\0')
		return -1;
	return open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
}

/* pl_log_init - set daemon name and level ("debug", "info", "warn", "error") */
int
pl_log_init(const char *daemon, const char *level)
{
	int fd, i;

	snprintf(pl_log_daemon, sizeof(pl_log_daemon), "%s", daemon ? daemon : "parley");
	if (level && *level) {
		for (i = 0; i < 4; i++)
			if (strcasecmp(level, pl_log_names[i]) == 0)
				break;
		if (i == 4)
			return PL_EINVAL;
		pl_log_min_level = (enum pl_log_level)i;
	}
	if (pl_log_fd == 2 && (fd = pl_log_open_file()) >= 0)
		pl_log_fd = fd;
	return 0;
}

/* pl_log_reopen - reopen PARLEY_LOG_FILE if logging to a file (SIGHUP) */
void
pl_log_reopen(void)
{
	int fd;

	if (pl_log_fd == 2 || (fd = pl_log_open_file()) < 0)
		return;
	dup2(fd, pl_log_fd);
	close(fd);
}

/* pl_log_stamp - "2026-11-29T01:40:00.123Z" into out */
static int
pl_log_stamp(char *out, size_t n)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	return snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	    tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	    tm.tm_min, tm.tm_sec, ts.tv_nsec / 1000000);
}

/* pl_log_vwrite - format and write one line */
static void
pl_log_vwrite(enum pl_log_level lvl, const char *event, const char *fmt, va_list ap)
{
	char line[PL_LOG_LINE_MAX];
	size_t len, i;
	int n, saved = errno;

	if ((unsigned)lvl > PL_LOG_ERROR)
		lvl = PL_LOG_ERROR;
	n = pl_log_stamp(line, sizeof(line));
	n += snprintf(line + n, sizeof(line) - (size_t)n, " %s %s[%d] %s",
	    pl_log_names[lvl], pl_log_daemon, (int)getpid(), event);
	len = (size_t)n < sizeof(line) - 2 ? (size_t)n : sizeof(line) - 2;
	if (fmt && *fmt && len < sizeof(line) - 2) {
		line[len++] = ' ';
		n = vsnprintf(line + len, sizeof(line) - 1 - len, fmt, ap);
		if (n > 0)
			len += (size_t)n < sizeof(line) - 1 - len ?
			    (size_t)n : sizeof(line) - 2 - len;
	}
	/* a field value must never break the one-event-one-line rule */
	for (i = 0; i < len; i++)
		if (line[i] == '\n' || line[i] == '\r')
			line[i] = ' ';
	line[len++] = '\n';
	if (write(pl_log_fd, line, len) < 0 && pl_log_fd != 2)
		(void)!write(2, line, len);
	errno = saved;
}

/* pl_log_write - one event line at lvl */
void
pl_log_write(enum pl_log_level lvl, const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pl_log_vwrite(lvl, event, fmt, ap);
	va_end(ap);
}

/* pl_fatal - log at ERROR and exit(1): start-up errors only */
void
pl_fatal(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pl_log_vwrite(PL_LOG_ERROR, event, fmt, ap);
	va_end(ap);
	exit(1);
}

/* pl_panic - log and abort(): a broken invariant */
void
pl_panic(const char *event, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	pl_log_vwrite(PL_LOG_ERROR, event, fmt, ap);
	va_end(ap);
	abort();
}
