"""Request parsing bounds and the connection budget of the gateway (#10
items 2, 3 and 7), against extra gateway processes on the session stack:
parameter caps before authentication, the token checked before the accept
bucket is charged, per-user and per-IP connection caps (with 127.x.y.z
source addresses and loopback made non-exempt), trusted proxies and the
PROXY protocol (v1 and v2 headers sent by the test), and lws header slots
not held by slow or held HTTP requests."""
import json
import socket
import struct
import time

import pytest

import parley
from parley import Ws, wait_for
from test_gateway_limits import extra_gateway, mint_token, upgrade_status  # noqa: F401


# ---- helpers

def raw_request(port, data, src="127.0.0.1", timeout=10):
    """send data from source address src; the whole answer until close or
    a complete response (Content-Length), b'' when refused/closed"""
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((src, 0))
    s.connect(("127.0.0.1", port))
    try:
        s.sendall(data)
        return read_response(s)
    finally:
        s.close()


def read_response(s):
    buf = b""
    while True:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return buf
        if not chunk:
            return buf
        buf += chunk
        if b"\r\n\r\n" in buf:
            head, body = buf.split(b"\r\n\r\n", 1)
            for line in head.split(b"\r\n")[1:]:
                k, _, v = line.partition(b":")
                if k.strip().lower() == b"content-length" and len(body) >= int(v):
                    return buf
            if b" 101 " in head.split(b"\r\n")[0]:
                return buf


def status_of(resp):
    if not resp:
        return None
    return int(resp.split(b"\r\n", 1)[0].split()[1])


def body_of(resp):
    return json.loads(resp.split(b"\r\n\r\n", 1)[1])


