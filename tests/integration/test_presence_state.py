"""Presence as a client sees it (issue #12, docs/presence.md): the current
state on presence_sub, manual away (users.setPresence) durable across
reconnects and a Redis flush, the reconnect grace (no flap), auto-away and
activity, events.poll clients present, users.getPresence, DND events.

Most tests share one private stack with a 2 s heartbeat, ttl 3 s (1.5x),
a 500 ms sweep (so a dead gateway's users go away within ttl + sweep =
3.5 s, under two heartbeats) and a 1.5 s reconnect grace. Events of one team share a
partition of parley.presence (key = team), so they arrive in the order
presence-svc published them: a later expected event of the same team is the
marker that an earlier unexpected one would have arrived. For a connection
that must see nothing, a ping after the marker reached another connection
of the same gateway is the marker: its pong is written after anything the
fan-out had queued on it."""
import os
import signal
import time

import pytest

import conftest
import parley
from parley import Ws, wait_for
from test_gateway_limits import ExtraGateway

ENV = dict(conftest.TEST_ENV, PARLEY_HEARTBEAT_MS="2000", PARLEY_PRESENCE_TTL_MS="3000",
           PARLEY_PRESENCE_SWEEP_MS="500", PARLEY_PRESENCE_GRACE_MS="1500")


@pytest.fixture(scope="module")
def pst():
    st = conftest.start_stack(prefix="parley-it-presence-", extra_env=ENV, gateways=1)
    yield st
    conftest.stop_stack(st)


@pytest.fixture
def pteam(pst):
    return parley.provision(pst, users=("alice", "bob", "carol", "dave"))


def ps_metric(st, family, **labels):
    return parley.daemon_metric(st, "presence-svc", family, **labels)


def changes(ws, user):
    """presence_change events about user, single or batched, in order"""
    out = []
    for e in ws.events:
        if e.get("type") != "presence_change":
            continue
        if e.get("user") == user or user in e.get("users", []):
            out.append(e["presence"])
    return out


def wait_change(ws, user, presence, timeout=15):
    return ws.wait_event(lambda e: e.get("type") == "presence_change" and
                         (e.get("user") == user or user in e.get("users", [])) and
                         e.get("presence") == presence, timeout,
                         what="presence_change %s %s" % (user, presence))


def wait_batch(ws, presence, timeout=15):
    """the next batched presence_change (presence_sub / presence_query)"""
    return ws.wait_event(lambda e: e.get("type") == "presence_change" and "users" in e and
                         e.get("presence") == presence, timeout,
                         what="a batched presence_change %s" % presence)


def batches(ws):
    """the batched presence_change frames ws got, in order"""
    return ws.matching(lambda e: e.get("type") == "presence_change" and "users" in e)


def flushed(ws):
    """a ping answered: whatever was queued on ws before has been read"""
    assert ws.request({"type": "ping"})["type"] == "pong"


def get_presence(st, team, who, user=None):
    kw = {"user": user} if user else {}
    return parley.Api(st.http_url).call("users.getPresence", team.token(who), **kw)


def set_presence(st, team, who, presence):
    return parley.Api(st.http_url).call("users.setPresence", team.token(who),
                                        presence=presence)


def online(st, team, who):
    """wait until presence-svc counts who's connection(s)"""
    wait_for(lambda: get_presence(st, team, who)["connection_count"] >= 1, 15,
             "%s online at presence-svc" % who)


