/* send.c - append one event to a channel's ordered log.
 *
 * The owner shard assigns the channel's next seq and a strictly increasing
 * ts, produces the Envelope to parley.messages (partition of the channel,
 * key = channel, idempotent producer, acks=all) and reports only after the
 * broker's acknowledgement. A failed produce leaves a hole in seq (allowed:
 * resume says resync_required, history shows what exists); a seq is never
 * handed out twice. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "err.h"
#include "kafka.h"
#include "log.h"
#include "mem.h"
#include "message_svc.h"
#include "metrics.h"
#include "ms_chan.h"
#include "ms_pure.h"
#include "names.h"
#include "shard.h"

int ms_send_inflight;		/* appends waiting for the broker */

struct send_op {
	ms_send_fn fn;
	void *arg;
	Parley__Message *m;
	uint64_t t0_us;
	uint8_t *env;
	size_t env_len;
};

/* ms_send_env_init - an Envelope header of type t */
void
ms_send_env_init(Parley__Envelope *env, Parley__EventType t, const char *team,
    const char *idem)
{
	parley__envelope__init(env);
	env->type = t;
	env->version = PL_ENVELOPE_VERSION;
	env->idempotency_key = (char *)(idem ? idem : "");
	env->produced_us = (int64_t)pl_clock_wall_us();
	env->team = (char *)(team ? team : "");
}

/* send_pack - the envelope's bytes (heap) */
static uint8_t *
send_pack(const Parley__Envelope *env, size_t *len_r)
{
	size_t len = parley__envelope__get_packed_size(env);
	uint8_t *buf = pl_malloc(len ? len : 1);

	parley__envelope__pack(env, buf);
	*len_r = len;
	return buf;
}

/* send_dr - the broker's answer for one appended event */
static void
send_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	struct send_op *op = opaque;
	struct ms_chan *ch = ms_chan_peek(op->m->channel);

	pl_metrics_observe(ms_m.produce_latency,
	    (double)(pl_clock_mono_us() - op->t0_us) / 1e6);
	if (rv == 0 && ch != NULL)
		ms_cache_append(ch, op->m, op->env, op->env_len);
	ms_tail_settle(op->m->channel, op->m->seq, rv == 0);
	ms_send_inflight--;
	if (rv != 0) {
		pl_metrics_inc(ms_m.send_errors);
		pl_log_warn("MS-SEND-FAIL", "channel=%s seq=%lld err=%s", op->m->channel,
		    (long long)op->m->seq, pl_err_str(rv));
	}
	op->fn(rv, op->m, op->arg);
	free(op->env);
	free(op);
}

/* ms_send_append - assign seq and ts, produce, report after the ack */
int
ms_send_append(struct ms_chan *ch, Parley__EventType t, Parley__Message *m,
    const char *idem, ms_send_fn fn, void *arg)
{
	char ts[MS_TS_MAX], key[96];
	struct send_op *op;
	Parley__Envelope env;
	uint64_t ts_us;
	int64_t seq;
	int rv;

	seq = ch->next_seq++;
	ts_us = ms_seq_next_ts_us(ch->last_ts_us, pl_clock_wall_us());
	ch->last_ts_us = ts_us;
	ms_seq_ts_format(ts_us, ts);
	m->channel = ch->id;
	m->seq = seq;
	m->ts = pl_strdup(ts);
	m->epoch = ch->epoch;
	if (m->team == NULL || m->team[0] == '\0')
		m->team = ch->team;
	if (idem == NULL || idem[0] == '\0') {
		snprintf(key, sizeof(key), "%s:%lld", ch->id, (long long)seq);
		idem = key;
	}
	ms_send_env_init(&env, t, ch->team, idem);
	env.body_case = PARLEY__ENVELOPE__BODY_MESSAGE;
	env.message = m;
	ms_tail_add(t, m, 1);
	op = pl_calloc(1, sizeof(*op));
	op->fn = fn;
	op->arg = arg;
	op->m = m;
	op->t0_us = pl_clock_mono_us();
	op->env = send_pack(&env, &op->env_len);
	rv = pl_kafka_produce(ms.prod, PL_TOPIC_MESSAGES,
	    pl_shard_partition(ch->id, ms.partitions), ch->id, strlen(ch->id),
	    op->env, op->env_len, send_dr, op);
	if (rv == 0)
		ms_send_inflight++;
	if (rv != 0) {
		ms_tail_settle(ch->id, seq, 0);
		/* nothing reached the log: give the seq back if it was the last */
		if (ch->next_seq == seq + 1)
			ch->next_seq = seq;
		pl_free(&m->ts);
		free(op->env);
		free(op);
	}
	return rv;
}

struct event_op {
	ms_send_fn fn;
	void *arg;
	uint8_t *buf;
};

/* event_dr - the broker's answer for a directory event */
static void
event_dr(int rv, int32_t partition, int64_t offset, void *opaque)
{
	struct event_op *op = opaque;

	if (rv != 0)
		pl_log_warn("MS-EVENT-FAIL", "err=%s", pl_err_str(rv));
	if (op->fn != NULL)
		op->fn(rv, NULL, op->arg);
	free(op->buf);
	free(op);
}

/* ms_send_event - produce env on parley.events, keyed by its team */
int
ms_send_event(Parley__Envelope *env, ms_send_fn fn, void *arg)
{
	struct event_op *op = pl_calloc(1, sizeof(*op));
	size_t len;
	int rv;

	op->fn = fn;
	op->arg = arg;
	op->buf = send_pack(env, &len);
	rv = pl_kafka_produce(ms.prod, PL_TOPIC_EVENTS, -1, env->team, strlen(env->team),
	    op->buf, len, event_dr, op);
	if (rv != 0) {
		free(op->buf);
		free(op);
	}
	return rv;
}