def upgrade_bytes(port, token):
    return ("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port)).encode()


class OpenWs:
    """a WebSocket upgraded from source address src, kept open"""

    def __init__(self, port, token, src="127.0.0.1", prefix=b""):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.settimeout(10)
        self.s.bind((src, 0))
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(prefix + upgrade_bytes(port, token))
        self.resp = read_response(self.s)
        self.status = status_of(self.resp)

    def close(self):
        self.s.close()


def healthz(port, timeout=10):
    return status_of(raw_request(port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                                 timeout=timeout))


def post_form(port, path, body, token=None):
    hdr = "POST %s HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n" \
          "Content-Length: %d\r\n" % (path, len(body))
    if token:
        hdr += "Authorization: Bearer %s\r\n" % token
    return raw_request(port, hdr.encode() + b"\r\n" + body, timeout=60)


# ---- 2. request parsing before authentication

def test_many_form_keys_refused_before_auth(stack, extra_gateway):
    """5,000 distinct keys (no token at all): invalid_arguments, not an echo
    of 5,000 args; a 1 MiB body of ~100,000 keys is answered the same way and
    the process still answers at once. The cap is 50 here (default 100) so
    that a query string over it fits lws's header fragments (fewer than 100)."""
    gw = extra_gateway(PARLEY_MAX_PARAMS=50)
    body = "&".join("k%d=v" % i for i in range(5000)).encode()
    resp = post_form(gw.port, "/api/api.test", body)
    assert status_of(resp) == 200, resp[:200]
    assert body_of(resp) == {"ok": False, "error": "invalid_arguments"}, resp[:300]
    big = "&".join("key%07d=" % i for i in range(100000)).encode()
    assert len(big) > 1000000 - 200000
    resp = post_form(gw.port, "/api/api.test", big[:1048000])
    assert body_of(resp)["error"] == "invalid_arguments"
    assert healthz(gw.port) == 200
    assert gw.metric("parley_gateway_params_refused_total", reason="count") >= 2
    # a JSON body with too many keys, a query with too many, a long key
    js = json.dumps({"j%d" % i: i for i in range(51)}).encode()
    resp = raw_request(gw.port, b"POST /api/api.test HTTP/1.1\r\nHost: x\r\n"
                       b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(js) + js)
    assert body_of(resp)["error"] == "invalid_arguments"
    q = "&".join("q%d=1" % i for i in range(60))
    resp = raw_request(gw.port, ("GET /api/api.test?%s HTTP/1.1\r\nHost: x\r\n\r\n" % q).encode())
    assert body_of(resp)["error"] == "invalid_arguments", resp[:300]
    resp = post_form(gw.port, "/api/api.test", b"k" * 129 + b"=1")
    assert body_of(resp)["error"] == "invalid_arg_name"
    # within the bounds, api.test still echoes (a repeated key replaces)
    resp = post_form(gw.port, "/api/api.test", b"a=1&b=2&a=3")
    assert body_of(resp) == {"ok": True, "args": {"a": "3", "b": "2"}}
    # a GET within the bounds, twice on one keep-alive connection (its header
    # slot was given back before the answer)
    s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
    try:
        for _ in range(2):
            s.sendall(b"GET /api/api.test?x=1&y=2 HTTP/1.1\r\nHost: x\r\n\r\n")
            assert body_of(read_response(s)) == {"ok": True, "args": {"x": "1", "y": "2"}}
            s.sendall(b"POST /api/api.test HTTP/1.1\r\nHost: x\r\nContent-Type: "
                      b"application/x-www-form-urlencoded\r\nContent-Length: 3\r\n\r\nz=3")
            assert body_of(read_response(s)) == {"ok": True, "args": {"z": "3"}}
    finally:
        s.close()


# ---- lws header slots: held polls and slow bodies do not block the process

def test_held_polls_do_not_hold_header_slots(stack, team, extra_gateway):
    """300 events.poll held at once (more than the header slots: 64 here,
    256 before the setting, when each held poll kept its slot and the rest
    of the process waited): all are held, and a new request is answered"""
    gw = extra_gateway(PARLEY_MAX_POLLS_USER=1000, PARLEY_HTTP_HEADER_POOL=64)
    body = b'{"timeout":30}'
    req = ("POST /api/events.poll HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\n"
           "Content-Type: application/json\r\nContent-Length: %d\r\n\r\n"
           % (team.token("alice"), len(body))).encode() + body
    socks = []
    try:
        for i in range(300):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
            s.sendall(req)
            socks.append(s)
        wait_for(lambda: gw.metric("parley_gateway_polls_held") == 300, 60,
                 "300 polls held")
        assert healthz(gw.port) == 200
        assert body_of(post_form(gw.port, "/api/api.test", b"x=1"))["ok"] is True
    finally:
        for s in socks:
            s.close()


def test_trickled_body_ended_by_request_deadline(stack, extra_gateway):
    """bodies sent a byte at a time (lws restarts its content timeout at
    every chunk, so they never ended): each is answered 408 request_timeout
    by the whole-request deadline while it is still trickling"""
    gw = extra_gateway(PARLEY_HTTP_REQUEST_TIMEOUT_S=2)
    socks = []
    try:
        for i in range(20):
            s = socket.create_connection(("127.0.0.1", gw.port), timeout=10)
            s.sendall(b"POST /api/api.test HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Type: application/x-www-form-urlencoded\r\n"
                      b"Content-Length: 100000\r\n\r\na=")
            s.setblocking(False)
            socks.append(s)
        open_socks, answers = list(socks), []

        def trickle():
            for s in list(open_socks):
                try:
                    s.send(b"x")
                    data = s.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    data = b""
                open_socks.remove(s)
                answers.append(data)
            time.sleep(0.5)
            return not open_socks
        wait_for(trickle, 90, "every trickled request ended by the deadline")
        assert all(b" 408 " in a.split(b"\r\n", 1)[0] for a in answers), \
            [a[:40] for a in answers]
        assert b"request_timeout" in answers[0]
        assert gw.metric("parley_gateway_http_timeouts_total") == 20
    finally:
        for s in socks:
            s.close()


def _read_answer(s):
    """one HTTP/1.1 answer with a Content-Length from s: (status, JSON body)"""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = s.recv(65536)
        assert chunk, "closed before an answer: %r" % data
        data += chunk
    head, body = data.split(b"\r\n\r\n", 1)
    lines = head.decode().split("\r\n")
    length = [int(x.split(":", 1)[1]) for x in lines[1:]
              if x.lower().startswith("content-length:")]
    assert length, head
    while len(body) < length[0]:
        chunk = s.recv(65536)
        assert chunk, "closed inside the body: %r" % data
        body += chunk
    return int(lines[0].split()[1]), json.loads(body[:length[0]])


def test_post_without_body_answered_at_once(stack, team, extra_gateway):
    """a POST with no Content-Length and no body (curl -X POST with no data)
    is a request with an empty body: answered now, not when a timeout ends
    the connection (both are 600 s here; the socket waits 30 s at most).
    lws takes such a body as running to the close, so the connection ends
    after the answer; with Content-Length: 0 it serves the next request"""
    gw = extra_gateway(PARLEY_HTTP_HEADER_TIMEOUT_S=600, PARLEY_HTTP_REQUEST_TIMEOUT_S=600)

    def ask(head, s=None):
        s = s or socket.create_connection(("127.0.0.1", gw.port), timeout=30)
        s.sendall(b"POST /api/" + head + b"\r\nHost: x\r\n\r\n")
        return s, _read_answer(s)

    s, got = ask(b"api.test?foo=bar HTTP/1.1")
    s.close()
    assert got == (200, {"ok": True, "args": {"foo": "bar"}})
    s, (status, body) = ask(b"auth.test HTTP/1.1\r\nAuthorization: Bearer " +
                            team.token("alice").encode())
    s.close()
    assert status == 200 and body["ok"] is True and body["user_id"] == team.uid("alice"), body
    s, got = ask(b"auth.test HTTP/1.1\r\nContent-Length: 0")
    try:
        assert got == (200, {"ok": False, "error": "not_authed"})
        assert ask(b"api.test HTTP/1.1\r\nContent-Length: 0", s)[1] == (
            200, {"ok": True, "args": {}})
    finally:
        s.close()


# ---- 7. connection budget

def test_token_checked_before_the_accept_bucket(stack, team, extra_gateway):
    """bogus upgrades (bad token) are refused 401 without spending the
    accept bucket: a real user gets in right after 20 of them"""
    gw = extra_gateway(PARLEY_RATE_ACCEPT_PER_S=1, PARLEY_RATE_ACCEPT_BURST=2)
    for _ in range(20):
        status, _ = upgrade_status(gw.port, "bogus.token.x")
        assert status == 401
    status, hdrs = upgrade_status(gw.port, team.token("alice"))
    assert status == 101, (status, hdrs)
    assert gw.metric("parley_gateway_refused_total", reason="auth") == 20
    assert gw.metric("parley_gateway_refused_total", reason="limit") == 0


def test_per_user_connection_cap(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_MAX_CONNS_USER=3)
    held = [Ws(gw.ws_url, team.token("alice")) for _ in range(3)]
    try:
        status, hdrs = upgrade_status(gw.port, team.token("alice"))
        assert status == 429, (status, hdrs)
        assert int(hdrs["retry-after"]) >= 1
        assert gw.metric("parley_gateway_refused_total", reason="user") == 1
        with Ws(gw.ws_url, team.token("bob")) as b:      # another user: in
            assert b.hello["type"] == "hello"
        held.pop().close()
        wait_for(lambda: gw.metric("parley_gateway_connections") == 2, 10,
                 "a connection of alice closed")
        with Ws(gw.ws_url, team.token("alice")) as a:
            assert a.hello["type"] == "hello"
    finally:
        for w in held:
            w.close()


def test_per_ip_connection_cap(stack, team, extra_gateway):
    """loopback made non-exempt: 3 sockets per address; the 4th from
    127.0.0.2 is refused at accept (WebSocket or plain HTTP), 127.0.0.3 is
    not affected, and a closed socket gives its place back"""
    gw = extra_gateway(PARLEY_MAX_CONNS_IP=3, PARLEY_CONN_LOOPBACK_EXEMPT=0)
    tok = team.token("alice")
    held = [OpenWs(gw.port, tok, src="127.0.0.2") for _ in range(3)]
    try:
        assert [w.status for w in held] == [101] * 3
        extra = OpenWs(gw.port, tok, src="127.0.0.2")
        assert extra.status in (503, None), extra.resp[:100]
        extra.close()
        other = OpenWs(gw.port, tok, src="127.0.0.3")
        assert other.status == 101
        other.close()
        # an idle plain socket is refused the same way, with a 503 it can read
        s = socket.socket()
        s.bind(("127.0.0.2", 0))
        s.connect(("127.0.0.1", gw.port))
        s.settimeout(10)
        resp = read_response(s)
        s.close()
        assert status_of(resp) == 503 and body_of(resp)["error"] == "too_many_connections"
        head = resp.split(b"\r\n\r\n", 1)[0].lower()
        assert b"content-length: %d" % len(resp.split(b"\r\n\r\n", 1)[1]) in head
        assert b"retry-after: 10" in head
        assert gw.metric("parley_gateway_refused_total", reason="ip") >= 2
        held.pop().close()

        def again():
            w = OpenWs(gw.port, tok, src="127.0.0.2")
            if w.status == 101:
                held.append(w)
                return True
            w.close()
            return False
        wait_for(again, 15, "the closed socket's place given back")
    finally:
        for w in held:
            w.close()


def test_loopback_exempt_by_default(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_MAX_CONNS_IP=2)
    held = [OpenWs(gw.port, team.token("bob"), src="127.0.0.4") for _ in range(4)]
    try:
        assert [w.status for w in held] == [101] * 4
    finally:
        for w in held:
            w.close()


def _v2(src_ip, command=0x21):
    sig = b"\r\n\r\n\x00\r\nQUIT\n"
    addrs = socket.inet_aton(src_ip) + socket.inet_aton("127.0.0.1") + struct.pack("!HH", 40000, 80)
    return sig + bytes([command, 0x11]) + struct.pack("!H", len(addrs)) + addrs


def test_proxy_protocol_from_trusted_proxy(stack, team, extra_gateway):
    """behind a trusted proxy (127.0.0.9) the client address is the PROXY
    header's (v1 or v2) and the per-IP cap applies to it; the proxy itself
    is exempt; a trusted peer without a header, and a PROXY header from an
    untrusted peer, are refused"""
    gw = extra_gateway(PARLEY_PROXY_PROTOCOL=1, PARLEY_TRUSTED_PROXIES="127.0.0.9",
                       PARLEY_MAX_CONNS_IP=2, PARLEY_CONN_LOOPBACK_EXEMPT=0)
    tok = team.token("carol")
    v1 = b"PROXY TCP4 203.0.113.7 127.0.0.1 40000 80\r\n"
    held = []
    try:
        held += [OpenWs(gw.port, tok, src="127.0.0.9", prefix=v1) for _ in range(2)]
        assert [w.status for w in held] == [101, 101]
        third = OpenWs(gw.port, tok, src="127.0.0.9", prefix=v1)
        assert third.status in (503, None), third.resp[:100]
        third.close()
        assert gw.metric("parley_gateway_refused_total", reason="ip") == 1
        # another client behind the same proxy, v2 header: in
        held.append(OpenWs(gw.port, tok, src="127.0.0.9", prefix=_v2("203.0.113.8")))
        assert held[-1].status == 101
        # a v2 LOCAL (health check) and v1 UNKNOWN: the proxy's own, exempt
        for pre in (_v2("0.0.0.0", command=0x20), b"PROXY UNKNOWN\r\n"):
            resp = raw_request(gw.port, pre + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                               src="127.0.0.9")
            assert status_of(resp) == 200, resp[:100]
        # the trusted proxy without a header: refused
        resp = raw_request(gw.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                           src="127.0.0.9")
        assert status_of(resp) is None, resp[:100]
        assert gw.metric("parley_gateway_refused_total", reason="proxy_header") == 1
        # an untrusted peer: its PROXY header is refused, plain HTTP is served
        resp = raw_request(gw.port, v1 + b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                           src="127.0.0.10")
        assert status_of(resp) is None, resp[:100]
        assert gw.metric("parley_gateway_refused_total", reason="proxy_untrusted") == 1
        resp = raw_request(gw.port, b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
                           src="127.0.0.10")
        assert status_of(resp) == 200
        # first bytes split across segments (too few to decide at first):
        # plain HTTP from an untrusted peer and a header from the proxy
        for src, parts in (("127.0.0.12", [b"G", b"ET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"]),
                           ("127.0.0.9", [b"PROXY TCP4 203.0.1", b"13.9 127.0.0.1 1 80\r\n"
                                          b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"])):
            s = socket.socket()
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            s.bind((src, 0))
            s.connect(("127.0.0.1", gw.port))
            s.settimeout(15)
            s.sendall(parts[0])
            time.sleep(0.3)         # a separate segment, not an assertion
            s.sendall(parts[1])
            resp = read_response(s)
            s.close()
            assert status_of(resp) == 200, (src, resp[:100])
        # untrusted sockets waiting for their first bytes count already
        idle = []
        for _ in range(3):
            s = socket.socket()
            s.bind(("127.0.0.11", 0))
            s.connect(("127.0.0.1", gw.port))
            s.settimeout(10)
            idle.append(s)
        resp = read_response(idle[2])
        assert status_of(resp) == 503, resp[:100]
        for s in idle:
            s.close()
    finally:
        for w in held:
            w.close()


def test_poll_last_seq_bounded(stack, team, api):
    """events.poll looks each of the user's channels up in the client's
    last_seq: more entries than a poll follows (1,000) are refused"""
    many = {"C%08d" % i: 1 for i in range(1001)}
    r = api.call("events.poll", team.token("alice"), check=False,
                 json_body={"last_seq": many, "timeout": 0})
    assert r == {"ok": False, "error": "invalid_arguments"}
    many.popitem()
    r = api.call("events.poll", team.token("alice"), json_body={"last_seq": many, "timeout": 0})
    assert r["ok"] is True
