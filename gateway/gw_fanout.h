/* gw_fanout.h - fanout.c: the Kafka consumer of the event topics: decode,
 * apply to the edge cache, render once, write to the local subscribers. */
#ifndef GW_FANOUT_H
#define GW_FANOUT_H
#include <stddef.h>
#include <stdint.h>

#include "gw.h"

struct pl_kafka_msg;

int gw_fanout_start(void);
void gw_fanout_stop(void);
int gw_fanout_ready(void);
/* apply and deliver one decoded envelope (members.c releases held ones
 * through gw_members_ops) */
void gw_fanout_deliver(const Parley__Envelope *env, int64_t ts_ms);
/* one parley.events payload (m: its Kafka message, NULL when lagged) */
void gw_fanout_payload(const void *payload, size_t len, int64_t ts_ms,
    const struct pl_kafka_msg *m);

#endif
