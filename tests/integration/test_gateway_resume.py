"""Resume (PROTOCOL.md): with and without a gap, non-member channels
ignored; typing and presence relay; membership removal on every path
(live events, RTM send, resume, typing, events.poll)."""
import time

import parley
from parley import Ws, wait_for


def _msgs(ws, channel):
    return [e for e in ws.events if e.get("type") == "message" and
            e.get("channel") == channel and "reply_to" not in e and "seq" in e]


def _send(ws, channel, text):
    r = ws.request({"type": "message", "channel": channel, "text": text})
    assert r.get("ok") is True, r
    return r["seq"]


def test_resume_without_gap(stack, team):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice:
        seq = _send(alice, ch, "before")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: seq}})
        assert r["type"] == "resumed", r
        assert not [e for e in _msgs(bob, ch) if e["seq"] <= seq]


def test_resume_with_gap_replays_in_order(stack, team):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice:
        first = _send(alice, ch, "seen")
        missed = [_send(alice, ch, "missed %d" % i) for i in range(5)]
    assert missed == list(range(first + 1, first + 6))
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: first}})
        assert r["type"] == "resumed", r
        got = [e for e in _msgs(bob, ch)]
        seqs = [e["seq"] for e in got]
        assert seqs == missed, seqs
        assert [e["text"] for e in got] == ["missed %d" % i for i in range(5)]
        # live after the resume continues the sequence, no duplicate
        with Ws(stack.ws_url, team.token("alice")) as alice:
            nxt = _send(alice, ch, "live")
        bob.wait_event(lambda e: e.get("seq") == nxt and "reply_to" not in e)
        seqs = [e["seq"] for e in _msgs(bob, ch)]
        assert seqs == missed + [nxt], seqs


def test_resume_ignores_channels_of_others(stack, team, api):
    other = parley.provision(stack, users=("eve",), api=api)
    with Ws(stack.ws_url, other.token("eve")) as eve:
        _send(eve, other.channel, "secret")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {other.channel: 0}})
        assert r["type"] == "resumed", r
        assert not [e for e in bob.events if e.get("channel") == other.channel]


def _typing_marker(sender, receivers, channel, user):
    """the marker of a "no typing arrived" check: user's typing in channel
    (another channel than the one checked, so presence-svc's throttle of the
    (user, channel) pair does not hold it) reaches every receiver. Typing of
    one team goes through presence-svc in one partition, in order: one sent
    before the marker would be there first."""
    sender.send({"type": "typing", "channel": channel})
    for ws in receivers:
        ws.wait_event(lambda e: e.get("type") == "user_typing" and
                      e.get("channel") == channel and e.get("user") == user,
                      timeout=15, what="the typing marker")


def _typing_in(ws, channel):
    return ws.matching(lambda e: e.get("type") == "user_typing" and
                       e.get("channel") == channel)


def test_typing_reaches_members_only(stack, team, api):
    outsider = api.call("admin.users.create", stack.admin_token, team_id=team.id,
                        name="dave")
    # the marker's channel: bob, alice and dave
    side = api.call("conversations.create", team.token("bob"),
                    name=parley.unique("side-"))["channel"]["id"]
    api.call("conversations.invite", team.token("bob"), channel=side,
             users="%s,%s" % (team.uid("alice"), outsider["user"]["id"]))
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("bob")) as bob, \
            Ws(stack.ws_url, outsider["token"]) as dave:
        alice.send({"id": 1, "type": "typing", "channel": team.channel})
        ev = bob.wait_event(lambda e: e.get("type") == "user_typing")
        assert ev == {"type": "user_typing", "channel": team.channel,
                      "user": team.uid("alice")}, ev
        # dave is a team member who is not in the channel, so he never sees
        # the typing, and alice not her own: bob's typing in the side channel,
        # sent after alice's was relayed, reaches both of them after it
        _typing_marker(bob, [alice, dave], side, team.uid("bob"))
        assert not _typing_in(dave, team.channel), dave.events
        assert not _typing_in(alice, team.channel), alice.events


