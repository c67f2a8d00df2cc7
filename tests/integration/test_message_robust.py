"""message-svc robustness (issue #4): a Redis flush costs nothing but the
channel's epoch. Real stack (stack fixture)."""
import redis

import parley


def test_redis_flush_keeps_messages_and_changes_epoch(stack, api, team):
    a = team.token("alice")
    before = [api.call("chat.postMessage", a, channel=team.channel, text="pre %d" % i)
              for i in range(5)]
    ep0 = api.call("conversations.info", a, channel=team.channel)["channel"]["epoch"]
    assert ep0
    redis.Redis(host="127.0.0.1", port=stack.redis_port).flushall()
    after = [api.call("chat.postMessage", a, channel=team.channel, text="post %d" % i)
             for i in range(5)]
    seqs = [m["message"]["seq"] for m in before + after]
    assert seqs == list(range(seqs[0], seqs[0] + 10))      # no seq reused or skipped
    ep1 = parley.wait_for(
        lambda: (lambda e: e if e != ep0 else None)(
            api.call("conversations.info", a, channel=team.channel)["channel"]["epoch"]),
        what="a new epoch after FLUSHALL")
    assert ep1 != ep0
    h = api.call("conversations.history", a, channel=team.channel, limit=100)
    got = {m["ts"] for m in h["messages"]}
    assert all(m["ts"] in got for m in before + after)
    parley.find_message_row(stack, team.channel, seqs[-1])


# ---- issue #4 robustness on a private stack (new_stack): kill -9 of a shard,
# PostgreSQL stopped for ~20 s. Helpers use the Stack's own child objects and
# settings (stack.py is not changed).

import os
import signal
import subprocess
import threading
import time

import psycopg


def _owner_shard(st, channel, seq):
    """the shard whose database holds the channel (= its owner)"""
    return parley.find_message_row(st, channel, seq)[0]


def _restart_child(st, name):
    """start a stopped daemon again with its recorded argv and environment"""
    c = [c for c in st.children if c.name == name][0]
    assert not c.alive()
    c.start()
    port = c.bound_port(st.ready_timeout)
    c.ops_url = "http://127.0.0.1:%d" % port
    st.ops[name] = c.ops_url
    c.wait_ready(st.ready_timeout)
    return c


def _pg_ctl(st, *args):
    return st._pg("/usr/lib/postgresql/15/bin/pg_ctl", "-D", st.pg_dir, *args, check=False)


def _pg_start(st):
    """start the stack's PostgreSQL again on the same port and socket directory"""
    opts = ["-c listen_addresses=127.0.0.1", "-c port=%d" % st.pg_port,
            "-c unix_socket_directories=%s" % st.pg_sock, "-c max_connections=200",
            "-c shared_buffers=64MB", "-c fsync=off", "-c synchronous_commit=off",
            "-c full_page_writes=off"]
    r = _pg_ctl(st, "-l", os.path.join(st.log_dir, "postgres.log"), "-w", "-t", "60",
                "-o", " ".join(opts), "start")
    assert r.returncode == 0, r.stderr
    st.pg_started = True


def _rows(st, shard, channel):
    with psycopg.connect(st.dsn(shard), autocommit=True) as c:
        return dict(c.execute("SELECT seq, ts FROM messages WHERE channel_id = %s",
                              (channel,)).fetchall())


class Senders:
    """n threads posting through the gateway; every acknowledged (seq, ts, text)
    is recorded, every failure counted (an unacknowledged send may be lost)"""

    def __init__(self, st, token, channel, n, per):
        self.acked, self.failed, self.lock = [], [], threading.Lock()
        self.threads = [threading.Thread(target=self._run, args=(st, token, channel, k, per))
                        for k in range(n)]

    def _run(self, st, token, channel, k, per):
        api = parley.Api(st.http_url, timeout=15)
        for i in range(per):
            text = "s%d-%d" % (k, i)
            try:
                r = api.call("chat.postMessage", token, check=False, channel=channel,
                             text=text)
            except Exception as e:              # connection reset, timeout
                r = {"ok": False, "error": repr(e)}
            with self.lock:
                if r.get("ok"):
                    self.acked.append((r["message"]["seq"], r["ts"], text))
                else:
                    self.failed.append((text, r.get("error")))
                    time.sleep(0.05)

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def count(self):
        with self.lock:
            return len(self.acked)

    def join(self, timeout=240):
        for t in self.threads:
            t.join(timeout)
            assert not t.is_alive(), "a sender did not finish"


