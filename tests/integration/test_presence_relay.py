"""presence-svc relays typing and presence (DESIGN.md "Presence and typing",
docs/presence.md): typing is throttled to one user_typing per (user,
channel) per 3 s across sockets; presence_change "away" comes when the last
socket of a user closes, and when the gateway holding it dies (SIGKILL),
through expiry in Redis.

Events of one team share a partition of parley.presence (key = team), so
they arrive in the order presence-svc published them: a later expected
event is the marker that an earlier unexpected one would have arrived."""
import os
import signal

import conftest
import parley
from parley import Ws, wait_for
from test_gateway_limits import ExtraGateway, extra_gateway  # noqa: F401 (fixture)


def ps_metric(st, family, **labels):
    return parley.daemon_metric(st, "presence-svc", family, **labels)


def _typing(ws, user):
    return ws.matching(lambda e: e.get("type") == "user_typing" and e.get("user") == user)


def _presence(ws, user):
    return [e["presence"] for e in ws.events
            if e.get("type") == "presence_change" and e.get("user") == user]


def test_typing_throttled_across_sockets(stack, team, extra_gateway):
    # the extra gateway forwards every typing frame (no per-socket limit), so
    # only presence-svc's (user, channel) throttle stands between them and bob
    gw = extra_gateway(PARLEY_RATE_TYPING_MS=0)
    alice_id = team.uid("alice")
    reports0 = ps_metric(stack, "parley_presence_reports_total", type="typing")
    throttled0 = ps_metric(stack, "parley_presence_typing_throttled_total")
    with Ws(stack.ws_url, team.token("bob")) as bob, \
            Ws(gw.ws_url, team.token("alice")) as a1, \
            Ws(stack.ws_url, team.token("alice")) as a2:
        for _ in range(5):
            a1.send({"type": "typing", "channel": team.channel})
        a2.send({"type": "typing", "channel": team.channel})
        bob.wait_event(lambda e: e.get("type") == "user_typing" and e.get("user") == alice_id)
        wait_for(lambda: ps_metric(stack, "parley_presence_reports_total", type="typing")
                 >= reports0 + 6, 10, "6 typing reports at presence-svc")
        assert ps_metric(stack, "parley_presence_typing_throttled_total") >= throttled0 + 5
        # after the window a new frame passes; it is the marker that any
        # wrongly published one from the burst would already be here
        wait_for(lambda: (a1.send({"type": "typing", "channel": team.channel}) or True) and
                 len(_typing(bob, alice_id)) >= 2, 15, "a second user_typing after 3 s",
                 interval=0.5)
        got = _typing(bob, alice_id)
        assert len(got) == 2, got
        assert got[0] == {"type": "user_typing", "channel": team.channel, "user": alice_id}


def test_presence_away_when_last_socket_closes(stack, team):
    alice_id = team.uid("alice")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [alice_id]})
        assert bob.request({"type": "ping"})["type"] == "pong"
        first = Ws(stack.ws_url, team.token("alice"))
        second = Ws(stack.ws_url, team.token("alice"))
        bob.wait_event(lambda e: e.get("type") == "presence_change" and
                       e.get("user") == alice_id, timeout=15)
        drops0 = ps_metric(stack, "parley_presence_reports_total", type="disconnect")
        first.close()
        # presence-svc has seen the first close before the second one
        wait_for(lambda: ps_metric(stack, "parley_presence_reports_total", type="disconnect")
                 >= drops0 + 1, 10, "the first disconnect at presence-svc")
        second.close()
        wait_for(lambda: "away" in _presence(bob, alice_id), 15, "presence away")
        # one active for two sockets, one away after the last: nothing between
        assert _presence(bob, alice_id) == ["active", "away"], bob.events


def test_presence_away_after_gateway_sigkill(new_stack):
    env = dict(conftest.TEST_ENV, PARLEY_HEARTBEAT_MS="1000",
               PARLEY_PRESENCE_TTL_MS="2500", PARLEY_PRESENCE_SWEEP_MS="500")
    st = new_stack(extra_env=env, gateways=1)
    team = parley.provision(st)
    alice_id = team.uid("alice")
    gw = ExtraGateway(st, "gateway-doomed-%d" % os.getpid(), {})
    try:
        with Ws(st.ws_url, team.token("bob")) as bob:
            bob.send({"type": "presence_sub", "ids": [alice_id]})
            assert bob.request({"type": "ping"})["type"] == "pong"
            alice = Ws(gw.ws_url, team.token("alice"))
            bob.wait_event(lambda e: e.get("type") == "presence_change" and
                           e.get("user") == alice_id, timeout=15)
            # heartbeats keep her present past several ttls
            beats0 = ps_metric(st, "parley_presence_reports_total", type="heartbeat")
            wait_for(lambda: ps_metric(st, "parley_presence_reports_total", type="heartbeat")
                     >= beats0 + 6, 20, "6 heartbeats", interval=0.2)
            assert _presence(bob, alice_id) == ["active"], bob.events
            assert ps_metric(st, "parley_presence_expired_total") == 0
            gw.child.signal(signal.SIGKILL)
            assert gw.child.reap(10)
            wait_for(lambda: "away" in _presence(bob, alice_id), 20,
                     "presence away after the gateway died")
            assert _presence(bob, alice_id) == ["active", "away"], bob.events
            assert ps_metric(st, "parley_presence_expired_total") >= 1
            alice.close()
    finally:
        gw.stop()
