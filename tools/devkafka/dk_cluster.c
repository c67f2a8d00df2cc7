/* dk_cluster.c - devkafka's "mock" engine: librdkafka's mock cluster, its
 * topics and its readiness check (the native engine is dk_broker.c).
 *
 * Retention: the mock cluster keeps at most 5 MiB or 100000 message sets per
 * partition (fixed in rdkafka_mock.c, rd_kafka_mock_partition_init) and
 * drops the oldest beyond that. librdkafka 2.0.2 has no property or API to
 * change it, so memory is bounded at roughly partitions × 5 MiB, and a
 * consumer that falls further behind gets its offset reset (a gap the
 * services must announce, never hide). */
#include <errno.h>
#include <string.h>
#include <unistd.h>
#include <librdkafka/rdkafka.h>
#include <librdkafka/rdkafka_mock.h>

#include "daemon.h"
#include "devkafka.h"
#include "err.h"
#include "log.h"
#include "loop.h"
#include "mem.h"
#include "ops.h"
#include "buf.h"

#define DK_CHECK_MS 500		/* readiness probe period */
#define DK_PROBE_TIMEOUT_MS 1000

static struct {
	rd_kafka_t *owner;		/* the handle the cluster lives in */
	rd_kafka_mock_cluster_t *mc;
	rd_kafka_t *probe;		/* a plain client for metadata checks */
	struct pl_timer *timer;
	int ready;
	int file_written;
} dk;

/* dk_log_cb - librdkafka log lines (mock and probe), any thread */
static void
dk_log_cb(const rd_kafka_t *rk, int level, const char *fac, const char *buf)
{
	if (level <= 3)
		pl_log_error("DK-RDKAFKA", "fac=%s msg=\"%s\"", fac, buf);
	else if (level <= 4)
		pl_log_warn("DK-RDKAFKA", "fac=%s msg=\"%s\"", fac, buf);
	else
		pl_log_debug("DK-RDKAFKA", "fac=%s msg=\"%s\"", fac, buf);
}

/* dk_handle_new - a producer handle; bootstrap may be NULL (cluster owner) */
static rd_kafka_t *
dk_handle_new(const char *bootstrap)
{
	rd_kafka_conf_t *conf = rd_kafka_conf_new();
	char errstr[256];
	rd_kafka_t *rk;

	rd_kafka_conf_set_log_cb(conf, dk_log_cb);
	if (bootstrap != NULL && rd_kafka_conf_set(conf, "bootstrap.servers",
	    bootstrap, errstr, sizeof(errstr)) != RD_KAFKA_CONF_OK)
		goto fail;
	if ((rk = rd_kafka_new(RD_KAFKA_PRODUCER, conf, errstr,
	    sizeof(errstr))) == NULL)
		goto fail;
	return rk;
fail:
	pl_log_error("DK-HANDLE-FAIL", "err=\"%s\"", errstr);
	rd_kafka_conf_destroy(conf);
	return NULL;
}

/* dk_topics_seen - 1 when metadata shows every topic with its partitions */
static int
dk_topics_seen(const struct rd_kafka_metadata *md)
{
	size_t i;
	int j, found;

	for (i = 0; i < DK_NTOPICS; i++) {
		found = 0;
		for (j = 0; j < md->topic_cnt; j++)
			if (strcmp(md->topics[j].topic, dk_topics[i].name) == 0 &&
			    md->topics[j].err == 0 &&
			    md->topics[j].partition_cnt == *dk_topics[i].partitions)
				found = 1;
		if (!found)
			return 0;
	}
	return md->broker_cnt == dk_conf.brokers;
}

/* dk_probe - ask the cluster, as a client would, for all topics. A request
 * for all topics never auto-creates one. Blocks the loop briefly (the
 * cluster is in this process, answers take well under a millisecond). */
static void
dk_probe(void *arg)
{
	const struct rd_kafka_metadata *md = NULL;
	rd_kafka_resp_err_t err;
	int was = dk.ready;

	err = rd_kafka_metadata(dk.probe, 1, NULL, &md, DK_PROBE_TIMEOUT_MS);
	dk.ready = err == RD_KAFKA_RESP_ERR_NO_ERROR && dk_topics_seen(md);
	if (md != NULL)
		rd_kafka_metadata_destroy(md);
	if (dk.ready != was)
		pl_log_info("DK-READY", "ready=%d err=%s", dk.ready,
		    rd_kafka_err2name(err));
}

