"""Gateway edge: auth and Origin before the upgrade, ping/pong, bad frames,
oversize frames (1009), RTM text limit, non-member sends, rtm.connect
single-use URLs, api.test, membership removal taking effect, the ops paths
on the client port."""

import pytest
import websockets

import parley
from parley import Ws


def refused_status(url, **kw):
    try:
        ws = Ws(url, timeout=5, **kw)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code
    ws.close()
    return None


def test_auth_matrix(stack, team):
    assert refused_status(stack.ws_url, token="junk") == 401
    assert refused_status(stack.ws_url) == 401
    assert refused_status(stack.ws_url, token=team.token("alice"),
                          origin="http://evil.example") == 403
    with Ws(stack.ws_url, team.token("alice"), header=True) as ws:
        assert ws.hello["type"] == "hello"


def test_ping_and_bad_frames(stack, team):
    with Ws(stack.ws_url, team.token("alice")) as ws:
        assert ws.request({"type": "ping"})["type"] == "pong"
        ws.send({"type": "nope", "id": 77})
        err = ws.wait_event(lambda e: e.get("reply_to") == 77)
        assert err["type"] == "error" and err["error"]["code"] == "unknown_type"
        r = ws.request({"type": "message", "channel": team.channel, "text": "x" * 4001})
        assert r["ok"] is False and r["error"]["code"] == "msg_too_long", r
        r = ws.request({"type": "message", "channel": "CNOTMINE00", "text": "hi"})
        assert r["ok"] is False and r["error"]["code"] == "channel_not_found", r
        # still usable after bad input
        assert ws.request({"type": "ping"})["type"] == "pong"


def test_oversize_frame_closes_1009(stack, team):
    ws = Ws(stack.ws_url, team.token("bob"))
    ws.send({"type": "message", "channel": team.channel, "text": "y" * 17000})
    closed = ws.wait_closed(10)
    assert closed is not None and closed[0] == 1009, closed


def test_api_test_and_ops_on_client_port(stack, api):
    body = api.call("api.test", foo="bar")
    assert body == {"ok": True, "args": {"foo": "bar"}}
    assert api.raw("auth.test").json() == {"ok": False, "error": "not_authed"}
    assert api.raw("auth.test", token="junk").json()["error"] == "invalid_auth"
    assert api.session.get(stack.http_url + "/healthz", timeout=5).status_code == 200
    # /metrics is on each process's own ops port, not the shared client port
    assert api.session.get(stack.http_url + "/metrics", timeout=5).status_code == 404
    r = api.session.get(stack.ops["gateway-0"] + "/metrics", timeout=5)
    assert r.status_code == 200 and "parley_gateway_connections" in r.text


def test_rtm_connect_url_is_single_use(stack, team, api):
    body = api.call("rtm.connect", team.token("carol"))
    assert body["self"]["id"] == team.uid("carol")
    assert body["team"]["id"] and "url" in body
    ws = Ws(body["url"])
    assert ws.hello["type"] == "hello"
    ws.close()
    with pytest.raises(Exception):
        again = Ws(body["url"], timeout=5)
        again.close()


def test_leave_stops_delivery(stack, team, api):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("carol")) as carol:
        api.call("conversations.leave", team.token("carol"), channel=ch)
        r = alice.request({"type": "message", "channel": ch, "text": "after-leave"})
        assert r["ok"], r
        alice.wait_event(lambda e: e.get("type") == "message" and
                         e.get("text") == "after-leave" and "reply_to" not in e)
        # the marker takes the same path: carol joins again and a later
        # message of the channel reaches her; "after-leave" would be ahead of it
        api.call("conversations.join", team.token("carol"), channel=ch)
        parley.channel_marker(alice, carol, ch, r["seq"])
        assert not carol.matching(lambda e: e.get("text") == "after-leave")


def test_sigterm_sends_goodbye_and_1001(new_stack):
    import signal
    st = new_stack(gateways=1)
    team = parley.provision(st)
    ws = Ws(st.ws_url, team.token("alice"))
    gw = [c for c in st.children if c.name == "gateway-0"][0]
    gw.signal(signal.SIGTERM)
    ws.wait_event(lambda e: e.get("type") == "goodbye", what="goodbye")
    closed = ws.wait_closed(10)
    assert closed is not None and closed[0] == 1001, closed
    assert gw.reap(10), "gateway did not exit within the drain time"
    # the skeleton drained and stopped it, and every uv handle was closed
    assert gw.proc.returncode == 0, gw.proc.returncode
    with open(gw.log_path, errors="replace") as f:
        log = f.read().rsplit("\n=== ", 1)[-1]
    assert "DAEMON-DRAIN " in log and "DAEMON-STOP " in log, log[-2000:]
    assert "DAEMON-UV-CLOSE" not in log, log[-2000:]


def test_body_over_limit_answered_200_and_connection_kept(stack, team):
    # PROTOCOL.md: always HTTP 200 except 429. A body over PARLEY_MAX_BODY
    # (1 MiB) is read and dropped, answered request_too_large, and the same
    # keep-alive connection serves the next request
    import requests
    s = requests.Session()
    tok = team.token("alice")
    r = s.post(stack.http_url + "/api/chat.postMessage",
               headers={"Authorization": "Bearer " + tok},
               data={"channel": team.channel, "text": "x" * (3 << 20)}, timeout=20)
    assert r.status_code == 200, (r.status_code, r.text[:200])
    assert r.json() == {"ok": False, "error": "request_too_large"}
    r = s.post(stack.http_url + "/api/auth.test",
               headers={"Authorization": "Bearer " + tok}, timeout=10)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


def test_body_declared_far_over_limit_answered_then_closed(stack):
    # a Content-Length beyond what the gateway will read and drop (64 MiB)
    # is answered at once, without reading the body, and the socket closed
    import socket
    port = int(stack.http_url.rsplit(":", 1)[1])
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(b"POST /api/api.test HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Type: application/x-www-form-urlencoded\r\n"
                  b"Content-Length: 1000000000\r\n\r\nabc")
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:300]
    assert b'"request_too_large"' in body, data[:300]
    assert not stack.dead_children()
