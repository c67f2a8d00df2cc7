/* feed.c - notify-svc's view of parley.messages: every partition assigned
 * explicitly from the end (no consumer group), each payload decoded as an
 * Envelope and counted by type; undecodable payloads are counted and dropped.
 *
 * The partition count needs broker metadata, which may not be there yet when
 * the daemon starts; assignment is retried on a timer until it succeeds, and
 * ns_feed_ready is false until then. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>

#include "err.h"
#include "kafka.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "notify.h"
#include "parley.pb-c.h"

#define NS_FEED_RETRY_MS 1000
#define NS_FEED_META_TIMEOUT_MS 500
#define NS_FEED_TYPES 64	/* EventType values are below this */

struct ns_feed {
	struct pl_kafka_consumer *consumer;
	struct pl_timer *retry;
	int assigned;
	struct pl_metric *by_type[NS_FEED_TYPES];
	struct pl_metric *undecodable;
	struct pl_metric *unknown_type;
};

/* ns_feed_type_metric - the counter of one event type, made on first use */
static struct pl_metric *
ns_feed_type_metric(struct ns_feed *f, int type)
{
	const ProtobufCEnumValue *v;
	char labels[96];
	int i, n;

	if (type < 0 || type >= NS_FEED_TYPES ||
	    (v = protobuf_c_enum_descriptor_get_value(&parley__event_type__descriptor,
	    type)) == NULL)
		return f->unknown_type;
	if (f->by_type[type] == NULL) {
		n = snprintf(labels, sizeof(labels), "type=\"%s\"", v->name);
		for (i = 6; i < n; i++)
			labels[i] = (char)tolower((unsigned char)labels[i]);
		f->by_type[type] = pl_metrics_counter("parley_notify_events_total",
		    "Events consumed from parley.messages, by type.", labels);
	}
	return f->by_type[type];
}

/* ns_feed_msg - decode one payload and count it */
static void
ns_feed_msg(const struct pl_kafka_msg *m, void *arg)
{
	struct ns_feed *f = arg;
	Parley__Envelope *env;

	env = parley__envelope__unpack(NULL, m->len, m->payload);
	if (env == NULL) {
		pl_metrics_inc(f->undecodable);
		pl_log_warn("NS-UNDECODABLE", "topic=%s partition=%d offset=%lld len=%zu",
		    m->topic, (int)m->partition, (long long)m->offset, m->len);
		return;
	}
	pl_metrics_inc(ns_feed_type_metric(f, (int)env->type));
	pl_log_debug("NS-EVENT", "topic=%s partition=%d offset=%lld type=%d",
	    m->topic, (int)m->partition, (long long)m->offset, (int)env->type);
	parley__envelope__free_unpacked(env, NULL);
}

/* ns_feed_assign - all partitions of parley.messages from the end */
static int
ns_feed_assign(struct ns_feed *f)
{
	int n, rv;

	n = pl_kafka_partition_count(f->consumer, PL_TOPIC_MESSAGES,
	    NS_FEED_META_TIMEOUT_MS);
	if (n <= 0)
		return n < 0 ? n : PL_EAGAIN;
	rv = pl_kafka_consumer_assign(f->consumer, PL_TOPIC_MESSAGES, NULL, NULL,
	    n, PL_KAFKA_OFFSET_END);
	if (rv != 0)
		return rv;
	f->assigned = 1;
	pl_log_info("NS-FEED-ASSIGNED", "topic=%s partitions=%d", PL_TOPIC_MESSAGES, n);
	return 0;
}

/* ns_feed_retry - timer: try the assignment again until it works */
static void
ns_feed_retry(void *arg)
{
	struct ns_feed *f = arg;
	int rv;

	if ((rv = ns_feed_assign(f)) != 0) {
		pl_log_warn("NS-FEED-ASSIGN-RETRY", "topic=%s err=%s", PL_TOPIC_MESSAGES,
		    pl_err_str(rv));
		return;
	}
	pl_loop_timer_stop(&f->retry);
}

/* ns_feed_start - consumer on the loop, assigned now or by the retry timer */
int
ns_feed_start(struct pl_loop *loop, const char *brokers, int64_t fetch_wait_ms,
    struct ns_feed **r)
{
	struct ns_feed *f = pl_calloc(1, sizeof(*f));
	char extra[64];
	int rv;

	f->undecodable = pl_metrics_counter("parley_notify_undecodable_total",
	    "Payloads on parley.messages that are not an Envelope (dropped).", NULL);
	f->unknown_type = pl_metrics_counter("parley_notify_events_total",
	    "Events consumed from parley.messages, by type.", "type=\"unknown\"");
	snprintf(extra, sizeof(extra), "fetch.wait.max.ms=%lld", (long long)fetch_wait_ms);
	if ((rv = pl_kafka_consumer_start(loop, brokers, extra, ns_feed_msg, NULL, f,
	    &f->consumer)) != 0)
		goto fail;
	if (ns_feed_assign(f) != 0 &&
	    (rv = pl_loop_timer(loop, NS_FEED_RETRY_MS, 1, ns_feed_retry, f, &f->retry)) != 0)
		goto fail;
	*r = f;
	return 0;
fail:
	if (f->consumer)
		pl_kafka_consumer_stop(&f->consumer);
	free(f);
	return rv;
}

int
ns_feed_ready(const struct ns_feed *f)
{
	return f->assigned;
}

/* ns_feed_stop - timer, then consumer */
void
ns_feed_stop(struct ns_feed **f)
{
	if (*f == NULL)
		return;
	if ((*f)->retry)
		pl_loop_timer_stop(&(*f)->retry);
	pl_kafka_consumer_stop(&(*f)->consumer);
	pl_free(f);
}