/* dk_ready_check - /readyz: the last probe saw the whole cluster */
static int
dk_ready_check(void *arg, struct pl_buf *why)
{
	if (!dk.ready)
		pl_buf_puts(why, "cluster metadata incomplete");
	return dk.ready;
}

/* dk_topics_create - the Parley topics, replication min(3, brokers) */
static int
dk_topics_create(void)
{
	int rf = dk_conf.brokers < 3 ? (int)dk_conf.brokers : 3;
	rd_kafka_resp_err_t err;
	size_t i;

	for (i = 0; i < DK_NTOPICS; i++) {
		err = rd_kafka_mock_topic_create(dk.mc, dk_topics[i].name,
		    (int)*dk_topics[i].partitions, rf);
		if (err != RD_KAFKA_RESP_ERR_NO_ERROR) {
			pl_log_error("DK-TOPIC-FAIL", "topic=%s err=%s",
			    dk_topics[i].name, rd_kafka_err2name(err));
			return PL_EIO;
		}
		pl_log_info("DK-TOPIC", "topic=%s partitions=%d replication=%d",
		    dk_topics[i].name, (int)*dk_topics[i].partitions, rf);
	}
	return 0;
}

/* dk_cluster_init - cluster, topics, brokers file, readiness probe */
int
dk_cluster_init(struct event_base *base, struct pl_loop *loop)
{
	const char *bootstraps;
	int rv;

	if ((dk.owner = dk_handle_new(NULL)) == NULL)
		return PL_EIO;
	if ((dk.mc = rd_kafka_mock_cluster_new(dk.owner,
	    (int)dk_conf.brokers)) == NULL) {
		pl_log_error("DK-CLUSTER-FAIL", "brokers=%d", (int)dk_conf.brokers);
		return PL_EIO;
	}
	if ((rv = dk_topics_create()) != 0)
		return rv;
	bootstraps = rd_kafka_mock_cluster_bootstraps(dk.mc);
	if ((dk.probe = dk_handle_new(bootstraps)) == NULL)
		return PL_EIO;
	if ((rv = pl_write_file(dk_conf.brokers_file, bootstraps)) != 0) {
		pl_log_error("DK-FILE-FAIL", "path=%s err=%s", dk_conf.brokers_file,
		    pl_err_str(rv));
		return rv;
	}
	dk.file_written = 1;
	pl_log_info("DK-CLUSTER-UP", "brokers=%d bootstrap=%s file=%s",
	    (int)dk_conf.brokers, bootstraps, dk_conf.brokers_file);
	pl_ops_add_check("kafka", dk_ready_check, NULL);
	if ((rv = pl_loop_timer(loop, DK_CHECK_MS, 1, dk_probe, NULL,
	    &dk.timer)) != 0)
		return rv;
	dk_probe(NULL);
	return 0;
}

/* dk_cluster_drain - nothing in flight belongs to us: stop now */
void
dk_cluster_drain(void)
{
	pl_daemon_stop();
}

/* dk_cluster_fini - undo init in reverse; safe after a partial init */
void
dk_cluster_fini(void)
{
	pl_loop_timer_stop(&dk.timer);
	if (dk.file_written && unlink(dk_conf.brokers_file) != 0)
		pl_log_warn("DK-FILE-RM", "path=%s errno=%d", dk_conf.brokers_file,
		    errno);
	dk.file_written = 0;
	if (dk.probe != NULL)
		rd_kafka_destroy(dk.probe);
	if (dk.mc != NULL)
		rd_kafka_mock_cluster_destroy(dk.mc);
	if (dk.owner != NULL)
		rd_kafka_destroy(dk.owner);
	memset(&dk, 0, sizeof(dk));
	pl_log_info("DK-CLUSTER-DOWN", "brokers=%d", (int)dk_conf.brokers);
}
