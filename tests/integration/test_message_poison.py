"""Poison rows (issue #10 item 1).

1. The front doors refuse what PostgreSQL would refuse: invalid UTF-8 in
   text, a client_msg_id over 64 bytes, a thread_ts / ts that is not the
   canonical "<seconds>.<6 digits>" (Web API and RTM).
2. The persister isolates an event that PostgreSQL refuses anyway: events
   crafted straight onto parley.messages (as a bug or an older producer
   could write them) and a message refused by a constraint the validation
   cannot know. The shard keeps persisting, the refused events are in
   message_quarantine with their error, every acknowledged message is in
   PostgreSQL, replay / resume see no hole, and a restarted shard becomes
   ready and hands out the next seq (never a quarantined one again).
"""
import os
import re
import signal
import time

import psycopg
import requests

import parley

TOPIC = "parley.messages"


# ---- an Envelope in protobuf wire format (proto/parley.proto), by hand:
# the tests have no Python protobuf runtime

def _varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def _int(num, v):
    return _varint(num << 3) + _varint(v)


def _bytes(num, b):
    if isinstance(b, str):
        b = b.encode()
    return _varint(num << 3 | 2) + _varint(len(b)) + b


def envelope(channel, team, user, seq, ts, text=b"x", thread_ts=b"", cmid=b""):
    """MESSAGE_CREATED with a Message body (fields 1..8 of Message)"""
    m = (_bytes(1, channel) + _bytes(2, team) + _int(3, seq) + _bytes(4, ts) +
         _bytes(5, user) + _bytes(6, text))
    if thread_ts:
        m += _bytes(7, thread_ts)
    if cmid:
        m += _bytes(8, cmid)
    return (_int(1, 1) + _int(2, 1) + _int(4, int(time.time() * 1e6)) + _bytes(5, team) +
            _bytes(10, m))


def _fnv1a(s):
    """pl_shard_hash (proto/shard.c)"""
    h = 2166136261
    for c in s.encode():
        h ^= c
        h = (h * 16777619) & 0xFFFFFFFF
    return h


class Log:
    """a producer on parley.messages, writing to the channel's partition"""

    def __init__(self, st):
        from kafka import KafkaProducer
        brokers = open(st.brokers_file).read().strip()
        self.p = KafkaProducer(bootstrap_servers=brokers.split(","), acks="all",
                               retries=0, linger_ms=0)
        self.parts = len(self.p.partitions_for(TOPIC))

    def append(self, channel, value):
        part = _fnv1a(channel) % self.parts
        self.p.send(TOPIC, value=value, key=channel.encode(), partition=part).get(30)

    def close(self):
        self.p.close(5)


def _last_seq(api, token, channel):
    return api.call("conversations.info", token, channel=channel)["channel"]["last_seq"]


