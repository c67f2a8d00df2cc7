"""notify-svc push (issue #13, part 2) against a real HTTP sink in the test:
offline mention -> exactly one push with the Matrix push gateway payload,
online -> none, DMs, <!channel> vs <!here>, read first / muted / snoozed ->
none, a member who left -> none, a failing endpoint opening and closing the
breaker with every queued notification delivered once, and kill -9 of
notify-svc under a stream of mentions (the sink's record by key: none
missing, repeats only with the same key and body)."""

import json
import signal
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import conftest
import parley
from parley import wait_for

DELAY_MS = 1500


class Sink:
    """a push gateway: records every request; answers `status` (200)"""

    def __init__(self):
        self.lock = threading.Lock()
        self.records = []           # (key, body, status answered)
        self.status = 200
        sink = self

        class H(BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(n))
                with sink.lock:
                    st = sink.status
                    sink.records.append((self.headers.get("Idempotency-Key"), body, st))
                self.send_response(st)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/_matrix/push/v1/notify" % self.srv.server_port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()

    def delivered(self, key=None):
        """2xx answers per key (the sink's idempotent record)"""
        with self.lock:
            return [(k, b) for k, b, st in self.records
                    if st == 200 and (key is None or k == key)]

    def keys(self):
        return {k for k, _ in self.delivered()}

    def wait_key(self, key):
        wait_for(lambda: key in self.keys(), 30, "push " + key)
        return self.delivered(key)[0][1]

    def close(self):
        self.srv.shutdown()


@pytest.fixture(scope="module")
def env():
    sink = Sink()
    st = conftest.start_stack(prefix="parley-it-push-", gateways=1, extra_env=dict(
        conftest.TEST_ENV, PARLEY_PUSH_URL=sink.url, PARLEY_PUSH_DELAY_MS=str(DELAY_MS),
        PARLEY_PUSH_SCAN_MS="50", PARLEY_PUSH_BREAKER_THRESHOLD="3",
        PARLEY_PUSH_BREAKER_OPEN_MS="500", PARLEY_PUSH_BACKOFF_BASE_MS="50",
        PARLEY_PUSH_BACKOFF_CAP_MS="400", PARLEY_PUSH_TIMEOUT_MS="2000"))
    yield st, sink
    conftest.stop_stack(st)
    sink.close()


def key(user, channel, ts):
    return "push:%s:%s:%s" % (user, channel, ts)


def make_team(st, devices=("bob", "carol")):
    api = parley.Api(st.http_url)
    t = parley.provision(st, api=api)
    for name in devices:
        api.call("push.register", t.token(name), device_token="tok-%s-%s" % (name, t.uid(name)),
                 platform="fcm")
    return api, t


def post(api, tok, ch, text, **kw):
    return api.call("chat.postMessage", tok, channel=ch, text=text, **kw)


def test_offline_mention_one_push_with_payload(env):
    st, sink = env
    api, t = make_team(st)
    bob = t.uid("bob")
    api.call("push.register", t.token("bob"), device_token="second-device", platform="apns")
    m = post(api, t.token("alice"), t.channel, "<@%s> lunch?" % bob)
    body = sink.wait_key(key(bob, t.channel, m["ts"]))
    n = body["notification"]
    assert (n["event_id"], n["room_id"], n["sender"], n["type"]) == (
        m["ts"], t.channel, t.uid("alice"), "m.room.message")
    assert sorted((d["app_id"], d["pushkey"]) for d in n["devices"]) == sorted(
        [("fcm", "tok-bob-%s" % bob), ("apns", "second-device")])
    assert n["parley"] == {"id": key(bob, t.channel, m["ts"]), "user": bob,
                           "team": t.id, "kind": "mention", "thread_ts": ""}
    # a later push to bob travels the same path: by then any second copy of
    # the first would have arrived; carol (not mentioned) got nothing
    m2 = post(api, t.token("alice"), t.channel, "<@%s> marker" % bob)
    sink.wait_key(key(bob, t.channel, m2["ts"]))
    assert len(sink.delivered(key(bob, t.channel, m["ts"]))) == 1
    assert not [k for k in sink.keys() if t.uid("carol") in k]


