"""parley.py - helpers for Parley's integration tests (reuse them).

    Api(stack.http_url)                     Web API client (requests)
    Ws(url, token)                          WebSocket client: collects every frame
    provision(stack, users=[...])           team + users (+ channel) via admin API
    wait_for(cond, timeout, what)           poll a condition with a deadline
    parse_prometheus(text)                  strict Prometheus text parser
    find_message_row(stack, channel, seq)   the row in whichever shard holds it

Every wait has a deadline; nothing here sleeps blindly.
"""

import asyncio
import itertools
import json
import math
import re
import threading
import time
import uuid

import requests
import websockets

DEFAULT_TIMEOUT = 10.0


class WaitTimeout(AssertionError):
    pass


def wait_for(cond, timeout=DEFAULT_TIMEOUT, what="condition", interval=0.02):
    """call cond() until it returns something true; AssertionError at the deadline"""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise WaitTimeout("timed out after %.1fs waiting for %s" % (timeout, what))
        time.sleep(interval)


# ---- Web API

class ApiError(AssertionError):
    def __init__(self, method, answer):
        super().__init__("%s failed: %r" % (method, answer))
        self.method = method
        self.answer = answer
        self.error = answer.get("error") if isinstance(answer, dict) else None


class Api:
    """a Web API client: api.call(method, token, **params) -> dict (raises on
    ok:false unless check=False); api.raw(...) -> requests.Response"""

    def __init__(self, base_url, timeout=DEFAULT_TIMEOUT):
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.session = requests.Session()

    def raw(self, method, token=None, json_body=None, **params):
        headers = {"Authorization": "Bearer " + token} if token else {}
        url = "%s/api/%s" % (self.base_url, method)
        if json_body is not None:
            return self.session.post(url, json=json_body, headers=headers,
                                     timeout=self.timeout)
        return self.session.post(url, data=params, headers=headers, timeout=self.timeout)

    def call(self, method, token=None, check=True, json_body=None, **params):
        r = self.raw(method, token, json_body=json_body, **params)
        assert r.status_code in (200, 429), "%s: HTTP %d %s" % (
            method, r.status_code, r.text[:300])
        body = r.json()
        if check and not body.get("ok"):
            raise ApiError(method, body)
        return body


# ---- WebSocket

class _LoopThread:
    """one asyncio loop on a daemon thread, shared by every Ws in the process
    (Debian's websockets 10.4 has no sync client)"""
    _lock = threading.Lock()
    _loop = None

    @classmethod
    def loop(cls):
        with cls._lock:
            if cls._loop is None:
                cls._loop = asyncio.new_event_loop()
                t = threading.Thread(target=cls._loop.run_forever, name="ws-loop",
                                     daemon=True)
                t.start()
            return cls._loop

    @classmethod
    def run(cls, coro, timeout):
        fut = asyncio.run_coroutine_threadsafe(coro, cls.loop())
        return fut.result(timeout)


