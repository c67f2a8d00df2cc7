/* log.h - one line per event to stderr.
 *
 *   2026-11-29T01:40:00.123Z INFO gateway[1234] GW-CONN-OPEN conn=12 user=U1
 *
 * The event id is stable (grep-able, documented in docs/operations.md); the
 * rest are key=value fields. pl_log_debug costs one comparison when off.
 * Thread-safe (one write(2) per line). */
#ifndef PL_LOG_H
#define PL_LOG_H

enum pl_log_level { PL_LOG_DEBUG = 0, PL_LOG_INFO, PL_LOG_WARN, PL_LOG_ERROR };

extern enum pl_log_level pl_log_min_level;

/* pl_log_init - set daemon name and level ("debug", "info", "warn", "error"). */
int pl_log_init(const char *daemon, const char *level);
/* pl_log_reopen - reopen PARLEY_LOG_FILE if logging to a file (SIGHUP). */
void pl_log_reopen(void);
void pl_log_write(enum pl_log_level lvl, const char *event, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

#define pl_log_at(lvl, ev, ...) do { \
	if ((lvl) >= pl_log_min_level) pl_log_write((lvl), (ev), __VA_ARGS__); \
} while (0)
#define pl_log_debug(ev, ...) pl_log_at(PL_LOG_DEBUG, ev, __VA_ARGS__)
#define pl_log_info(ev, ...) pl_log_at(PL_LOG_INFO, ev, __VA_ARGS__)
#define pl_log_warn(ev, ...) pl_log_at(PL_LOG_WARN, ev, __VA_ARGS__)
#define pl_log_error(ev, ...) pl_log_at(PL_LOG_ERROR, ev, __VA_ARGS__)

/* pl_fatal - log at ERROR and exit(1): start-up errors only. */
void pl_fatal(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));
/* pl_panic - log and abort(): a broken invariant. */
void pl_panic(const char *event, const char *fmt, ...)
	__attribute__((format(printf, 2, 3), noreturn));

#endif
