"""Channels new to a gateway: a DM, a group DM or a new private channel
becomes known to the gateway through parley.events (CHANNEL_CREATED with its
members, MEMBER_JOINED), while its messages come on parley.messages. The
first message must reach every connected member live, on every gateway, and
nobody else (gateway/members.c: the lazy membership look-up when a message
arrives before the membership event)."""
import parley
from parley import Ws
from test_gateway_limits import extra_gateway  # noqa: F401 (fixture)


def _is(ts):
    return lambda e: e.get("type") == "message" and e.get("ts") == ts


def _post(api, tok, ch, text):
    return api.call("chat.postMessage", tok, channel=ch, text=text)


def _fence(api, t, ws_list):
    """a message in the team's public channel, seen by every ws: everything
    the gateways consumed before it has been delivered"""
    m = _post(api, t.token("v1"), t.channel, "fence")
    for ws in ws_list:
        ws.wait_event(_is(m["ts"]))


def test_first_dm_message_live_on_both_gateways(stack, api, extra_gateway):
    gw = extra_gateway()
    t = parley.provision(stack, users=("v1", "v2", "v3"), channel="pub")
    a = Ws(gw.ws_url, t.token("v1"))
    b = Ws(stack.ws_url, t.token("v2"))
    outsider = Ws(gw.ws_url, t.token("v3"))
    try:
        d = api.call("conversations.open", t.token("v1"), users=t.uid("v2"))["channel"]
        m = _post(api, t.token("v1"), d["id"], "first dm message")
        got_a = a.wait_event(_is(m["ts"]))
        got_b = b.wait_event(_is(m["ts"]))
        assert got_a["channel"] == got_b["channel"] == d["id"]
        # the next ones too, in seq order
        m2 = _post(api, t.token("v2"), d["id"], "second")
        assert b.wait_event(_is(m2["ts"]))["seq"] == got_b["seq"] + 1
        assert a.wait_event(_is(m2["ts"]))["seq"] == got_a["seq"] + 1
        _fence(api, t, [a, b, outsider])
        assert not outsider.matching(lambda e: e.get("channel") == d["id"])
    finally:
        for w in (a, b, outsider):
            w.close()


def test_first_group_dm_message_reaches_every_member(stack, api, extra_gateway):
    gw = extra_gateway()
    t = parley.provision(stack, users=("v1", "v2", "v3", "v4"), channel="pub")
    conns = {"v2": Ws(gw.ws_url, t.token("v2")), "v3": Ws(stack.ws_url, t.token("v3")),
             "v4": Ws(gw.ws_url, t.token("v4"))}
    try:
        g = api.call("conversations.open", t.token("v1"),
                     users="%s,%s" % (t.uid("v2"), t.uid("v3")))["channel"]
        m = _post(api, t.token("v1"), g["id"], "group hello")
        for name in ("v2", "v3"):
            assert conns[name].wait_event(_is(m["ts"]))["channel"] == g["id"]
        _fence(api, t, list(conns.values()))
        assert not conns["v4"].matching(lambda e: e.get("channel") == g["id"])
    finally:
        for w in conns.values():
            w.close()


def test_new_private_channel_first_message_reaches_creator(stack, api, extra_gateway):
    gw = extra_gateway()
    t = parley.provision(stack, users=("v1", "v2"), channel="pub")
    a = Ws(gw.ws_url, t.token("v1"))
    other = Ws(gw.ws_url, t.token("v2"))
    try:
        ch = api.call("conversations.create", t.token("v1"), name=parley.unique("priv-"),
                      is_private="true")["channel"]
        m = _post(api, t.token("v1"), ch["id"], "first private")
        assert a.wait_event(_is(m["ts"]))["channel"] == ch["id"]
        _fence(api, t, [a, other])
        assert not other.matching(lambda e: e.get("channel") == ch["id"])
    finally:
        a.close()
        other.close()


def test_message_before_membership_event_is_held_and_delivered(stack, api, extra_gateway):
    """the race, forced: this gateway applies parley.events 3 s late
    (PARLEY_TEST_EVENTS_LAG_MS), so the DM's messages arrive long before the
    CHANNEL_CREATED / MEMBER_JOINED that would subscribe v2; the gateway must
    look the members up and deliver in order, to members only"""
    gw = extra_gateway(PARLEY_TEST_EVENTS_LAG_MS=3000)
    t = parley.provision(stack, users=("v1", "v2", "v3"), channel="pub")
    b = Ws(gw.ws_url, t.token("v2"))
    outsider = Ws(gw.ws_url, t.token("v3"))
    try:
        d = api.call("conversations.open", t.token("v1"), users=t.uid("v2"))["channel"]
        ms = [_post(api, t.token("v1"), d["id"], "early %d" % i) for i in range(3)]
        got = [b.wait_event(_is(m["ts"])) for m in ms]
        assert [e["seq"] for e in got] == [got[0]["seq"] + i for i in range(3)]
        assert gw.metric("parley_gateway_member_lookups_total", result="ok") >= 1
        # the late membership events change nothing for the outsider
        b.wait_event(lambda e: e.get("type") == "member_joined_channel" and
                     e.get("channel") == d["id"], timeout=15)
        _fence(api, t, [b, outsider])
        assert not outsider.matching(lambda e: e.get("channel") == d["id"])
    finally:
        b.close()
        outsider.close()