def test_sub_batch_then_active_away_active(pst, pteam):
    alice, carol, dave_id = pteam.uid("alice"), pteam.uid("carol"), pteam.uid("dave")
    other = parley.provision(pst, users=("eve",), channel=None)
    eve_id = other.uid("eve")
    with Ws(pst.ws_url, pteam.token("carol")), \
            Ws(pst.ws_url, pteam.token("dave")) as dave, \
            Ws(pst.ws_url, other.token("eve")) as eve:
        # carol's and eve's "active" have passed the gateway (a change
        # delivered while a subscriber's batch is out leaves its user out
        # of the batch: the live event said it)
        dave.send({"type": "presence_sub", "ids": [carol]})
        eve.send({"type": "presence_sub", "ids": [eve_id]})
        wait_for(lambda: changes(dave, carol) == ["active"], 15, "carol active at dave")
        wait_for(lambda: changes(eve, eve_id) == ["active"], 15, "eve active at eve")
        with Ws(pst.ws_url, pteam.token("bob")) as bob:
            bob.send({"type": "presence_sub", "ids": [alice, carol]})
            # at once: one batch of the current states (alice never seen: left out)
            first = wait_change(bob, carol, "active")
            assert first == {"type": "presence_change", "presence": "active",
                             "users": [carol]}, first
            # another team's user asks for the same ids (and herself, the
            # marker): nothing of this team
            n = len(batches(eve))
            eve.send({"type": "presence_sub", "ids": [alice, carol, eve_id]})
            wait_for(lambda: len(batches(eve)) > n, 15, "eve's batch")
            assert batches(eve)[-1]["users"] == [eve_id], eve.events
            # dave watches himself only now: not alice
            dave.send({"type": "presence_sub", "ids": [dave_id]})
            flushed(dave)
            with Ws(pst.ws_url, pteam.token("alice")):
                wait_change(bob, alice, "active")
                set_presence(pst, pteam, "alice", "away")
                wait_change(bob, alice, "away")
                set_presence(pst, pteam, "alice", "auto")
                wait_change(bob, alice, "active")
                assert changes(bob, alice) == ["active", "away", "active"], bob.events
                flushed(eve)
                flushed(dave)
                assert changes(eve, alice) == [] and changes(eve, carol) == [], eve.events
                assert changes(dave, alice) == [], dave.events
                # eve's own query of the other team's users: herself only
                n = len(batches(eve))
                eve.send({"type": "presence_query", "ids": [alice, carol, eve_id]})
                wait_for(lambda: len(batches(eve)) > n, 15, "eve's query")
                assert batches(eve)[-1]["users"] == [eve_id], eve.events
                assert changes(eve, alice) == [] and changes(eve, carol) == [], eve.events
                # bob's one-off query: both active now, one batch
                bob.send({"type": "presence_query", "ids": [carol, alice]})
                q = bob.wait_event(lambda e: e.get("type") == "presence_change" and
                                   len(e.get("users", [])) == 2)
                assert q == {"type": "presence_change", "presence": "active",
                             "users": [carol, alice]}, q


def test_get_presence_shape_and_errors(pst, pteam):
    other = parley.provision(pst, users=("eve",), channel=None)
    with Ws(pst.ws_url, pteam.token("alice")), Ws(pst.ws_url, pteam.token("alice")):
        wait_for(lambda: get_presence(pst, pteam, "alice")["connection_count"] == 2, 15,
                 "two connections counted")
        me = get_presence(pst, pteam, "alice")
        assert me["presence"] == "active" and me["online"] is True, me
        assert me["auto_away"] is False and me["manual_away"] is False, me
        assert abs(me["last_activity"] - time.time()) < 3600, me
        # someone else: only presence (Slack's shape)
        theirs = get_presence(pst, pteam, "bob", user=pteam.uid("alice"))
        assert theirs == {"ok": True, "presence": "active"}, theirs
        # another team's user is not found; a bad id neither
        with Ws(pst.ws_url, other.token("eve")):
            online(pst, other, "eve")
            r = parley.Api(pst.http_url).call("users.getPresence", pteam.token("bob"),
                                              check=False, user=other.uid("eve"))
            assert r == {"ok": False, "error": "user_not_found"}, r
        r = parley.Api(pst.http_url).call("users.getPresence", pteam.token("bob"),
                                          check=False, user="U|x")
        assert r["error"] == "user_not_found", r
        r = parley.Api(pst.http_url).call("users.setPresence", pteam.token("bob"),
                                          check=False, presence="busy")
        assert r == {"ok": False, "error": "invalid_presence"}, r
        r = parley.Api(pst.http_url).call("users.setActive", pteam.token("bob"))
        assert r == {"ok": True}, r