def _now_ts(plus_us=0):
    us = int(time.time() * 1e6) + plus_us
    return "%d.%06d" % (us // 1000000, us % 1000000)


def _incompressible(n):
    """n bytes of printable ASCII that pglz cannot shrink (an index row of
    them stays over btree's limit)"""
    return os.urandom(n).hex()[:n].encode()


def _metric(url, name):
    text = requests.get(url + "/metrics", timeout=5).text
    m = re.search(r"^%s(?:\{[^}]*\})? (\S+)$" % re.escape(name), text, re.M)
    return float(m.group(1)) if m else 0.0


# ---- 1. the front doors

def test_web_api_refuses_unstorable_fields(stack, api, team):
    a = team.token("alice")
    url = "%s/api/chat.postMessage" % stack.http_url
    hdr = {"Authorization": "Bearer " + a,
           "Content-Type": "application/x-www-form-urlencoded"}

    def post_raw(body):
        return requests.post(url, data=body, headers=hdr, timeout=10).json()

    ch = "channel=%s" % team.channel
    # invalid UTF-8 (a lone 0xFF; a CESU-8 surrogate; an overlong '/')
    for bad in ("%FF", "ok%ED%A0%80", "%C0%AF"):
        r = post_raw("%s&text=hi%s" % (ch, bad))
        assert r == {"ok": False, "error": "invalid_arguments"}, (bad, r)
    r = post_raw("%s&text=fine&client_msg_id=id%%FF" % ch)
    assert r == {"ok": False, "error": "invalid_arguments"}, r
    # client_msg_id: 64 bytes pass, 65 and a few KB do not
    ok = api.call("chat.postMessage", a, channel=team.channel, text="c64",
                  client_msg_id="k" * 64)
    assert ok["message"]["seq"] > 0
    for n in (65, 4000):
        r = api.call("chat.postMessage", a, check=False, channel=team.channel,
                     text="long id", client_msg_id="k" * n)
        assert r == {"ok": False, "error": "invalid_arguments"}, (n, r)
    # thread_ts: thousands of leading zeros, or not the canonical form
    parent = api.call("chat.postMessage", a, channel=team.channel, text="parent")["ts"]
    for thr in ("0" * 5000 + parent, "0" + parent, parent[:-3], parent + "0"):
        r = api.call("chat.postMessage", a, check=False, channel=team.channel,
                     text="reply", thread_ts=thr)
        assert r == {"ok": False, "error": "invalid_thread_ts"}, (thr[:20], r)
    reply = api.call("chat.postMessage", a, channel=team.channel, text="reply",
                     thread_ts=parent)
    assert reply["message"]["thread_ts"] == parent
    # chat.update: the same text rule; a ts we never wrote names no message
    up = "%s/api/chat.update" % stack.http_url
    r = requests.post(up, data="%s&ts=%s&text=x%%FF" % (ch, parent), headers=hdr,
                      timeout=10).json()
    assert r == {"ok": False, "error": "invalid_arguments"}, r
    r = api.call("chat.update", a, check=False, channel=team.channel,
                 ts="0" * 3000 + parent, text="edit")
    assert r == {"ok": False, "error": "message_not_found"}, r
    assert api.call("chat.update", a, channel=team.channel, ts=parent, text="edited")["ok"]
    # JSON bodies take the same road
    r = api.call("chat.postMessage", a, check=False, json_body={
        "channel": team.channel, "text": "j", "client_msg_id": "j" * 100})
    assert r == {"ok": False, "error": "invalid_arguments"}, r
    # a lone surrogate escape in a JSON body: valid UTF-8 bytes, invalid text
    r = requests.post(url, data='{"channel":"%s","text":"half \\ud800 pair"}' % team.channel,
                      headers={"Authorization": "Bearer " + a,
                               "Content-Type": "application/json"}, timeout=10).json()
    assert r == {"ok": False, "error": "invalid_json"}, r     # cJSON refuses the body
    # every refusal left the log alone: history holds only the good ones
    texts = [m["text"] for m in api.call("conversations.history", a, channel=team.channel,
                                         limit=50)["messages"] if not m.get("subtype")]
    assert "c64" in texts and "edited" in texts, texts
    assert set(texts) <= {"c64", "edited", "reply"}, texts


def test_rtm_refuses_unstorable_fields(stack, team):
    with parley.Ws(stack.ws_url, team.token("alice")) as ws:
        r = ws.request({"type": "message", "channel": team.channel, "text": "x",
                        "client_msg_id": "r" * 65})
        assert r["ok"] is False and r["error"]["code"] == "invalid_arguments", r
        r = ws.request({"type": "message", "channel": team.channel, "text": "x",
                        "thread_ts": "0" * 2000 + "1700000000.000001"})
        assert r["ok"] is False and r["error"]["code"] == "invalid_thread_ts", r
        # a lone surrogate escape: the frame is valid UTF-8, the string it
        # would decode to is not; cJSON refuses the whole frame
        ws.send({"id": 99, "type": "message", "channel": team.channel,
                 "text": "half \ud800 pair"})
        e = ws.wait_event(lambda e: e.get("type") == "error", what="error frame")
        assert e["error"]["code"] == "invalid_json", e
        r = ws.request({"type": "message", "channel": team.channel, "text": "fine",
                        "client_msg_id": "r" * 64})
        assert r["ok"] is True, r


# ---- 2. the persister

def test_poison_rows_are_quarantined_and_the_shard_goes_on(new_stack):
    st = new_stack(shards=1, gateways=1)
    api = parley.Api(st.http_url)
    team = parley.provision(st, api=api)
    a, ch = team.token("alice"), team.channel
    alice, tid = team.uid("alice"), team.id
    shard = "message-svc-0"
    log = Log(st)
    acked = {}                      # seq -> ts of every acknowledged message
    poisoned = {}                   # seq -> the SQLSTATE PostgreSQL answers

    def post(text):
        m = api.call("chat.postMessage", a, channel=ch, text=text)
        acked[m["message"]["seq"]] = m["ts"]
        return m["message"]["seq"]

    def craft(state, **fields):
        """append an event the validation would have refused, with the
        channel's next seq, and wait until the shard has read it"""
        seq = _last_seq(api, a, ch) + 1
        log.append(ch, envelope(ch, tid, alice, seq, _now_ts(), **fields))
        parley.wait_for(lambda: _last_seq(api, a, ch) >= seq, 30,
                        "the shard reading crafted seq %d" % seq)
        poisoned[seq] = state
        return seq

    def burst():
        """a poison row in the middle of one batch: PostgreSQL is held (a
        lock on kafka_offsets) while eight good events and a bad one are
        read, so they reach ms_apply_batch together and the batch must be
        split, not only a batch of one quarantined"""
        base = _last_seq(api, a, ch) + 1
        with psycopg.connect(st.dsn(0)) as hold:
            hold.execute("LOCK TABLE kafka_offsets IN EXCLUSIVE MODE")
            for i in range(9):
                ts = _now_ts(i)
                text = b"burst \xc3" if i == 4 else ("burst %d" % i).encode()
                log.append(ch, envelope(ch, tid, alice, base + i, ts, text=text))
                if i == 4:
                    poisoned[base + i] = "22021"
                else:
                    acked[base + i] = ts
            parley.wait_for(lambda: _last_seq(api, a, ch) >= base + 8, 30,
                            "the shard reading the burst")
            hold.rollback()

    try:
        first = post("before")
        craft("22021", text=b"bad \xff utf-8")                 # invalid UTF-8
        post("between 1")
        craft("54000", cmid=_incompressible(6000))            # index row too big
        for i in range(5):
            post("between 2.%d" % i)
        burst()
        post("after the burst")
        # a refusal the validation cannot foresee: a constraint (here one an
        # operator added) that a well-formed message violates
        with psycopg.connect(st.dsn(0), autocommit=True) as c:
            c.execute("ALTER TABLE messages ADD CONSTRAINT poison_test"
                      " CHECK (text <> 'refused by a constraint') NOT VALID")
        s = post("refused by a constraint")
        del acked[s]
        poisoned[s] = "23514"
        for i in range(5):
            post("after %d" % i)
        last_poison = craft("22021", text=b"\xed\xa0\x80 surrogate")  # last in the log
    finally:
        log.close()

    # the shard kept persisting: every acknowledged message is in PostgreSQL
    def rows():
        with psycopg.connect(st.dsn(0), autocommit=True) as c:
            return dict(c.execute("SELECT seq, ts FROM messages WHERE channel_id = %s",
                                  (ch,)).fetchall())
    parley.wait_for(lambda: set(acked) <= set(rows()), 60,
                    "every acknowledged message in PostgreSQL")
    assert {s: t for s, t in rows().items() if s in acked} == acked

    # the refused ones are quarantined with their error, tombstones in place
    def quarantine():
        with psycopg.connect(st.dsn(0), autocommit=True) as c:
            return {r[0]: r[1:] for r in c.execute(
                "SELECT seq, sqlstate, error, length(payload) FROM message_quarantine"
                " WHERE channel_id = %s", (ch,)).fetchall()}
    q = parley.wait_for(lambda: (lambda x: x if len(x) == len(poisoned) else None)(
        quarantine()), 60, "%d quarantined events" % len(poisoned))
    assert {s: v[0] for s, v in q.items()} == poisoned, q
    assert all(v[1] and v[2] > 0 for v in q.values()), q
    with psycopg.connect(st.dsn(0), autocommit=True) as c:
        tomb = dict(c.execute("SELECT seq, type FROM channel_events WHERE channel_id = %s"
                              " AND type = 8", (ch,)).fetchall())
        assert set(tomb) == set(poisoned), tomb
        assert not set(poisoned) & set(rows())
        # offsets committed past the last (refused) event
        assert c.execute("SELECT count(*) FROM kafka_offsets WHERE topic = %s",
                         (TOPIC,)).fetchone()[0] > 0
    assert _metric(st.ops[shard], "parley_ms_quarantined_total") == len(poisoned)
    assert _metric(st.ops[shard], "parley_ms_persist_splits_total") >= 1

    # the whole seq range is accounted for: no hole
    assert set(acked) | set(poisoned) == set(range(first, last_poison + 1))

    # replay from PostgreSQL (the recent cache never held the crafted events,
    # so a resume from before the first one misses the cache): no resync
    with parley.Ws(st.ws_url, team.token("bob"), timeout=30) as ws:
        ws.send({"id": 7, "type": "resume", "last_seq": {ch: first}})
        ws.wait_event(lambda e: e.get("type") in ("resumed", "resync_required"),
                      what="resume answer")
        assert not ws.matching(lambda e: e.get("type") == "resync_required"), ws.events[-5:]
        got = {e["seq"] for e in ws.matching(
            lambda e: e.get("type") == "message" and e.get("channel") == ch and "seq" in e)}
        assert got == set(s for s in acked if s > first), (sorted(got), sorted(acked))

    # a restart of the shard becomes ready, and the next seq follows the
    # last (quarantined) one: recovered from the tombstone, never reused
    c = [c for c in st.children if c.name == shard][0]
    c.signal(signal.SIGTERM)
    c.reap(30)
    c.start()
    c.ops_url = "http://127.0.0.1:%d" % c.bound_port(st.ready_timeout)
    st.ops[shard] = c.ops_url
    c.wait_ready(st.ready_timeout)
    nxt = parley.wait_for(lambda: (lambda r: r if r.get("ok") else None)(
        api.call("chat.postMessage", a, check=False, channel=ch, text="after restart")),
        60, "a send after the restart")
    assert nxt["message"]["seq"] == last_poison + 1, (nxt["message"]["seq"], last_poison)
    parley.find_message_row(st, ch, last_poison + 1)
    assert _metric(st.ops[shard], "parley_ms_quarantined_total") == 0   # nothing re-read