class Ws:
    """a WebSocket client that collects every frame it receives.

    ws = Ws(stack.ws_url, token)             # ?token=; header=True for Bearer
    ws.hello                                 # the hello frame
    ws.request({"type":"message", ...})      # sends with a fresh id, returns the reply
    ws.wait_event(lambda e: e.get("type") == "message")
    ws.events                                # every JSON frame received, in order
    ws.close()
    """

    def __init__(self, url, token=None, header=False, timeout=DEFAULT_TIMEOUT,
                 expect_hello=True, origin=None):
        self.url = url
        self.timeout = timeout
        self.events = []
        self.closed = None              # (code, reason) once closed
        self._cond = threading.Condition()
        self._ids = itertools.count(1)
        self._consumed = set()          # indexes handed out by wait_event
        headers = {}
        if token and header:
            headers["Authorization"] = "Bearer " + token
        elif token:
            url = url + ("&" if "?" in url else "?") + "token=" + token
        async def connect():
            return await websockets.connect(
                url, extra_headers=headers, origin=origin, max_size=None,
                open_timeout=timeout, ping_interval=None)
        self.ws = _LoopThread.run(connect(), timeout + 1)
        self._reader = asyncio.run_coroutine_threadsafe(self._read(), _LoopThread.loop())
        self.hello = self.wait_event(lambda e: e.get("type") == "hello",
                                     what="hello") if expect_hello else None

    async def _read(self):
        try:
            async for frame in self.ws:
                try:
                    ev = json.loads(frame)
                except ValueError:
                    ev = {"_raw": frame}
                with self._cond:
                    self.events.append(ev)
                    self._cond.notify_all()
        except websockets.ConnectionClosed:
            pass
        finally:
            with self._cond:
                self.closed = (self.ws.close_code, self.ws.close_reason)
                self._cond.notify_all()

    def send(self, obj):
        text = obj if isinstance(obj, str) else json.dumps(obj)
        _LoopThread.run(self.ws.send(text), self.timeout)

    def next_id(self):
        return next(self._ids)

    def request(self, obj, timeout=None):
        """send obj with a fresh id (unless it has one) and return the frame
        whose reply_to is that id"""
        obj = dict(obj)
        obj.setdefault("id", self.next_id())
        self.send(obj)
        return self.wait_event(lambda e: e.get("reply_to") == obj["id"], timeout,
                               what="reply to id %s" % obj["id"])

    def wait_event(self, pred, timeout=None, what="event"):
        """the first frame not yet returned by wait_event that matches pred"""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for i, ev in enumerate(self.events):
                    if i not in self._consumed and pred(ev):
                        self._consumed.add(i)
                        return ev
                left = deadline - time.monotonic()
                if self.closed is not None or left <= 0:
                    raise WaitTimeout("%s: no %s within %.1fs (closed=%s); got %s" % (
                        self.url.split("?")[0], what, timeout, self.closed,
                        json.dumps(self.events[-10:])[:2000]))
                self._cond.wait(min(left, 0.5))

    def wait_events(self, pred, count, timeout=None, what="events"):
        """count matching frames (in arrival order)"""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        return [self.wait_event(pred, max(0.0, deadline - time.monotonic()),
                                what="%s (%d of %d)" % (what, i + 1, count))
                for i in range(count)]

    def matching(self, pred):
        with self._cond:
            return [e for e in self.events if pred(e)]

    def wait_closed(self, timeout=None):
        timeout = self.timeout if timeout is None else timeout
        with self._cond:
            self._cond.wait_for(lambda: self.closed is not None, timeout)
            return self.closed

    def close(self):
        try:
            _LoopThread.run(self.ws.close(), self.timeout)
        except Exception:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


# ---- provisioning

class Team:
    def __init__(self, team, users, channel):
        self.id = team["id"]
        self.name = team["name"]
        self.users = users          # name -> {"id", "token", "name"}
        self.channel = channel      # id of the channel (or None)

    def token(self, name):
        return self.users[name]["token"]

    def uid(self, name):
        return self.users[name]["id"]


def unique(prefix):
    return "%s%s" % (prefix, uuid.uuid4().hex[:8])


def provision(stack, users=("alice", "bob", "carol"), channel="general", api=None):
    """a fresh team (unique name) with users, and a channel created by the
    first user with all of them members. Returns a Team."""
    api = api or Api(stack.http_url)
    admin = stack.admin_token
    t = api.call("admin.teams.create", admin, name=unique("team-"))["team"]
    made = {}
    for name in users:
        r = api.call("admin.users.create", admin, team_id=t["id"], name=name)
        assert r["user"]["team_id"] == t["id"], r
        made[name] = {"id": r["user"]["id"], "token": r["token"], "name": name}
    cid = None
    if channel:
        first = made[users[0]]["token"]
        cid = api.call("conversations.create", first, name=unique(channel + "-"))[
            "channel"]["id"]
        others = [made[n]["id"] for n in users[1:]]
        if others:
            api.call("conversations.invite", first, channel=cid, users=",".join(others))
    return Team(t, made, cid)



# ---- small probes of a running stack

def redis_command(addr, *args):
    """one Redis command over RESP to "host:port"; the raw first reply"""
    import socket
    host, port = addr.rsplit(":", 1)
    cmd = "*%d\r\n" % len(args) + "".join(
        "$%d\r\n%s\r\n" % (len(a.encode()), a) for a in args)
    with socket.create_connection((host, int(port)), timeout=5) as s:
        s.sendall(cmd.encode())
        return s.recv(4096).decode()


def daemon_metric(stack, daemon, family, **labels):
    """the sum of a metric family's samples on a daemon's /metrics (parsed by
    parse_prometheus) whose labels include the given ones; 0.0 if none"""
    txt = requests.get(stack.ops[daemon] + "/metrics", timeout=5).text
    samples = parse_prometheus(txt).get(family, {"samples": []})["samples"]
    return sum(v for _, lab, v in samples
               if all(dict(lab).get(k) == str(x) for k, x in labels.items()))