def test_presence_sub_delivers_presence_change(stack, team):
    from test_presence_relay import ps_metric
    conns0 = ps_metric(stack, "parley_presence_reports_total", type="connect")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [team.uid("alice")]})
        assert bob.request({"type": "ping"})["type"] == "pong"
        # presence-svc has bob's own connect before alice's: whatever it
        # publishes for bob (not subscribed to) is ahead of alice's change in
        # the team's partition, so her event is the marker for the check below
        wait_for(lambda: ps_metric(stack, "parley_presence_reports_total", type="connect")
                 >= conns0 + 1, 10, "bob's connect at presence-svc")
        with Ws(stack.ws_url, team.token("alice")):
            ev = bob.wait_event(lambda e: e.get("type") == "presence_change" and
                                e.get("user") == team.uid("alice"), timeout=15)
            assert ev["presence"] in ("active", "away"), ev
        assert not bob.matching(lambda e: e.get("type") == "presence_change" and
                                e.get("user") != team.uid("alice"))


def test_kick_stops_every_path(stack, team, api):
    ch = team.channel
    # the typing marker's channel: carol and alice
    side = api.call("conversations.create", team.token("carol"),
                    name=parley.unique("side-"))["channel"]["id"]
    api.call("conversations.invite", team.token("carol"), channel=side,
             users=team.uid("alice"))
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("carol")) as carol:
        before = _send(alice, ch, "before kick")
        carol.wait_event(lambda e: e.get("seq") == before)
        api.call("conversations.kick", team.token("alice"), channel=ch,
                 user=team.uid("carol"))
        # carol sees her own removal, then nothing of the channel
        carol.wait_event(lambda e: e.get("channel") == ch and (
            e.get("type") == "member_left_channel" or
            e.get("subtype") == "channel_leave"), timeout=10)
        after = _send(alice, ch, "after kick")
        alice.wait_event(lambda e: e.get("seq") == after and "reply_to" not in e)
        # RTM send into the channel is refused
        r = carol.request({"type": "message", "channel": ch, "text": "still here?"})
        assert r["ok"] is False and r["error"]["code"] == "channel_not_found", r
        # typing into it is not relayed
        carol.send({"type": "typing", "channel": ch})
        # resume does not replay it (the replay would come before "resumed")
        r = carol.request({"type": "resume", "last_seq": {ch: before}})
        assert r["type"] == "resumed"
        assert not carol.matching(lambda e: e.get("text") == "after kick")
        # long polling does not carry it either
        poll = api.call("events.poll", team.token("carol"),
                        json_body={"last_seq": {ch: before}, "timeout": 0})
        assert not [e for e in poll["events"] if e.get("channel") == ch], poll
        assert ch not in poll["last_seq"]
        # markers on the same paths: carol's typing in the side channel
        # reaches alice after the refused one would have...
        _typing_marker(carol, [alice], side, team.uid("carol"))
        assert not _typing_in(alice, ch), alice.events
        # ...and, invited again, carol gets a later message of the channel
        # after "after kick" would have reached her
        api.call("conversations.invite", team.token("alice"), channel=ch,
                 users=team.uid("carol"))
        parley.channel_marker(alice, carol, ch, after)
        assert not carol.matching(lambda e: e.get("text") == "after kick")


# ---- resume=1 (Parley extension): hold live events until the resume is answered

import threading

from test_gateway_limits import extra_gateway  # noqa: F401 (fixture)


class _Poster:
    """posts to a channel through the Web API, one message after another,
    until stopped; keeps the seq of every acknowledged post"""

    def __init__(self, stack, token, channel):
        self.api = parley.Api(stack.http_url)
        self.token, self.channel = token, channel
        self.seqs = []
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        i = 0
        while not self._stop.is_set():
            r = self.api.call("chat.postMessage", self.token, channel=self.channel,
                              text="storm %d" % i)
            self.seqs.append(r["message"]["seq"])
            i += 1
            time.sleep(0.01)

    def __enter__(self):
        self._t.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._t.join(15)


def _channel_seqs(ws, channel):
    return [e["seq"] for e in _msgs(ws, channel)]