def test_manual_away_survives_reconnect_and_shows_on_every_session(pst, pteam):
    alice = pteam.uid("alice")
    with Ws(pst.ws_url, pteam.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [alice]})
        flushed(bob)
        a1 = Ws(pst.ws_url, pteam.token("alice"))
        a2 = Ws(pst.ws_url, pteam.token("alice"))
        wait_change(bob, alice, "active")
        set_presence(pst, pteam, "alice", "away")
        for a in (a1, a2):
            a.wait_event(lambda e: e == {"type": "manual_presence_change",
                                         "presence": "away"})
        wait_change(bob, alice, "away")
        a1.close()
        a2.close()
        wait_for(lambda: get_presence(pst, pteam, "alice")["online"] is False, 15,
                 "alice offline")
        with Ws(pst.ws_url, pteam.token("alice")) as a3:
            online(pst, pteam, "alice")
            me = get_presence(pst, pteam, "alice")
            assert me["presence"] == "away" and me["manual_away"] is True, me
            a3.send({"type": "presence_query", "ids": [alice]})
            assert wait_batch(a3, "away")["users"] == [alice]
            # the marker: back to auto; nothing came between away and active
            set_presence(pst, pteam, "alice", "auto")
            a3.wait_event(lambda e: e == {"type": "manual_presence_change",
                                          "presence": "active"})
            wait_change(bob, alice, "active")
            assert changes(bob, alice) == ["active", "away", "active"], bob.events


def test_reconnect_within_grace_changes_nothing(pst, pteam):
    alice, carol = pteam.uid("alice"), pteam.uid("carol")
    with Ws(pst.ws_url, pteam.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [alice, carol]})
        flushed(bob)
        a = Ws(pst.ws_url, pteam.token("alice"))
        c = Ws(pst.ws_url, pteam.token("carol"))
        wait_change(bob, alice, "active")
        wait_change(bob, carol, "active")
        back0 = ps_metric(pst, "parley_presence_grace_reconnects_total")
        a.close()
        a = Ws(pst.ws_url, pteam.token("alice"))
        wait_for(lambda: ps_metric(pst, "parley_presence_grace_reconnects_total") > back0,
                 15, "the reconnect seen within the grace")
        # every grace started so far (alice's among them) has ended and was
        # checked (they end in the order they started) ...
        started = ps_metric(pst, "parley_presence_grace_total")
        wait_for(lambda: ps_metric(pst, "parley_presence_grace_ended_total") >= started,
                 15, "the grace ended")
        # ... and a later change of the same team is the marker
        set_presence(pst, pteam, "carol", "away")
        wait_change(bob, carol, "away")
        assert changes(bob, alice) == ["active"], bob.events
        # a clean disconnect without a reconnect: away once the grace is over
        a.close()
        wait_change(bob, alice, "away")
        assert changes(bob, alice) == ["active", "away"], bob.events
        c.close()
    set_presence(pst, pteam, "carol", "auto")


def test_redis_flush_repairs_within_a_heartbeat(pst, pteam):
    import redis
    host, port = pst.redis_addr.split(":")
    alice = pteam.uid("alice")
    dave = pteam.uid("dave")
    with Ws(pst.ws_url, pteam.token("alice")), Ws(pst.ws_url, pteam.token("carol")), \
            Ws(pst.ws_url, pteam.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [dave]})
        flushed(bob)
        d = Ws(pst.ws_url, pteam.token("dave"))
        wait_change(bob, dave, "active")
        online(pst, pteam, "alice")
        online(pst, pteam, "carol")
        set_presence(pst, pteam, "carol", "away")
        bob.send({"type": "presence_sub", "ids": [alice, pteam.uid("carol"), dave]})
        wait_change(bob, alice, "active")
        r = redis.Redis(host=host, port=int(port))
        r.flushall()
        r.script_flush()        # presence-svc's EVALSHA meets NOSCRIPT: EVAL again
        # dave leaves before his next heartbeat put him back: still away
        d.close()
        wait_change(bob, dave, "away")
        # the next heartbeat puts the sessions back; manual away comes back
        # from PostgreSQL, so carol never shows active
        wait_for(lambda: get_presence(pst, pteam, "alice")["connection_count"] == 1, 15,
                 "alice's session back after the flush")
        wait_for(lambda: get_presence(pst, pteam, "carol")["connection_count"] == 1, 15,
                 "carol's session back after the flush")
        me = get_presence(pst, pteam, "carol")
        assert me["presence"] == "away" and me["manual_away"] is True, me
        assert get_presence(pst, pteam, "alice")["presence"] == "active"
        set_presence(pst, pteam, "carol", "auto")
        wait_change(bob, pteam.uid("carol"), "active")
        assert "active" not in changes(bob, pteam.uid("carol"))[:-1], bob.events


