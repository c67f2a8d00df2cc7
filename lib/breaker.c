/* breaker.c - a circuit breaker: closed, open, half-open. */
#include "breaker.h"

/* pl_breaker_init - closed, no failures */
void
pl_breaker_init(struct pl_breaker *b, unsigned threshold, uint64_t open_ms)
{
	b->state = PL_BREAKER_CLOSED;
	b->threshold = threshold ? threshold : 1;
	b->failures = 0;
	b->open_ms = open_ms;
	b->opened_at_ms = 0;
	b->probe_in_flight = 0;
}

/* pl_breaker_allow - 1 if a call may go now (a half-open probe is counted) */
int
pl_breaker_allow(struct pl_breaker *b, uint64_t now_ms)
{
	if (b->state == PL_BREAKER_OPEN) {
		if (now_ms < b->opened_at_ms + b->open_ms)
			return 0;
		b->state = PL_BREAKER_HALF_OPEN;
		b->probe_in_flight = 0;
	}
	if (b->state == PL_BREAKER_HALF_OPEN) {
		if (b->probe_in_flight)
			return 0;
		b->probe_in_flight = 1;
	}
	return 1;
}

/* pl_breaker_success - a success closes the breaker and clears failures */
void
pl_breaker_success(struct pl_breaker *b)
{
	b->state = PL_BREAKER_CLOSED;
	b->failures = 0;
	b->probe_in_flight = 0;
}

/* pl_breaker_open - (re)open at now_ms */
static void
pl_breaker_open(struct pl_breaker *b, uint64_t now_ms)
{
	b->state = PL_BREAKER_OPEN;
	b->opened_at_ms = now_ms;
	b->probe_in_flight = 0;
}

/* pl_breaker_failure - count; threshold in a row opens, a failed probe reopens */
void
pl_breaker_failure(struct pl_breaker *b, uint64_t now_ms)
{
	if (b->failures < UINT32_MAX)
		b->failures++;
	if (b->state == PL_BREAKER_HALF_OPEN ||
	    (b->state == PL_BREAKER_CLOSED && b->failures >= b->threshold))
		pl_breaker_open(b, now_ms);
}

const char *
pl_breaker_state_name(enum pl_breaker_state s)
{
	static const char *const names[] = { "closed", "open", "half_open" };

	return (unsigned)s < 3 ? names[s] : "unknown";
}
