"""rtm.connect (issue #6): Slack's response shape, a WebSocket URL that
works once, then is refused; events arrive on it. URL expiry (30 s) is tested
in test_webapi_ratelimit.py's private stack with PARLEY_TICKET_TTL_S=2."""
import urllib.parse

import pytest

import parley
import webapi_helpers as W
from webapi_helpers import err, ok


def rtm_connect(stack, tok, **kw):
    b = ok(stack, "rtm.connect", tok, **kw)
    W.check_types(b, {"url": str, "team": dict, "self": dict}, "rtm.connect")
    W.check_types(b["team"], {"id": str, "name": str, "domain": str}, "rtm.connect.team")
    W.check_types(b["self"], {"id": str, "name": str}, "rtm.connect.self")
    return b


def ws_refused(url, timeout=10):
    """connecting to url fails (HTTP refusal of the upgrade, or a close before hello)"""
    try:
        ws = parley.Ws(url, timeout=timeout, expect_hello=False)
    except Exception as e:      # websockets.InvalidStatusCode and friends
        return "refused: %s" % e
    try:
        closed = ws.wait_closed(timeout)
        hellos = ws.matching(lambda e: e.get("type") == "hello")
        if closed is not None and not hellos:
            return "closed %s" % (closed,)
        return None
    finally:
        ws.close()


@pytest.mark.parametrize("via", ["form", "get", "json"])
def test_rtm_connect_shape(stack, team, via):
    a = W.web(stack, "rtm.connect", team.token("alice"), via=via)
    assert a.status == 200 and a.body["ok"] is True, a
    b = a.body
    W.check_types(b, {"url": str, "team": dict, "self": dict}, "rtm.connect")
    assert b["team"]["id"] == team.id and b["team"]["name"] == team.name, b
    assert b["self"]["id"] == team.uid("alice") and b["self"]["name"] == "alice", b
    u = urllib.parse.urlsplit(b["url"])
    assert u.scheme == "ws" and u.netloc == "127.0.0.1:%d" % stack.http_port, b["url"]
    assert u.path == "/ws", b["url"]
    assert team.token("alice") not in b["url"], "the url must not carry the token"


def test_rtm_connect_url_works_once(stack, team):
    b = rtm_connect(stack, team.token("bob"))
    with parley.Ws(b["url"]) as ws:
        assert ws.hello["type"] == "hello"
        # the session is bob's: a message posted by alice reaches it
        p = W.post(stack, team.token("alice"), team.channel, "to rtm")
        ev = ws.wait_event(lambda e: e.get("type") == "message" and e.get("ts") == p["ts"])
        assert ev["channel"] == team.channel and ev["user"] == team.uid("alice")
        assert ev["text"] == "to rtm" and isinstance(ev["seq"], int)
        # and it can send
        r = ws.request({"type": "message", "channel": team.channel, "text": "from rtm"})
        assert r.get("ok") is True and W.is_ts(r.get("ts")), r
        # a second connection with the same url is refused, while the first is open
        why = ws_refused(b["url"])
        assert why, "the rtm.connect url worked a second time"
    why = ws_refused(b["url"])
    assert why, "the rtm.connect url worked again after the first session closed"


def test_rtm_connect_urls_are_distinct(stack, team):
    urls = {rtm_connect(stack, team.token("carol"))["url"] for _ in range(5)}
    assert len(urls) == 5
    for u in urls:
        with parley.Ws(u) as ws:
            assert ws.hello["type"] == "hello"


def test_rtm_connect_forged_or_altered_ticket(stack, team):
    b = rtm_connect(stack, team.token("alice"))
    u = urllib.parse.urlsplit(b["url"])
    q = urllib.parse.parse_qs(u.query)
    assert q, "the url carries its one-time ticket in the query: %r" % b["url"]
    key = sorted(q)[0]
    val = q[key][0]
    bad = val[:-3] + ("AAA" if not val.endswith("AAA") else "BBB")
    url = "%s://%s%s?%s" % (u.scheme, u.netloc, u.path, urllib.parse.urlencode({key: bad}))
    assert ws_refused(url), "an altered ticket was accepted"
    url = "%s://%s%s?%s" % (u.scheme, u.netloc, u.path,
                            urllib.parse.urlencode({key: "nonsense"}))
    assert ws_refused(url)
    # the genuine one still works (the forgeries did not consume it)
    with parley.Ws(b["url"]) as ws:
        assert ws.hello["type"] == "hello"


def test_rtm_connect_errors(stack):
    assert err(stack, "rtm.connect", None) == "not_authed"
    assert err(stack, "rtm.connect", "bad-token") == "invalid_auth"


def test_ws_without_credentials_is_refused(stack):
    assert ws_refused(stack.ws_url)
    assert ws_refused(stack.ws_url + "?token=bad-token")
