/* feed.c - consume Parley's event topics from the end (see feed.h). */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "err.h"
#include "feed.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "metrics.h"

#define PL_FEED_RETRY_MS 1000
#define PL_FEED_META_TIMEOUT_MS 500
#define PL_FEED_TYPES 64	/* EventType values are below this; slot 0 = unknown */

struct pl_feed {
	struct pl_feed_conf conf;
	struct pl_kafka_consumer *consumer;
	struct pl_timer *retry;
	int assigned[PL_FEED_MAX_TOPICS];
	struct pl_metric *by_type[PL_FEED_MAX_TOPICS][PL_FEED_TYPES];
	struct pl_metric *undecodable[PL_FEED_MAX_TOPICS];
	char events_name[96];
};

/* pl_feed_topic - index of a topic name, or -1 */
static int
pl_feed_topic(const struct pl_feed *f, const char *topic)
{
	int i;

	for (i = 0; i < f->conf.ntopics; i++)
		if (strcmp(topic, f->conf.topics[i]) == 0)
			return i;
	return -1;
}

/* pl_feed_type_metric - the counter of (topic, type), made on first use */
static struct pl_metric *
pl_feed_type_metric(struct pl_feed *f, int t, int type)
{
	const ProtobufCEnumValue *v = NULL;
	char name[64], labels[128];
	int i, slot = type;

	if (type > 0 && type < PL_FEED_TYPES)
		v = protobuf_c_enum_descriptor_get_value(&parley__event_type__descriptor,
		    type);
	if (v == NULL)
		slot = 0;
	if (f->by_type[t][slot] == NULL) {
		snprintf(name, sizeof(name), "%s", slot ? v->name : "unknown");
		for (i = 0; name[i]; i++)
			name[i] = (char)tolower((unsigned char)name[i]);
		snprintf(labels, sizeof(labels), "topic=\"%s\",type=\"%s\"",
		    f->conf.topics[t], name);
		f->by_type[t][slot] = pl_metrics_counter(f->events_name,
		    "Events consumed, by topic and type.", labels);
	}
	return f->by_type[t][slot];
}

/* pl_feed_msg - decode one payload, count it, hand it on */
static void
pl_feed_msg(const struct pl_kafka_msg *m, void *arg)
{
	struct pl_feed *f = arg;
	Parley__Envelope *env;
	int t = pl_feed_topic(f, m->topic);

	if (t < 0)
		return;
	env = parley__envelope__unpack(NULL, m->len, m->payload);
	if (env == NULL) {
		pl_metrics_inc(f->undecodable[t]);
		pl_log_warn("FEED-UNDECODABLE", "topic=%s partition=%d offset=%lld len=%zu",
		    m->topic, (int)m->partition, (long long)m->offset, m->len);
		return;
	}
	pl_metrics_inc(pl_feed_type_metric(f, t, (int)env->type));
	if (f->conf.fn)
		f->conf.fn(env, m, f->conf.arg);
	parley__envelope__free_unpacked(env, NULL);
}

/* pl_feed_assign - every partition, from the end, of each topic not yet assigned */
static int
pl_feed_assign(struct pl_feed *f)
{
	int t, n, rv, result = 0;

	for (t = 0; t < f->conf.ntopics; t++) {
		if (f->assigned[t])
			continue;
		n = pl_kafka_partition_count(f->consumer, f->conf.topics[t],
		    PL_FEED_META_TIMEOUT_MS);
		rv = n <= 0 ? (n < 0 ? n : PL_EAGAIN) :
		    pl_kafka_consumer_assign(f->consumer, f->conf.topics[t], NULL, NULL,
		    n, PL_KAFKA_OFFSET_END);
		if (rv != 0) {
			result = rv;
			continue;
		}
		f->assigned[t] = 1;
		pl_log_info("FEED-ASSIGNED", "topic=%s partitions=%d", f->conf.topics[t], n);
	}
	return result;
}

/* pl_feed_retry - timer: try the assignment again until it works */
static void
pl_feed_retry(void *arg)
{
	struct pl_feed *f = arg;
	int rv;

	if ((rv = pl_feed_assign(f)) != 0) {
		pl_log_warn("FEED-ASSIGN-RETRY", "err=%s", pl_err_str(rv));
		return;
	}
	pl_loop_timer_stop(&f->retry);
}

/* pl_feed_metrics - the counters that exist from the start */
static void
pl_feed_metrics(struct pl_feed *f)
{
	char name[96], labels[128];
	int t;

	snprintf(f->events_name, sizeof(f->events_name), "%s_events_total",
	    f->conf.metric_prefix);
	snprintf(name, sizeof(name), "%s_undecodable_total", f->conf.metric_prefix);
	for (t = 0; t < f->conf.ntopics; t++) {
		snprintf(labels, sizeof(labels), "topic=\"%s\"", f->conf.topics[t]);
		f->undecodable[t] = pl_metrics_counter(name,
		    "Payloads that are not an Envelope (dropped), by topic.", labels);
	}
}

/* pl_feed_start - consumer on the loop, assigned now or by the retry timer */
int
pl_feed_start(struct pl_loop *l, const struct pl_feed_conf *conf,
    struct pl_feed **r)
{
	struct pl_feed *f;
	char extra[96];
	int rv;

	if (conf->ntopics <= 0 || conf->ntopics > PL_FEED_MAX_TOPICS)
		return PL_EINVAL;
	f = pl_calloc(1, sizeof(*f));
	f->conf = *conf;
	pl_feed_metrics(f);
	snprintf(extra, sizeof(extra), "fetch.wait.max.ms=%lld,fetch.min.bytes=%lld",
	    (long long)conf->fetch_wait_ms,
	    (long long)(conf->fetch_min_bytes > 0 ? conf->fetch_min_bytes : 1));
	if ((rv = pl_kafka_consumer_start(l, conf->brokers, extra, pl_feed_msg, NULL,
	    f, &f->consumer)) != 0)
		goto fail;
	if (pl_feed_assign(f) != 0 &&
	    (rv = pl_loop_timer(l, PL_FEED_RETRY_MS, 1, pl_feed_retry, f, &f->retry)) != 0)
		goto fail;
	*r = f;
	return 0;
fail:
	if (f->consumer)
		pl_kafka_consumer_stop(&f->consumer);
	free(f);
	return rv;
}

/* pl_feed_ready - every topic assigned */
int
pl_feed_ready(const struct pl_feed *f)
{
	int t;

	for (t = 0; t < f->conf.ntopics; t++)
		if (!f->assigned[t])
			return 0;
	return 1;
}

/* pl_feed_stop - timer, then consumer */
void
pl_feed_stop(struct pl_feed **f)
{
	if (*f == NULL)
		return;
	if ((*f)->retry)
		pl_loop_timer_stop(&(*f)->retry);
	pl_kafka_consumer_stop(&(*f)->consumer);
	pl_free(f);
}