def _reconnect_during_posts(stack, team, url_suffix):
    """bob reads, disconnects, misses some, reconnects (url_suffix) while
    alice keeps posting, waits until live events were posted after his
    hello, resumes; returns (last seq of the first connection, the
    channel seqs of the second, the last posted seq)"""
    ch = team.channel
    with _Poster(stack, team.token("alice"), ch) as poster:
        with Ws(stack.ws_url, team.token("bob")) as bob:
            bob.wait_events(lambda e: e.get("type") == "message" and
                            e.get("channel") == ch, 5, what="first messages")
            last = max(_channel_seqs(bob, ch))
        # missed while away, then live ones between hello and resume
        n = len(poster.seqs)
        wait_for(lambda: len(poster.seqs) >= n + 5, 15, "posts while away")
        bob = Ws(stack.ws_url + url_suffix, team.token("bob"))
        try:
            n = len(poster.seqs)
            wait_for(lambda: len(poster.seqs) >= n + 10, 15, "posts after hello")
            r = bob.request({"type": "resume", "last_seq": {ch: last}}, timeout=20)
            assert r["type"] == "resumed", r
            n = len(poster.seqs)
            wait_for(lambda: len(poster.seqs) >= n + 10, 15, "posts after resumed")
        except BaseException:
            bob.close()
            raise
    final = max(poster.seqs)
    try:
        bob.wait_event(lambda e: e.get("seq") == final and e.get("channel") == ch and
                       "reply_to" not in e, 15, what="the last post")
        return last, _channel_seqs(bob, ch), final
    finally:
        bob.close()


def test_resume_opt_in_every_seq_once_in_order(stack, team):
    last, seqs, final = _reconnect_during_posts(stack, team, "?resume=1")
    assert seqs == list(range(last + 1, final + 1)), (last, final, seqs)


def test_resume_without_opt_in_never_twice(stack, team):
    # without the flag live events come before the replay: late ones may
    # arrive after newer ones, but none twice and none lost
    last, seqs, final = _reconnect_during_posts(stack, team, "")
    assert len(seqs) == len(set(seqs)), seqs
    assert sorted(seqs) == list(range(last + 1, final + 1)), (last, final, seqs)


def test_resume_opt_in_on_rtm_connect_url(stack, team, api):
    url = api.call("rtm.connect", team.token("bob"), resume="1")["url"]
    assert url.endswith("&resume=1"), url
    ch = team.channel
    with Ws(url, None) as bob, Ws(stack.ws_url, team.token("alice")) as alice:
        seq = _send(alice, ch, "held until resumed")
        r = bob.request({"type": "resume", "last_seq": {ch: seq - 1}})
        assert r["type"] == "resumed", r
        assert _channel_seqs(bob, ch) == [seq]


def test_resume_opt_in_hold_released_without_resume(stack, team, extra_gateway):
    # one gateway process (the stack's two share a port: metrics and fan-out
    # would come from either), so bob's and alice's copies are written in
    # the same fan-out turn unless bob's is held
    gw = extra_gateway()
    ch = team.channel
    with Ws(gw.ws_url + "?resume=1", team.token("bob")) as bob, \
            Ws(gw.ws_url, team.token("alice")) as alice:
        seq = _send(alice, ch, "no resume frame")
        alice.wait_event(lambda e: e.get("seq") == seq and "reply_to" not in e)
        # a marker on bob's own socket: one gateway process wrote alice's copy
        # in a fan-out turn that would have queued bob's too, ahead of this pong
        assert bob.request({"type": "ping"})["type"] == "pong"
        assert not _msgs(bob, ch), bob.events          # held
        ev = bob.wait_event(lambda e: e.get("seq") == seq and "reply_to" not in e,
                            timeout=20, what="the held event")
        assert ev["text"] == "no resume frame"
    assert gw.metric("parley_gateway_resume_hold_expired_total") == 1


