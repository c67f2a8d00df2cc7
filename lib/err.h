/* err.h - Parley's error codes.
 *
 * Functions return int: 0 on success, a negative PL_E* (or -errno) on failure.
 * Errors of nng, librdkafka, hiredis and libpq are translated to these at the
 * lib/ boundary, where their text is logged once. */
#ifndef PL_ERR_H
#define PL_ERR_H

enum {
	PL_OK = 0,
	PL_EINVAL = -1000,	/* bad argument or malformed input */
	PL_ETIMEDOUT = -1001,	/* deadline passed */
	PL_ECLOSED = -1002,	/* object or peer shut down */
	PL_EAGAIN = -1003,	/* try again later (queue full, not ready) */
	PL_ENOTFOUND = -1004,	/* no such thing */
	PL_EEXIST = -1005,	/* already there */
	PL_EPROTO = -1006,	/* peer broke the protocol / undecodable */
	PL_EIO = -1007,		/* I/O or dependency failure */
	PL_EPERM = -1008,	/* not allowed / bad credentials */
	PL_ETOOBIG = -1009,	/* over a size limit */
	PL_EEXPIRED = -1010,	/* token or url expired */
	PL_EINTERNAL = -1011,	/* broken invariant that was survived */
	PL_EUNAVAIL = -1012,	/* dependency unavailable (breaker open, down) */
	PL_EBADCHAR = -1013,	/* text holds a character it may not (a NUL) */
};

/* pl_err_str - a short stable name for rv ("timed_out", or strerror for -errno). */
const char *pl_err_str(int rv);

#endif
