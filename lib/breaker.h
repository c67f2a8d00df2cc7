/* breaker.h - a circuit breaker. Embedded.
 *
 * closed: calls pass; `threshold` consecutive failures open it.
 * open: calls fail fast until open_ms has passed, then half-open.
 * half-open: one probe at a time passes; success closes, failure reopens. */
#ifndef PL_BREAKER_H
#define PL_BREAKER_H
#include <stdint.h>

enum pl_breaker_state { PL_BREAKER_CLOSED, PL_BREAKER_OPEN, PL_BREAKER_HALF_OPEN };

struct pl_breaker {
	enum pl_breaker_state state;
	unsigned threshold;
	unsigned failures;
	uint64_t open_ms;
	uint64_t opened_at_ms;
	int probe_in_flight;
};

void pl_breaker_init(struct pl_breaker *b, unsigned threshold, uint64_t open_ms);
/* pl_breaker_allow - 1 if a call may go now (a half-open probe is counted) */
int pl_breaker_allow(struct pl_breaker *b, uint64_t now_ms);
void pl_breaker_success(struct pl_breaker *b);
void pl_breaker_failure(struct pl_breaker *b, uint64_t now_ms);
const char *pl_breaker_state_name(enum pl_breaker_state s);

#endif