def test_poll_client_is_present(pst, pteam):
    alice = pteam.uid("alice")
    api = parley.Api(pst.http_url)
    with Ws(pst.ws_url, pteam.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [alice]})
        flushed(bob)
        api.call("events.poll", pteam.token("alice"), json_body={"timeout": 0})
        wait_change(bob, alice, "active")
        me = get_presence(pst, pteam, "alice")
        assert me["online"] is True and me["connection_count"] == 1, me
        # no more polls: gone after ttl, like a dead socket
        wait_change(bob, alice, "away")


def _dnd_envelope(team, user, enabled, end_ts):
    """an Envelope DND_UPDATED (28) with a Dnd body (16), as notify-svc
    will produce it (proto/parley.proto)"""
    def varint(n):
        out = b""
        while True:
            b = n & 0x7F
            n >>= 7
            if n:
                out += bytes([b | 0x80])
            else:
                return out + bytes([b])

    def key(field, wt):
        return varint(field << 3 | wt)

    def s(field, v):
        v = v.encode()
        return key(field, 2) + varint(len(v)) + v

    def i(field, v):
        return key(field, 0) + varint(v)
    dnd = s(1, user) + s(2, team) + i(3, 1 if enabled else 0) + i(4, 1) + i(5, end_ts)
    return (i(1, 28) + i(2, 1) + s(3, "dnd-test-%d" % time.time_ns()) +
            i(4, int(time.time() * 1e6)) + s(5, team) + key(16, 2) + varint(len(dnd)) + dnd)


def test_dnd_updated_to_own_sessions_and_watchers(pst, pteam):
    from kafka import KafkaProducer
    alice = pteam.uid("alice")
    brokers = open(pst.brokers_file).read().strip()
    p = KafkaProducer(bootstrap_servers=brokers.split(","), acks="all", retries=0,
                      linger_ms=0)
    try:
        with Ws(pst.ws_url, pteam.token("alice")) as a, \
                Ws(pst.ws_url, pteam.token("bob")) as bob, \
                Ws(pst.ws_url, pteam.token("carol")) as carol:
            bob.send({"type": "presence_sub", "ids": [alice]})
            flushed(bob)
            flushed(carol)
            p.send("parley.events", key=pteam.id.encode(),
                   value=_dnd_envelope(pteam.id, alice, True, 1900000000)).get(30)
            own = a.wait_event(lambda e: e.get("type") == "dnd_updated")
            assert own == {"type": "dnd_updated", "user": alice, "dnd_status": {
                "dnd_enabled": True, "next_dnd_start_ts": 1, "next_dnd_end_ts": 1900000000,
                "snooze_enabled": False, "snooze_endtime": 0}}, own
            seen = bob.wait_event(lambda e: e.get("type") == "dnd_updated_user")
            assert seen == {"type": "dnd_updated_user", "user": alice, "dnd_status": {
                "dnd_enabled": True, "next_dnd_start_ts": 1,
                "next_dnd_end_ts": 1900000000}}, seen
            flushed(carol)      # bob got it on this gateway: carol's would be queued
            assert not carol.matching(lambda e: e.get("type", "").startswith("dnd_")), \
                carol.events
            assert not bob.matching(lambda e: e.get("type") == "dnd_updated")
    finally:
        p.close(5)


def test_auto_away_after_inactivity_and_back_on_activity(new_stack):
    st = new_stack(extra_env=dict(ENV, PARLEY_AUTO_AWAY_S="2"), gateways=1)
    team = parley.provision(st)
    alice = team.uid("alice")
    with Ws(st.ws_url, team.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [alice]})
        flushed(bob)
        with Ws(st.ws_url, team.token("alice")) as a:
            wait_change(bob, alice, "active")
            # heartbeats go on (1 s), yet no activity: auto away
            wait_change(bob, alice, "away")
            me = get_presence(st, team, "alice")
            assert me["online"] and me["auto_away"] and not me["manual_away"], me
            assert ps_metric(st, "parley_presence_reports_total", type="heartbeat") >= 1
            a.send({"type": "user_active"})
            wait_change(bob, alice, "active")
            wait_change(bob, alice, "away")
            # a sent message is activity
            a.request({"type": "message", "channel": team.channel, "text": "hi"})
            wait_change(bob, alice, "active")
            wait_change(bob, alice, "away")
            parley.Api(st.http_url).call("users.setActive", team.token("alice"))
            wait_change(bob, alice, "active")
            assert changes(bob, alice) == ["active", "away"] * 3 + ["active"], bob.events
        assert ps_metric(st, "parley_presence_auto_away_total") >= 3