def test_online_user_gets_none_offline_gets_one(env):
    st, sink = env
    api, t = make_team(st)
    bob, carol = t.uid("bob"), t.uid("carol")
    with parley.Ws(st.ws_url, t.token("carol")) as ws:
        ws.request({"type": "ping"})
        m = post(api, t.token("alice"), t.channel, "<@%s> <@%s> both?" % (bob, carol))
        # bob's and carol's notifications are decided in the same statement
        sink.wait_key(key(bob, t.channel, m["ts"]))
    assert key(carol, t.channel, m["ts"]) not in sink.keys()


def test_dm_and_channel_vs_here(env):
    st, sink = env
    api, t = make_team(st)
    a, bob, carol = t.token("alice"), t.uid("bob"), t.uid("carol")
    dm = api.call("conversations.open", a, users=bob)["channel"]["id"]
    d = post(api, a, dm, "no mention needed")
    assert sink.wait_key(key(bob, dm, d["ts"]))["notification"]["parley"]["kind"] == "dm"
    here = post(api, a, t.channel, "<!here> quick one")
    chan = post(api, a, t.channel, "<!channel> everybody")
    for u in (bob, carol):
        n = sink.wait_key(key(u, t.channel, chan["ts"]))["notification"]
        assert n["parley"]["kind"] == "channel"
    # <!here> was posted first, on the same path: it pushed nobody
    assert not [k for k in sink.keys() if k.endswith(":" + here["ts"])]
    # the author is never pushed about their own message
    assert key(t.uid("alice"), t.channel, chan["ts"]) not in sink.keys()