# ---- markers for "nothing arrived" checks

def channel_marker(sender, receiver, channel, after_seq, timeout=15):
    """the marker of a "nothing of this channel arrived" check: sender (a Ws)
    posts to channel until receiver (a Ws, a member by now) has one of its
    message events with a seq above after_seq. A socket gets a channel's events
    in seq order, so whatever of the channel up to after_seq was going to reach
    receiver is there once this returns (a sleep or a ping proves nothing).
    Returns the marker event."""
    def got():
        for e in receiver.matching(lambda e: e.get("channel") == channel and
                                   e.get("type") == "message" and "reply_to" not in e and
                                   (e.get("seq") or 0) > after_seq):
            return e
        return None

    def post():
        r = sender.request({"type": "message", "channel": channel, "text": "marker"})
        assert r.get("ok") is True, r
        return got()

    return wait_for(post, timeout, "a marker in %s after seq %d" % (channel, after_seq),
                    interval=0.3)


# ---- PostgreSQL

def find_message_row(stack, channel, seq, timeout=DEFAULT_TIMEOUT):
    """poll every shard database until messages has (channel, seq); returns
    (shard index, row dict)"""
    import psycopg
    from psycopg.rows import dict_row

    conns = [psycopg.connect(stack.dsn(i), autocommit=True, row_factory=dict_row)
             for i in range(stack.shards)]
    try:
        def look():
            for i, c in enumerate(conns):
                try:
                    row = c.execute("SELECT * FROM messages WHERE channel_id = %s "
                                    "AND seq = %s", (channel, seq)).fetchone()
                except psycopg.errors.UndefinedTable:
                    continue
                if row:
                    return (i, row)
            return None
        return wait_for(look, timeout, "messages row (%s, %s) in PostgreSQL" % (
            channel, seq), interval=0.05)
    finally:
        for c in conns:
            c.close()


# ---- Prometheus text format 0.0.4

_NAME = r"[a-zA-Z_:][a-zA-Z0-9_:]*"
_LABEL = r"[a-zA-Z_][a-zA-Z0-9_]*"
_VALUE = r"(?:[+-]?Inf|NaN|[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)"
_SAMPLE_RE = re.compile(r"^(%s)(\{[^\n]*\})?[ ]+(%s)(?:[ ]+(-?\d+))?$" % (_NAME, _VALUE))
_LABEL_RE = re.compile(r'(%s)="((?:[^"\\\n]|\\[\\"n])*)"' % _LABEL)
_TYPES = {"counter", "gauge", "histogram", "summary", "untyped"}


class PromError(AssertionError):
    pass


def _parse_labels(text, lineno):
    if not text:
        return ()
    body = text[1:-1]
    labels = []
    pos = 0
    while pos < len(body):
        m = _LABEL_RE.match(body, pos)
        if not m:
            raise PromError("line %d: bad labels %r" % (lineno, text))
        labels.append((m.group(1), m.group(2)))
        pos = m.end()
        if pos < len(body):
            if body[pos] != ",":
                raise PromError("line %d: bad labels %r" % (lineno, text))
            pos += 1
    names = [k for k, _ in labels]
    if len(set(names)) != len(names):
        raise PromError("line %d: repeated label in %r" % (lineno, text))
    return tuple(labels)


def _family_of(name, families):
    """the family a sample name belongs to (histogram/summary suffixes)"""
    if name in families:
        return name
    for suf in ("_bucket", "_sum", "_count"):
        if name.endswith(suf) and name[:-len(suf)] in families:
            base = name[:-len(suf)]
            if families[base]["type"] in ("histogram", "summary") and (
                    suf != "_bucket" or families[base]["type"] == "histogram"):
                return base
    return None