def test_gateway_sigkill_takes_its_users_away_despite_the_grace(pst, pteam):
    """no disconnect comes from a killed gateway: its sessions expire (ttl
    after their last heartbeat), the reconnect grace does not apply"""
    alice = pteam.uid("alice")
    gw = ExtraGateway(pst, "gateway-doomed-%d" % os.getpid(), {})
    try:
        with Ws(pst.ws_url, pteam.token("bob")) as bob:
            bob.send({"type": "presence_sub", "ids": [alice]})
            flushed(bob)
            a = Ws(gw.ws_url, pteam.token("alice"))
            wait_change(bob, alice, "active")
            beats0 = ps_metric(pst, "parley_presence_reports_total", type="heartbeat")
            wait_for(lambda: ps_metric(pst, "parley_presence_reports_total", type="heartbeat")
                     >= beats0 + 2, 20, "heartbeats", interval=0.2)
            expired0 = ps_metric(pst, "parley_presence_expired_total")
            graces0 = ps_metric(pst, "parley_presence_grace_total")
            gw.child.signal(signal.SIGKILL)
            assert gw.child.reap(10)
            wait_change(bob, alice, "away", timeout=20)
            assert changes(bob, alice) == ["active", "away"], bob.events
            assert ps_metric(pst, "parley_presence_expired_total") >= expired0 + 1
            assert ps_metric(pst, "parley_presence_grace_total") == graces0
            a.close()
    finally:
        gw.stop()


def test_user_active_spam_is_bounded_per_connection(pst, pteam):
    """a client sending user_active in a loop reaches presence-svc at most
    once a second (the gateway's per-connection bound), so it cannot crowd
    out heartbeats; a typing frame sent after the burst is the marker (the
    reports of one gateway travel one push socket, in order)"""
    with Ws(pst.ws_url, pteam.token("alice")) as a:
        online(pst, pteam, "alice")
        act0 = ps_metric(pst, "parley_presence_reports_total", type="activity")
        typ0 = ps_metric(pst, "parley_presence_reports_total", type="typing")
        t0 = time.monotonic()
        for _ in range(300):
            a.send({"type": "user_active"})
        a.send({"type": "typing", "channel": pteam.channel})
        flushed(a)
        elapsed = time.monotonic() - t0
        wait_for(lambda: ps_metric(pst, "parley_presence_reports_total", type="typing")
                 >= typ0 + 1, 15, "the typing marker at presence-svc")
        got = ps_metric(pst, "parley_presence_reports_total", type="activity") - act0
        assert 1 <= got <= 1 + int(elapsed), (got, elapsed)


def test_presence_queries_are_bounded_per_connection(pst, pteam):
    """presence_sub / presence_query cost one look-up per id at presence-svc:
    a connection has a bucket of 1,000 users, refilled at 100 a second
    (PARLEY_RATE_PRESENCE_QUERY); past it the frame is refused with
    rate_limited and retry_after, and nothing is asked"""
    ids = ["UQ%08d" % i for i in range(500)]
    with Ws(pst.ws_url, pteam.token("alice")) as a:
        rpc0 = ps_metric(pst, "parley_presence_queried_users_total")
        a.send({"type": "presence_query", "ids": ids, "id": 899})
        a.send({"type": "presence_query", "ids": ids, "id": 900})
        a.send({"type": "presence_sub", "ids": ids, "id": 901})
        err = a.wait_event(lambda e: e.get("type") == "error" and e.get("reply_to") == 901)
        assert err["error"]["code"] == "rate_limited" and err["retry_after"] >= 1, err
        assert not a.matching(lambda e: e.get("reply_to") in (899, 900)), a.events
        wait_for(lambda: ps_metric(pst, "parley_presence_queried_users_total") >= rpc0 + 1000,
                 15, "two queries of 500 at presence-svc")