def _check_no_loss(st, shard, channel, acked, ws, live):
    """acked: every acknowledged (seq, ts, text); live: those sent while ws was connected"""
    seqs = [s for s, _, _ in acked]
    assert len(seqs) == len(set(seqs)), "a seq was acknowledged twice"
    want = {s: ts for s, ts, _ in acked}
    # one query per poll (the rows of thousands of sends, not a query per seq)
    parley.wait_for(lambda: set(want) <= set(_rows(st, shard, channel)), 60,
                    "every acknowledged message in PostgreSQL")
    rows = _rows(st, shard, channel)
    assert all(rows[s] == ts for s, ts in want.items()), "a row has another ts"
    def delivered():
        got = {e["seq"]: e["ts"] for e in ws.matching(
            lambda e: e.get("type") == "message" and e.get("channel") == channel
            and "seq" in e and not e.get("subtype"))}
        return all(got.get(s) == ts for s, ts, _ in live) and got
    got = parley.wait_for(delivered, 60, "every acknowledged message delivered")
    return rows, got


def test_kill9_shard_during_sends(new_stack):
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    team = parley.provision(st, api=api)
    a = team.token("alice")
    first = api.call("chat.postMessage", a, channel=team.channel, text="first")
    shard = _owner_shard(st, team.channel, first["message"]["seq"])
    name = "message-svc-%d" % shard
    with parley.Ws(st.ws_url, team.token("bob"), timeout=30) as ws:
        snd = Senders(st, a, team.channel, 4, 250).start()
        parley.wait_for(lambda: snd.count() >= 300, 60, "300 acknowledged sends")
        child = [c for c in st.children if c.name == name][0]
        child.signal(signal.SIGKILL)
        child.reap(10)
        _restart_child(st, name)
        snd.join()
        acked = snd.acked + [(first["message"]["seq"], first["ts"], "first")]
        assert len(acked) >= 900, (len(acked), snd.failed[:5])
        rows, got = _check_no_loss(st, shard, team.channel, acked, ws, snd.acked)
    # no seq reused: the same seq never carries two messages in the log
    with psycopg.connect(st.dsn(shard), autocommit=True) as c:
        n = c.execute("SELECT count(*), count(DISTINCT ts) FROM messages "
                      "WHERE channel_id = %s", (team.channel,)).fetchone()
    assert n[0] == n[1]
    # a hole (an unacknowledged send) answers resync_required on resume
    top = max(rows)
    holes = [s for s in range(min(rows), top) if s not in rows]
    with parley.Ws(st.ws_url, team.token("bob"), timeout=30) as ws2:
        after = holes[0] - 1 if holes else top
        ws2.send({"id": 7, "type": "resume", "last_seq": {team.channel: after}})
        ws2.wait_event(lambda e: e.get("reply_to") == 7 or e.get("type") in (
            "resumed", "resync_required"), what="resume answer")
        if holes:
            assert ws2.matching(lambda e: e.get("type") == "resync_required"
                                and e.get("channel") == team.channel), holes


