"""Gateway protection, with extra gateway processes started by the test
against the session stack (same settings as the harness, plus overrides, on
their own free port, stopped by PID): the 4008 slow-consumer close while
another client keeps receiving, the RTM send rate, the connection cap and
the accept bucket (503 + Retry-After before the upgrade), 4004 on a live
socket (token and rtm.connect ticket), and the per-shard circuit breaker.

The helpers here (ExtraGateway, mint_token, RawWs, upgrade_status) are
imported by the other test_gateway_*.py files."""
import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import struct
import time

import pytest

import parley
import stack as stackmod
from parley import Ws, wait_for


# ---- helpers

class ExtraGateway:
    """one more gateway process on the stack, with env overrides"""

    def __init__(self, st, name, env):
        e = st._daemon_env(name, 0)
        e["PARLEY_OPS_PORT_FILE"] = os.path.join(st.run_dir, name + ".ops.port")
        e["PARLEY_HTTP_ADDR"] = "127.0.0.1:0"
        e["PARLEY_HTTP_PORT_FILE"] = os.path.join(st.run_dir, name + ".port")
        e["PARLEY_GATEWAY_ID"] = name
        e.update(env)
        self.child = stackmod.Child(name, [st.binary("gateway")], e, st,
                                    port_file=e["PARLEY_OPS_PORT_FILE"])
        self.child.start()
        self.stack = st
        st.children.append(self.child)     # its log tail joins failure reports
        try:
            # the ops port file is written after the client port is bound
            self.child.ops_url = "http://127.0.0.1:%d" % self.child.bound_port(30)
            self.port = stackmod.read_int_file(e["PARLEY_HTTP_PORT_FILE"])
            self.child.wait_ready(30)
        except BaseException:
            self.stop()
            raise
        self.http_url = "http://127.0.0.1:%d" % self.port
        self.ws_url = "ws://127.0.0.1:%d/ws" % self.port
        self.log_path = self.child.log_path

    def metrics(self):
        r = parley.Api(self.http_url).session.get(self.child.ops_url + "/metrics", timeout=5)
        return parley.parse_prometheus(r.text)

    def metric(self, family, **labels):
        fams = self.metrics()
        for name, lab, v in fams.get(family, {"samples": []})["samples"]:
            if all(dict(lab).get(k) == str(x) for k, x in labels.items()):
                return v
        return None

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def stop(self):
        self.child.signal(signal.SIGTERM)
        if not self.child.reap(10):
            self.child.signal(signal.SIGKILL)
            self.child.reap(5)
        self.child.forget()
        if self.child in self.stack.children:
            self.stack.children.remove(self.child)


@pytest.fixture
def extra_gateway(stack):
    """factory: extra_gateway(**env) -> a started ExtraGateway"""
    started = []

    def make(**env):
        g = ExtraGateway(stack, "gateway-x%d-%d" % (os.getpid(), len(started)),
                         {k: str(v) for k, v in env.items()})
        started.append(g)
        return g
    yield make
    for g in started:
        g.stop()


def _b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def mint_token(stack, user, team, exp_in_s):
    """a user token signed with the stack's secret, expiring in exp_in_s"""
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = _b64(json.dumps({"sub": user, "tid": team, "iss": "parley", "aud": "parley",
                            "exp": int(time.time()) + exp_in_s}).encode())
    mac = hmac.new(stack.token_secret.encode(), ("%s.%s" % (head, body)).encode(),
                   hashlib.sha256).digest()
    return "%s.%s.%s" % (head, body, _b64(mac))


def upgrade_status(port, token):
    """a raw WebSocket upgrade: (status, headers dict) of the answer"""
    s = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:
        s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                   "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                   "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port)).encode())
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    head = data.split(b"\r\n\r\n")[0].decode(errors="replace").split("\r\n")
    status = int(head[0].split()[1])
    hdrs = {k.strip().lower(): v.strip() for k, v in
            (line.split(":", 1) for line in head[1:] if ":" in line)}
    return status, hdrs