def test_resume_with_old_epoch_after_redis_flush(new_stack):
    st = new_stack(shards=1, gateways=1)
    team = parley.provision(st, users=("alice", "bob"))
    ch = team.channel
    with Ws(st.ws_url, team.token("alice")) as alice:
        seq = _send(alice, ch, "before the flush")
    with Ws(st.ws_url, team.token("bob")) as bob:
        old = bob.hello.get("epochs", {}).get(ch)
        assert isinstance(old, int) and old > 0, bob.hello
    assert parley.redis_command(st.redis_addr, "FLUSHALL").startswith("+OK")
    with Ws(st.ws_url, team.token("alice")) as alice:
        # the first append after the flush finds the channel's meta gone
        # and moves it to a new epoch; later ones carry it
        def moved():
            _send(alice, ch, "after the flush")
            with Ws(st.ws_url, team.token("bob")) as b:
                e = b.hello.get("epochs", {}).get(ch)
                return e if e and e != old else None
        new = wait_for(moved, 15, "a new epoch in hello")
    with Ws(st.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: seq}, "epoch": {ch: old}})
        assert r["type"] == "resumed", r
        rs = bob.matching(lambda e: e.get("type") == "resync_required")
        assert rs == [{"type": "resync_required", "channel": ch}], bob.events
        assert not _msgs(bob, ch), bob.events
        assert r.get("epochs", {}).get(ch) == new, r
    with Ws(st.ws_url, team.token("bob")) as bob:
        # the current epoch replays as usual
        r = bob.request({"type": "resume", "last_seq": {ch: seq}, "epoch": {ch: new}})
        assert r["type"] == "resumed", r
        assert not bob.matching(lambda e: e.get("type") == "resync_required")
        assert _msgs(bob, ch) and _msgs(bob, ch)[0]["seq"] == seq + 1, bob.events


def _log_rows(stack, ch):
    """(seq, in messages?) of the channel's log rows in PostgreSQL, any shard"""
    import psycopg
    rows = []
    for i in range(stack.shards):
        with psycopg.connect(stack.dsn(i), autocommit=True) as c:
            rows += [(s, "m") for (s,) in c.execute(
                "SELECT seq FROM messages WHERE channel_id = %s AND payload IS NOT NULL",
                (ch,))]
            rows += [(s, "e") for (s,) in c.execute(
                "SELECT seq FROM channel_events WHERE channel_id = %s", (ch,))]
    return sorted(rows)


def test_resume_replays_the_log_from_postgres(stack, team, api):
    """the recent cache of the channel is gone (its meta, so the epoch,
    stays): the replay reads PostgreSQL, where messages keep their Envelope
    in messages and edits/reactions are in channel_events, and gets them
    back as one sequence"""
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice:
        r1 = alice.request({"type": "message", "channel": ch, "text": "one"})
        r2 = alice.request({"type": "message", "channel": ch, "text": "two"})
    first = r1["seq"]
    api.call("chat.update", team.token("alice"), channel=ch, ts=r1["ts"], text="one!")
    api.call("reactions.add", team.token("bob"), channel=ch, timestamp=r2["ts"],
             name="thumbsup")
    want = list(range(first, first + 4))
    def persisted():
        rows = [r for r in _log_rows(stack, ch) if r[0] >= first]
        return rows if len(rows) == 4 else None
    rows = wait_for(persisted, 15, "the four events in PostgreSQL")
    assert rows == [(first, "m"), (first + 1, "m"), (first + 2, "e"), (first + 3, "e")]
    assert parley.redis_command(stack.redis_addr, "DEL", "{ch:%s}:recent" % ch).startswith(":1")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: first - 1}})
        assert r["type"] == "resumed", r
        assert not bob.matching(lambda e: e.get("type") == "resync_required")

        def of_ch(e):
            return "seq" in e and "reply_to" not in e and (
                e.get("channel") == ch or (e.get("item") or {}).get("channel") == ch)
        got = bob.wait_events(of_ch, 4)
        assert [e["seq"] for e in got] == want, got
        assert [e.get("text") for e in got[:2]] == ["one", "two"], got
        assert got[2].get("subtype") == "message_changed", got[2]
        assert got[3].get("type") == "reaction_added", got[3]
