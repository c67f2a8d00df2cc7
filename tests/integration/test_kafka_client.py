"""test_kafka_client.py - devkafka's protocol through a Kafka client we did
not write: Debian's python3-kafka (kafka-python), the way Parley's daemons
use Kafka (docs/deploy.md): metadata, produce with acks=all, list offsets,
and fetch with explicitly assigned partitions and no consumer group.

What passes here is what a real Kafka answers to the same requests; the
partition counts are the ones proto/names.h gives the real topics.
"""

import os
import re
import subprocess
import tempfile

import pytest

from parley import wait_for

kafka = pytest.importorskip("kafka", reason="python3-kafka (deploy/packages.txt)")
from kafka import KafkaConsumer, KafkaProducer, TopicPartition  # noqa: E402
from kafka.admin import KafkaAdminClient  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("PARLEY_BIN_DIR", os.path.join(REPO, "build", "bin"))


def _topics():
    """{topic: partitions} from proto/names.h, the one place they are kept"""
    text = open(os.path.join(REPO, "proto", "names.h")).read()
    out = {}
    for tag in ("MESSAGES", "EVENTS", "PRESENCE"):
        name = re.search(r'#define PL_TOPIC_%s "([^"]+)"' % tag, text).group(1)
        n = int(re.search(r"#define PL_TOPIC_%s_PARTITIONS (\d+)" % tag, text).group(1))
        out[name] = n
    return out


@pytest.fixture(scope="module")
def brokers():
    """a devkafka of its own (the shared stack's topics carry Envelopes only)"""
    d = tempfile.mkdtemp(prefix="parley-kclient-")
    bfile = os.path.join(d, "kafka.brokers")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env.update({"PARLEY_OPS_ADDR": "127.0.0.1:0", "PARLEY_KAFKA_BROKERS_FILE": bfile,
                "PARLEY_RUN_DIR": d})
    log = open(os.path.join(d, "devkafka.log"), "wb")
    p = subprocess.Popen([os.path.join(BIN, "devkafka")], env=env, stdout=log,
                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_for(lambda: p.poll() is None and os.path.exists(bfile) and
                 open(bfile).read().strip(), 20, "devkafka's bootstrap file")
        yield open(bfile).read().strip().split(",")
    finally:
        p.terminate()
        try:
            p.wait(10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        log.close()
        subprocess.run(["rm", "-rf", d], check=False)


def test_metadata_lists_the_topics_with_their_partitions(brokers):
    admin = KafkaAdminClient(bootstrap_servers=brokers, request_timeout_ms=10000,
                             client_id="parley-test")
    try:
        want = _topics()
        got = {t["topic"]: len(t["partitions"]) for t in admin.describe_topics(list(want))}
        assert got == want
        for t in admin.describe_topics(list(want)):
            assert t["error_code"] == 0, t
            for part in t["partitions"]:
                assert part["error_code"] == 0 and part["leader"] >= 0, part
        # brokers: as many as devkafka runs, each reachable
        assert len(admin.describe_cluster()["brokers"]) == len(brokers)
    finally:
        admin.close()


def test_produce_list_offsets_and_fetch_without_a_group(brokers):
    topic = "parley.presence"
    tp = TopicPartition(topic, 1)
    c = KafkaConsumer(bootstrap_servers=brokers, group_id=None, enable_auto_commit=False,
                      consumer_timeout_ms=10000, request_timeout_ms=15000,
                      fetch_max_wait_ms=200)
    p = KafkaProducer(bootstrap_servers=brokers, acks="all", retries=5,
                      request_timeout_ms=10000, linger_ms=5)
    try:
        start = c.end_offsets([tp])[tp]                   # ListOffsets latest
        assert c.beginning_offsets([tp])[tp] <= start     # ListOffsets earliest
        sent = []
        for i in range(20):
            md = p.send(topic, key=b"k%d" % i, value=b"v%d" % i, partition=1).get(timeout=10)
            assert md.topic == topic and md.partition == 1
            sent.append(md.offset)
        p.flush(10)
        # offsets are dense and start at the old end
        assert sent == list(range(start, start + 20)), sent
        assert c.end_offsets([tp])[tp] == start + 20

        c.assign([tp])                                    # no group, no rebalance
        c.seek(tp, start + 5)
        got = []
        for rec in c:
            got.append((rec.offset, rec.key, rec.value))
            if len(got) == 15:
                break
        assert got == [(start + i, b"k%d" % i, b"v%d" % i) for i in range(5, 20)]
        assert c.position(tp) == start + 20
    finally:
        p.close(5)
        c.close()