class RawWs:
    """a WebSocket client on a plain socket that reads only when told to:
    a small receive buffer and no reading makes it a slow consumer"""

    def __init__(self, port, token, rcvbuf=4096):
        self.s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.s.settimeout(10)
        self.s.connect(("127.0.0.1", port))
        self.s.sendall(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                        "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                        "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                        "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port)).encode())
        self.buf = b""
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.s.recv(4096)
        head, self.buf = self.buf.split(b"\r\n\r\n", 1)
        assert b" 101 " in head.split(b"\r\n")[0], head

    def frames(self, deadline_s=20):
        """read until the server closes; returns (texts, close code)"""
        texts, code = [], None
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            f = self._frame()
            if f is None:
                try:
                    chunk = self.s.recv(65536)
                except socket.timeout:
                    continue
                if not chunk:
                    break
                self.buf += chunk
                continue
            op, payload = f
            if op == 1:
                texts.append(payload.decode())
            elif op == 8:
                code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                break
        return texts, code

    def _frame(self):
        b = self.buf
        if len(b) < 2:
            return None
        n, off = b[1] & 0x7F, 2
        if n == 126:
            if len(b) < 4:
                return None
            n, off = struct.unpack("!H", b[2:4])[0], 4
        elif n == 127:
            if len(b) < 10:
                return None
            n, off = struct.unpack("!Q", b[2:10])[0], 10
        if len(b) < off + n:
            return None
        self.buf = b[off + n:]
        return b[0] & 0x0F, b[off:off + n]

    def close(self):
        self.s.close()


# ---- tests

def test_slow_consumer_closed_4008_others_keep_receiving(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_MAX_SENDQ_FRAMES=8)
    api = parley.Api(stack.http_url)
    slow = RawWs(gw.port, team.token("carol"))
    fast = Ws(gw.ws_url, team.token("bob"))
    try:
        big = "z" * 30000
        sent = 0
        # the slow client never reads: its kernel buffers, then the send
        # queue fill, and the gateway decides to close it; bob reads
        # everything. The decision is counted at once (sendq_closes); the
        # close frame itself can only follow the tail of the frame lws has
        # half sent, i.e. once the client reads again, so the client reads
        # after the decision and must then find the 4008 close frame.
        for i in range(300):
            api.call("chat.postMessage", team.token("alice"), channel=team.channel,
                     text="%d %s" % (i, big))
            sent = i + 1
            if gw.metric("parley_gateway_sendq_closes_total"):
                break
        assert gw.metric("parley_gateway_sendq_closes_total") >= 1, \
            "no slow-consumer close after %d large messages" % sent
        texts, code = slow.frames()
        assert code == 4008, (code, len(texts))
        wait_for(lambda: gw.metric("parley_gateway_disconnects_total",
                                   reason="slow_consumer") == 1, 15,
                 "the slow consumer's disconnect counted")
        got = fast.wait_events(lambda e: e.get("type") == "message" and
                               e.get("channel") == team.channel and
                               e.get("text", "").endswith(big), sent, timeout=30)
        assert [int(e["text"].split()[0]) for e in got] == list(range(sent))
        assert fast.closed is None
        # the slow client may come back and resume
        with Ws(gw.ws_url, team.token("carol")) as again:
            assert again.hello["type"] == "hello"
    finally:
        slow.close()
        fast.close()


def test_rtm_send_rate_limited_with_retry_after(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_RATE_LIMITS=1, PARLEY_RATE_MSG_BURST=3, PARLEY_RATE_MSG_PER_S=1)
    with Ws(gw.ws_url, team.token("alice")) as ws:
        answers = [ws.request({"type": "message", "channel": team.channel,
                               "text": "burst %d" % i}) for i in range(5)]
    ok = [a for a in answers if a.get("ok") is True]
    limited = [a for a in answers if a.get("type") == "error"]
    assert len(ok) >= 3, answers
    assert limited, answers
    assert limited[0]["error"]["code"] == "rate_limited"
    assert isinstance(limited[0]["retry_after"], int) and limited[0]["retry_after"] >= 1


def test_connection_cap_503_retry_after(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_MAX_CONNS=2)
    a = Ws(gw.ws_url, team.token("alice"))
    b = Ws(gw.ws_url, team.token("bob"))
    try:
        status, hdrs = upgrade_status(gw.port, team.token("carol"))
        assert status == 503, (status, hdrs)
        assert int(hdrs["retry-after"]) >= 1
    finally:
        a.close()
        b.close()
    # capacity comes back when they leave
    wait_for(lambda: gw.metric("parley_gateway_connections") == 0, 10, "connections closed")
    with Ws(gw.ws_url, team.token("carol")) as c:
        assert c.hello["type"] == "hello"


def test_accept_bucket_503_retry_after(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_RATE_ACCEPT_PER_S=1, PARLEY_RATE_ACCEPT_BURST=2)
    results = [upgrade_status(gw.port, team.token("alice")) for _ in range(4)]
    statuses = [s for s, _ in results]
    assert statuses[:2] == [101, 101], statuses
    refused = [h for s, h in results if s == 503]
    assert refused, statuses
    assert int(refused[0]["retry-after"]) >= 1


def test_token_expiry_closes_live_socket_4004(stack, team):
    tok = mint_token(stack, team.uid("alice"), team.id, 3)
    ws = Ws(stack.ws_url, tok)
    assert ws.request({"type": "ping"})["type"] == "pong"
    closed = ws.wait_closed(15)
    assert closed is not None and closed[0] == 4004, closed


def test_ticket_connection_inherits_token_expiry(stack, team, api):
    tok = mint_token(stack, team.uid("bob"), team.id, 4)
    body = api.call("rtm.connect", tok)
    ws = Ws(body["url"])
    assert ws.hello["type"] == "hello"
    closed = ws.wait_closed(15)
    assert closed is not None and closed[0] == 4004, closed


def _fnv1a32(s):
    h = 2166136261
    for ch in s.encode():
        h = ((h ^ ch) * 16777619) & 0xFFFFFFFF
    return h


def test_breaker_per_shard_opens_and_recovers(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_RPC_TIMEOUT_MS=300, PARLEY_BREAKER_THRESHOLD=2,
                       PARLEY_BREAKER_OPEN_MS=1000)
    parts = int(re.search(r"GW-SERVICES.*partitions=(\d+)", gw.log()).group(1))
    shard = _fnv1a32(team.channel) % parts % stack.shards
    other = 1 - shard
    victim = [c for c in stack.children if c.name == "message-svc-%d" % shard][0]
    api = parley.Api(gw.http_url)
    tok = team.token("alice")
    victim.signal(signal.SIGSTOP)
    try:
        errors = []
        for i in range(6):
            r = api.call("chat.postMessage", tok, check=False, channel=team.channel,
                         text="during stop %d" % i)
            errors.append(r.get("error"))
        assert all(e == "service_unavailable" for e in errors), errors
        assert gw.metric("parley_gateway_breaker_state", shard=shard) in (1.0, 2.0)
        # the other shard's breaker stays closed
        assert gw.metric("parley_gateway_breaker_state", shard=other) == 0.0
    finally:
        victim.signal(signal.SIGCONT)

    def recovered():
        r = api.call("chat.postMessage", tok, check=False, channel=team.channel,
                     text="after cont")
        return r.get("ok")
    wait_for(recovered, 20, "postMessage to succeed after SIGCONT", interval=0.3)
    wait_for(lambda: gw.metric("parley_gateway_breaker_state", shard=shard) == 0.0, 10,
             "breaker closed again")
    # and the shared stack is healthy again for the next tests
    wait_for(lambda: parley.Api(stack.http_url).call(
        "chat.postMessage", tok, check=False, channel=team.channel, text="ok").get("ok"),
        20, "stack gateways recovered", interval=0.3)


def test_rate_limits_off_turns_off_the_rtm_send_rate(stack, team, extra_gateway):
    # PROTOCOL.md: PARLEY_RATE_LIMITS=0 turns the per-user rates off, the
    # per-connection RTM send rate included (same tiny bucket as above)
    gw = extra_gateway(PARLEY_RATE_LIMITS=0, PARLEY_RATE_MSG_BURST=1, PARLEY_RATE_MSG_PER_S=1)
    with Ws(gw.ws_url, team.token("alice")) as ws:
        answers = [ws.request({"type": "message", "channel": team.channel,
                               "text": "unlimited %d" % i}) for i in range(8)]
    assert all(a.get("ok") is True for a in answers), answers
    assert gw.metric("parley_gateway_rtm_ratelimited_total") in (0, None)


def test_server_pings_and_dead_peer_hang_up(stack, team, extra_gateway):
    # pings and dead peers are the gateway's 1 s sweep (not lws's validity
    # timers): a client that answers pings stays; one that never answers
    # (a raw socket that never reads or writes) is hung up
    gw = extra_gateway(PARLEY_WS_PING_S=1, PARLEY_WS_PONG_TIMEOUT_S=2)
    with Ws(gw.ws_url, team.token("alice")) as alive:     # websockets answers pings
        dead = RawWs(gw.port, team.token("bob"))
        try:
            wait_for(lambda: gw.metric("parley_gateway_disconnects_total",
                                       reason="dead_peer") == 1, 15, "dead peer hung up")
        finally:
            dead.s.close()
        # the answering client outlived several ping periods and still works
        assert alive.closed is None
        assert alive.request({"type": "ping"})["type"] == "pong"