def test_postgres_down_20s_sends_keep_working(new_stack):
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    team = parley.provision(st, api=api)
    a = team.token("alice")
    first = api.call("chat.postMessage", a, channel=team.channel, text="first")
    shard = _owner_shard(st, team.channel, first["message"]["seq"])
    with parley.Ws(st.ws_url, team.token("bob"), timeout=30) as ws:
        r = _pg_ctl(st, "stop", "-m", "fast", "-w", "-t", "30")
        assert r.returncode == 0, r.stderr
        try:
            t0 = time.monotonic()
            acked = []
            while time.monotonic() - t0 < 20:
                m = api.call("chat.postMessage", a, channel=team.channel,
                             text="down %d" % len(acked))
                acked.append((m["message"]["seq"], m["ts"], m["message"]["text"]))
            # history falls back to the unpersisted tail where it covers the page
            h = api.call("conversations.history", a, channel=team.channel, limit=5)
            assert [x["ts"] for x in h["messages"]] == [t for _, t, _ in acked[::-1][:5]]
        finally:
            _pg_start(st)
        assert len(acked) >= 20
        _check_no_loss(st, shard, team.channel,
                       acked + [(first["message"]["seq"], first["ts"], "first")], ws, acked)
    # a lost connection is not a refused row: nothing was quarantined
    with psycopg.connect(st.dsn(shard), autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM message_quarantine").fetchone()[0] == 0


def test_update_right_after_post(stack, api, team):
    """chat.update of a message acknowledged a moment ago (not yet persisted)
    finds it: the target look-up reads PostgreSQL + the unpersisted tail"""
    a = team.token("alice")
    for i in range(60):
        m = api.call("chat.postMessage", a, channel=team.channel, text="p%d" % i)
        u = api.call("chat.update", a, check=False, channel=team.channel, ts=m["ts"],
                     text="e%d" % i)
        assert u.get("ok"), (i, m["ts"], u)
        r = api.call("reactions.add", a, check=False, channel=team.channel,
                     timestamp=m["ts"], name="eyes")
        assert r.get("ok"), (i, r)


def test_channel_moves_to_another_shard_seq_continues(new_stack):
    """2 shards -> 1: a channel that shard 1 owned moves to shard 0, which
    recovers its last seq from the log (it never stored offsets for those
    partitions, so it reads them from the start); the next message gets the
    next seq, none is reused, and the new owner's database holds the
    channel's whole history."""
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    team = parley.provision(st, api=api)
    a = team.token("alice")
    # a channel owned by shard 1
    ch = seq = None
    for i in range(40):
        cid = api.call("conversations.create", a, name=parley.unique("mv"))["channel"]["id"]
        m = api.call("chat.postMessage", a, channel=cid, text="probe")["message"]
        if _owner_shard(st, cid, m["seq"]) == 1:
            ch, seq = cid, m["seq"]
            break
    assert ch is not None, "no channel landed on shard 1"
    before = [api.call("chat.postMessage", a, channel=ch, text="before %d" % i)["message"]["seq"]
              for i in range(20)]
    assert before == list(range(seq + 1, seq + 21))
    # stop the gateway and both shards; start shard 0 and the gateway with count 1
    for name in ("gateway-0", "message-svc-1", "message-svc-0"):
        c = [c for c in st.children if c.name == name][0]
        c.signal(signal.SIGTERM)
        c.reap(20)
    gone = [c for c in st.children if c.name == "message-svc-1"][0]
    st.children.remove(gone)
    for name in ("message-svc-0", "gateway-0"):
        c = [c for c in st.children if c.name == name][0]
        c.env["PARLEY_SHARD_COUNT"] = "1"
        if name == "gateway-0":         # back on the port the clients know
            c.env["PARLEY_HTTP_ADDR"] = "127.0.0.1:%d" % st.http_port
    _restart_child(st, "message-svc-0")
    _restart_child(st, "gateway-0")
    after = [api.call("chat.postMessage", a, channel=ch, text="after %d" % i)["message"]["seq"]
             for i in range(5)]
    assert after == list(range(before[-1] + 1, before[-1] + 6)), (before[-1], after)
    # the new owner persisted the moved channel's whole log
    want = set(range(seq, after[-1] + 1))

    def complete():
        with psycopg.connect(st.dsn(0), autocommit=True) as c:
            rows = {r[0] for r in c.execute(
                "SELECT seq FROM messages WHERE channel_id = %s", (ch,))}
        return want <= rows
    parley.wait_for(complete, 60, "the moved channel's history in shard 0's database")
    h = api.call("conversations.history", a, channel=ch, limit=100)
    texts = [m["text"] for m in h["messages"]]
    assert "after 4" in texts and "before 0" in texts and "probe" in texts