def parse_prometheus(text):
    """parse exposition text strictly; returns {family: {"type", "help",
    "samples": [(name, labels tuple, value)]}}. Raises PromError on: a sample
    without a preceding TYPE, TYPE/HELP repeated or after samples, a family's
    samples not contiguous, bad names/labels/values, duplicate series, counters
    negative, histogram buckets not cumulative, not ending in +Inf, or _count
    different from the +Inf bucket."""
    if not text.endswith("\n"):
        raise PromError("exposition must end with a newline")
    families = {}
    finished = set()
    current = None
    seen = set()
    for lineno, line in enumerate(text.split("\n")[:-1], 1):
        if line == "":
            continue
        if line.startswith("#"):
            parts = line.split(None, 3)
            if len(parts) >= 2 and parts[1] in ("HELP", "TYPE"):
                if len(parts) < 3 or not re.fullmatch(_NAME, parts[2]):
                    raise PromError("line %d: bad %s line %r" % (lineno, parts[1], line))
                name = parts[2]
                fam = families.setdefault(name, {"type": None, "help": None,
                                                 "samples": []})
                if fam["samples"] or name in finished:
                    raise PromError("line %d: %s for %s after its samples" % (
                        lineno, parts[1], name))
                if parts[1] == "TYPE":
                    if fam["type"] is not None:
                        raise PromError("line %d: second TYPE for %s" % (lineno, name))
                    if len(parts) != 4 or parts[3] not in _TYPES:
                        raise PromError("line %d: bad type in %r" % (lineno, line))
                    fam["type"] = parts[3]
                else:
                    if fam["help"] is not None:
                        raise PromError("line %d: second HELP for %s" % (lineno, name))
                    fam["help"] = parts[3] if len(parts) == 4 else ""
                if current is not None and current != name:
                    finished.add(current)
                current = name
            continue
        m = _SAMPLE_RE.match(line)
        if not m:
            raise PromError("line %d: bad sample %r" % (lineno, line))
        name, labels, value = m.group(1), _parse_labels(m.group(2), lineno), m.group(3)
        fam_name = _family_of(name, families)
        if fam_name is None or families[fam_name]["type"] is None:
            raise PromError("line %d: sample %s has no TYPE before it" % (lineno, name))
        if fam_name != current:
            if fam_name in finished:
                raise PromError("line %d: samples of %s are not contiguous" % (
                    lineno, fam_name))
            if current is not None:
                finished.add(current)
            current = fam_name
        key = (name, tuple(sorted(labels)))
        if key in seen:
            raise PromError("line %d: duplicate series %s%s" % (lineno, name, labels))
        seen.add(key)
        v = float(value.replace("Inf", "inf"))
        fam = families[fam_name]
        if fam["type"] == "counter" and not v >= 0:
            raise PromError("line %d: counter %s is %s" % (lineno, name, value))
        if fam["type"] == "histogram" and name == fam_name:
            raise PromError("line %d: histogram sample without suffix: %s" % (lineno, name))
        fam["samples"].append((name, labels, v))
    for fam_name, fam in families.items():
        if fam["type"] is None:
            raise PromError("%s has HELP but no TYPE" % fam_name)
        if fam["type"] == "histogram":
            _check_histogram(fam_name, fam["samples"])
    return families


def _check_histogram(name, samples):
    series = {}
    for sname, labels, v in samples:
        rest = tuple(sorted((k, x) for k, x in labels if k != "le"))
        s = series.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            le = dict(labels).get("le")
            if le is None:
                raise PromError("%s_bucket%s without le" % (name, labels))
            try:
                bound = float(le.replace("Inf", "inf"))
            except ValueError:
                raise PromError("%s: bad le %r" % (name, le))
            s["buckets"].append((bound, le, v))
        elif sname == name + "_sum":
            s["sum"] = v
        elif sname == name + "_count":
            s["count"] = v
    if not series:
        raise PromError("histogram %s has no samples" % name)
    for rest, s in series.items():
        b = s["buckets"]
        if not b:
            raise PromError("histogram %s%s has no buckets" % (name, rest))
        if b[-1][1] != "+Inf":
            raise PromError("histogram %s%s: last bucket is le=%r, not +Inf" % (
                name, rest, b[-1][1]))
        for (b1, _, v1), (b2, le2, v2) in zip(b, b[1:]):
            if not b2 > b1:
                raise PromError("histogram %s%s: le not ascending at %s" % (name, rest, le2))
            if v2 < v1:
                raise PromError("histogram %s%s: buckets not cumulative at le=%s" % (
                    name, rest, le2))
        if s["count"] is None or s["sum"] is None:
            raise PromError("histogram %s%s lacks _sum or _count" % (name, rest))
        if s["count"] != b[-1][2]:
            raise PromError("histogram %s%s: _count %s != +Inf bucket %s" % (
                name, rest, s["count"], b[-1][2]))
        if math.isnan(s["sum"]):
            raise PromError("histogram %s%s: _sum is NaN" % (name, rest))
