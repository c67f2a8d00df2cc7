/* feed.c - search-indexer's view of parley.messages and parley.events: every
 * partition assigned explicitly from the end (no consumer group), each
 * payload decoded as an Envelope and counted by topic and type; undecodable
 * payloads are counted and dropped.
 *
 * Partition counts need broker metadata, which may not be there yet when the
 * daemon starts; topics not yet assigned are retried on a timer, and
 * si_feed_ready is false until every topic is assigned. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "kafka.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"
#include "names.h"
#include "parley.pb-c.h"
#include "search.h"

#define SI_FEED_RETRY_MS 1000
#define SI_FEED_META_TIMEOUT_MS 500
#define SI_FEED_TYPES 64	/* EventType values are below this */

static const char *const si_feed_topics[] = { PL_TOPIC_MESSAGES, PL_TOPIC_EVENTS };
#define SI_FEED_NTOPICS 2

struct si_feed {
	struct pl_kafka_consumer *consumer;
	struct pl_timer *retry;
	int assigned[SI_FEED_NTOPICS];
	struct pl_metric *by_type[SI_FEED_NTOPICS][SI_FEED_TYPES];
	struct pl_metric *undecodable[SI_FEED_NTOPICS];
};

#define SI_EVENTS_HELP "Events consumed, by topic and type."

/* si_feed_topic - index of a topic name, or -1 */
static int
si_feed_topic(const char *topic)
{
	int i;

	for (i = 0; i < SI_FEED_NTOPICS; i++)
		if (strcmp(topic, si_feed_topics[i]) == 0)
			return i;
	return -1;
}

/* si_feed_type_metric - the counter of one topic and event type, made on first use */
static struct pl_metric *
si_feed_type_metric(struct si_feed *f, int t, int type)
{
	const ProtobufCEnumValue *v = NULL;
	char labels[160], name[48];
	int i, slot = type;

	if (type >= 0 && type < SI_FEED_TYPES)
		v = protobuf_c_enum_descriptor_get_value(&parley__event_type__descriptor, type);
	if (v == NULL)
		slot = 0;	/* EVENT_UNKNOWN's slot holds every unknown value */
	if (f->by_type[t][slot] == NULL) {
		snprintf(name, sizeof(name), "%s", v && slot ? v->name : "unknown");
		for (i = 0; name[i]; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"",
		    si_feed_topics[t], name);
		f->by_type[t][slot] = pl_metrics_counter("parley_search_events_total",
		    SI_EVENTS_HELP, labels);
	}
	return f->by_type[t][slot];
}

/* si_feed_msg - decode one payload and count it */
static void
si_feed_msg(const struct pl_kafka_msg *m, void *arg)
{
	struct si_feed *f = arg;
	Parley__Envelope *env;
	int t = si_feed_topic(m->topic);

	if (t < 0)
		return;
	env = parley__envelope__unpack(NULL, m->len, m->payload);
	if (env == NULL) {
		pl_metrics_inc(f->undecodable[t]);
		pl_log_warn("SI-UNDECODABLE", "topic=%s partition=%d offset=%lld len=%zu",
		    m->topic, (int)m->partition, (long long)m->offset, m->len);
		return;
	}
	pl_metrics_inc(si_feed_type_metric(f, t, (int)env->type));
	pl_log_debug("SI-EVENT", "topic=%s partition=%d offset=%lld type=%d",
	    m->topic, (int)m->partition, (long long)m->offset, (int)env->type);
	parley__envelope__free_unpacked(env, NULL);
}

/* si_feed_assign - every partition, from the end, of each topic not yet assigned */
static int
si_feed_assign(struct si_feed *f)
{
	int t, n, rv, result = 0;

	for (t = 0; t < SI_FEED_NTOPICS; t++) {
		if (f->assigned[t])
			continue;
		n = pl_kafka_partition_count(f->consumer, si_feed_topics[t],
		    SI_FEED_META_TIMEOUT_MS);
		rv = n <= 0 ? (n < 0 ? n : PL_EAGAIN) :
		    pl_kafka_consumer_assign(f->consumer, si_feed_topics[t], NULL, NULL,
		    n, PL_KAFKA_OFFSET_END);
		if (rv != 0) {
			result = rv;
			continue;
		}
		f->assigned[t] = 1;
		pl_log_info("SI-FEED-ASSIGNED", "topic=%s partitions=%d",
		    si_feed_topics[t], n);
	}
	return result;
}

/* si_feed_retry - timer: try the assignment again until it works */
static void
si_feed_retry(void *arg)
{
	struct si_feed *f = arg;
	int rv;

	if ((rv = si_feed_assign(f)) != 0) {
		pl_log_warn("SI-FEED-ASSIGN-RETRY", "err=%s", pl_err_str(rv));
		return;
	}
	pl_loop_timer_stop(&f->retry);
}

/* si_feed_metrics - the counters that exist from the start */
static void
si_feed_metrics(struct si_feed *f)
{
	char labels[96];
	int t;

	for (t = 0; t < SI_FEED_NTOPICS; t++) {
		snprintf(labels, sizeof(labels), "topic=\"%s\"", si_feed_topics[t]);
		f->undecodable[t] = pl_metrics_counter("parley_search_undecodable_total",
		    "Payloads that are not an Envelope (dropped), by topic.", labels);
	}
}

/* si_feed_start - consumer on the loop, assigned now or by the retry timer */
int
si_feed_start(struct pl_loop *loop, const char *brokers, int64_t fetch_wait_ms,
    struct si_feed **r)
{
	struct si_feed *f = pl_calloc(1, sizeof(*f));
	char extra[64];
	int rv;

	si_feed_metrics(f);
	snprintf(extra, sizeof(extra), "fetch.wait.max.ms=%lld", (long long)fetch_wait_ms);
	if ((rv = pl_kafka_consumer_start(loop, brokers, extra, si_feed_msg, NULL, f,
	    &f->consumer)) != 0)
		goto fail;
	if (si_feed_assign(f) != 0 &&
	    (rv = pl_loop_timer(loop, SI_FEED_RETRY_MS, 1, si_feed_retry, f, &f->retry)) != 0)
		goto fail;
	*r = f;
	return 0;
fail:
	if (f->consumer)
		pl_kafka_consumer_stop(&f->consumer);
	free(f);
	return rv;
}

/* si_feed_ready - every topic assigned */
int
si_feed_ready(const struct si_feed *f)
{
	int t;

	for (t = 0; t < SI_FEED_NTOPICS; t++)
		if (!f->assigned[t])
			return 0;
	return 1;
}

/* si_feed_stop - timer, then consumer */
void
si_feed_stop(struct si_feed **f)
{
	if (*f == NULL)
		return;
	if ((*f)->retry)
		pl_loop_timer_stop(&(*f)->retry);
	pl_kafka_consumer_stop(&(*f)->consumer);
	pl_free(f);
}