def test_read_muted_snoozed_left_get_none(env):
    st, sink = env
    api, t = make_team(st)
    a, b, c = t.token("alice"), t.token("bob"), t.token("carol")
    bob, carol = t.uid("bob"), t.uid("carol")
    # read before the delay: cancelled
    r = post(api, a, t.channel, "<@%s> read me fast" % bob)
    api.call("conversations.mark", b, channel=t.channel, ts=r["ts"])
    # muted channel
    api.call("users.prefs.set", b, name="muted_channels", value=t.channel)
    mu = post(api, a, t.channel, "<@%s> muted" % bob)
    # carol's marker: it was posted after both and reaches her
    mk = post(api, a, t.channel, "<@%s> marker 1" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(bob, t.channel, r["ts"]) not in sink.keys()
    assert key(bob, t.channel, mu["ts"]) not in sink.keys()
    api.call("users.prefs.set", b, name="muted_channels", value="")
    # snoozed
    api.call("dnd.setSnooze", b, num_minutes="5")
    sn = post(api, a, t.channel, "<@%s> snoozing?" % bob)
    mk = post(api, a, t.channel, "<@%s> marker 2" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(bob, t.channel, sn["ts"]) not in sink.keys()
    api.call("dnd.endSnooze", b)
    # notify = nothing
    api.call("users.prefs.set", b, name="notify", value="nothing")
    no = post(api, a, t.channel, "<@%s> nothing?" % bob)
    mk = post(api, a, t.channel, "<@%s> marker 3" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(bob, t.channel, no["ts"]) not in sink.keys()
    api.call("users.prefs.set", b, name="notify", value="mentions")
    # a member who left gets nothing more about the channel
    api.call("conversations.leave", c, channel=t.channel)
    gone = post(api, a, t.channel, "<!channel> after carol left")
    sink.wait_key(key(bob, t.channel, gone["ts"]))
    assert key(carol, t.channel, gone["ts"]) not in sink.keys()
    # a deleted message is cancelled too
    dl = post(api, a, t.channel, "<@%s> oops" % bob)
    api.call("chat.delete", a, channel=t.channel, ts=dl["ts"])
    dm = api.call("conversations.open", a, users=bob)["channel"]["id"]
    mk = post(api, a, dm, "marker 4")
    sink.wait_key(key(bob, dm, mk["ts"]))
    assert key(bob, t.channel, dl["ts"]) not in sink.keys()


def breaker_state(st):
    txt = requests.get(st.ops["notify-svc"] + "/metrics", timeout=5).text
    for line in txt.splitlines():
        if line.startswith("parley_notify_push_breaker_state "):
            return float(line.split()[1])
    return None


def test_failing_endpoint_opens_breaker_then_drains_once(env):
    st, sink = env
    api, t = make_team(st)
    bob = t.uid("bob")
    with sink.lock:
        sink.status = 500
    try:
        sent = [post(api, t.token("alice"), t.channel, "<@%s> n%d" % (bob, i))["ts"]
                for i in range(8)]
        wait_for(lambda: breaker_state(st) == 1, 30, "breaker open")
    finally:
        with sink.lock:
            sink.status = 200
    for ts in sent:
        sink.wait_key(key(bob, t.channel, ts))
    wait_for(lambda: breaker_state(st) == 0, 30, "breaker closed")
    for ts in sent:
        assert len(sink.delivered(key(bob, t.channel, ts))) == 1, ts
    with sink.lock:
        failed = [k for k, b, s in sink.records if s == 500]
    assert failed, "the endpoint was asked while failing"


def test_push_register_refusals(env):
    st, _ = env
    api, t = make_team(st, devices=())
    b = t.token("bob")
    for tok, plat, err in (("", "fcm", "missing_token"), ("a b", "fcm", "invalid_token_value"),
                           ("x" * 257, "fcm", "invalid_token_value"),
                           ("ok", "", "invalid_platform"), ("ok", "f\"x", "invalid_platform")):
        r = api.call("push.register", b, check=False, device_token=tok, platform=plat)
        assert r == {"ok": False, "error": err}, (tok, plat, r)
    for i in range(10):
        api.call("push.register", b, device_token="d%d" % i, platform="fcm")
    api.call("push.register", b, device_token="d3", platform="apns")      # same token: update
    r = api.call("push.register", b, check=False, device_token="d10", platform="fcm")
    assert r == {"ok": False, "error": "too_many_devices"}
    api.call("push.unregister", b, device_token="d3")
    r = api.call("push.unregister", b, check=False, device_token="d3")
    assert r == {"ok": False, "error": "device_not_found"}
    api.call("push.register", b, device_token="d10", platform="fcm")


def test_kill9_mid_stream_no_missing_no_stray(env):
    st, sink = env
    api, t = make_team(st)
    bob = t.uid("bob")
    sent = []
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set() and i < 300:
            sent.append(post(api, t.token("alice"), t.channel, "<@%s> s%d" % (bob, i))["ts"])
            i += 1
    th = threading.Thread(target=sender)
    th.start()
    try:
        wait_for(lambda: len([k for k in sink.keys() if k.startswith(
            "push:%s:%s:" % (bob, t.channel))]) >= 20, 60, "pushes flowing")
        child = [c for c in st.children if c.name == "notify-svc"][0]
        child.signal(signal.SIGKILL)
        child.reap(10)
        child.start()
        port = child.bound_port(st.ready_timeout)
        child.ops_url = "http://127.0.0.1:%d" % port
        st.ops["notify-svc"] = child.ops_url
        child.wait_ready(st.ready_timeout)
    finally:
        th.join(120)
        stop.set()
    want = {key(bob, t.channel, ts) for ts in sent}
    wait_for(lambda: want <= sink.keys(), 90, "every push delivered")
    mine = [(k, b) for k, b in sink.delivered() if k.startswith("push:%s:%s:" % (bob, t.channel))]
    assert {k for k, _ in mine} == want
    # a repeat (sent, then the crash before it was recorded) carries the same
    # key and the same body
    bodies = {}
    for k, b in mine:
        assert bodies.setdefault(k, b) == b


def restart(st, name):
    child = [c for c in st.children if c.name == name][0]
    child.start()
    port = child.bound_port(st.ready_timeout)
    child.ops_url = "http://127.0.0.1:%d" % port
    st.ops[name] = child.ops_url
    child.wait_ready(st.ready_timeout)


def test_presence_down_counts_as_offline(env):
    """notify-svc asks presence-svc who is connected; while presence-svc does
    not answer, a connected user counts as offline and is pushed (a push to
    someone reading beats a lost notification, docs/notify.md); once it is
    back, the connected user is skipped again"""
    st, sink = env
    api, t = make_team(st)
    bob, carol = t.uid("bob"), t.uid("carol")
    child = [c for c in st.children if c.name == "presence-svc"][0]
    with parley.Ws(st.ws_url, t.token("carol")) as ws:
        ws.request({"type": "ping"})
        # presence-svc up: connected carol is skipped, bob is pushed
        m = post(api, t.token("alice"), t.channel, "<@%s> <@%s> up" % (bob, carol))
        sink.wait_key(key(bob, t.channel, m["ts"]))
        assert key(carol, t.channel, m["ts"]) not in sink.keys()
        before = parley.daemon_metric(st, "notify-svc", "parley_notify_presence_unavailable_total")
        child.signal(signal.SIGKILL)
        child.reap(10)
        try:
            d = post(api, t.token("alice"), t.channel, "<@%s> presence is down" % carol)
            body = sink.wait_key(key(carol, t.channel, d["ts"]))
            assert body["notification"]["parley"]["kind"] == "mention"
            assert parley.daemon_metric(st, "notify-svc", "parley_notify_presence_unavailable_total") > before
        finally:
            restart(st, "presence-svc")
        # back: carol's session (kept in Redis, heartbeats resume) is
        # connected again; bob's push is the marker of the same decision
        u = post(api, t.token("alice"), t.channel, "<@%s> <@%s> back" % (bob, carol))
        sink.wait_key(key(bob, t.channel, u["ts"]))
        assert key(carol, t.channel, u["ts"]) not in sink.keys()


def test_notify_all_pushes_plain_messages(env):
    """notify=all: a plain channel message pushes an offline user who set it
    (kind "message"), once, on the same outbox path; not a user on
    mentions, not a muted channel, not a thread reply"""
    st, sink = env
    api, t = make_team(st)
    a, b = t.token("alice"), t.token("bob")
    bob, carol = t.uid("bob"), t.uid("carol")
    api.call("users.prefs.set", b, name="notify", value="all")
    m = post(api, a, t.channel, "plain words, no mention")
    n = sink.wait_key(key(bob, t.channel, m["ts"]))["notification"]
    assert n["parley"] == {"id": key(bob, t.channel, m["ts"]), "user": bob,
                           "team": t.id, "kind": "message", "thread_ts": ""}
    # a thread reply is not a plain candidate; carol (mentions) gets no plain
    # push; carol's mention, posted after both, travels the same path
    r = post(api, a, t.channel, "a reply", thread_ts=m["ts"])
    mk = post(api, a, t.channel, "<@%s> marker" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(carol, t.channel, m["ts"]) not in sink.keys()
    assert key(bob, t.channel, r["ts"]) not in sink.keys()
    # a message mentioning someone else reaches bob too (notify=all), and
    # each push exactly once
    assert sink.wait_key(key(bob, t.channel, mk["ts"]))["notification"]["parley"][
        "kind"] == "message"
    assert len(sink.delivered(key(bob, t.channel, m["ts"]))) == 1
    # muted: nothing
    api.call("users.prefs.set", b, name="muted_channels", value=t.channel)
    mu = post(api, a, t.channel, "muted plain")
    mk = post(api, a, t.channel, "<@%s> marker 2" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(bob, t.channel, mu["ts"]) not in sink.keys()
    api.call("users.prefs.set", b, name="muted_channels", value="")
    # back to mentions: plain messages stop
    api.call("users.prefs.set", b, name="notify", value="mentions")
    pm = post(api, a, t.channel, "plain again")
    mk = post(api, a, t.channel, "<@%s> marker 3" % carol)
    sink.wait_key(key(carol, t.channel, mk["ts"]))
    assert key(bob, t.channel, pm["ts"]) not in sink.keys()
