/* state.c - the shard's process state (settings, runtime handles, metrics)
 * and the questions every module asks of it: is the shard ready, which
 * directory connection to use. Calls no other file of message-svc, so any
 * module may use it without a circle (svc.c fills the state at init). */
#include "message_svc.h"
#include "pg.h"

struct ms_conf ms_conf;	/* filled by main.c's config table */
struct ms_state ms;
struct ms_metrics ms_m;

/* ms_state_ready - sends may be served */
int
ms_state_ready(void)
{
	return ms.caught_up && ms.prod != NULL && ms.warm && !ms.draining;
}

/* ms_state_dir - the least busy directory connection (connected ones first) */
struct pl_pg *
ms_state_dir(void)
{
	return pl_pg_least_busy(ms.dir, ms.ndir);
}
