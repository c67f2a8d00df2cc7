"""webapi_helpers.py - helpers for the Web API tests (issue #6), on top of
parley.py and conftest.py.

    web(stack_or_url, method, token, via="form"|"json"|"get", auth="bearer"|"param", **params)
        -> Answer(status, headers, body)  (any HTTP status; body decoded JSON or None)
    check_*(obj)            assert Slack's field names and types of an object
    post(api, tok, ch, text, **kw) -> the chat.postMessage answer
    history_all(api, tok, ch, limit, between=None) -> every message ts, page by page
    Poller(stack, token)    an events.poll client keeping its cursor

Every wait has a deadline.
"""
import json
import re
import time
import uuid

import requests

import parley

TS_RE = re.compile(r"^\d{10}\.\d{6}$")
ID_RE = {
    "T": re.compile(r"^T[A-Z0-9]{1,15}$"),
    "U": re.compile(r"^U[A-Z0-9]{1,15}$"),
    "C": re.compile(r"^C[A-Z0-9]{1,15}$"),
    "G": re.compile(r"^G[A-Z0-9]{1,15}$"),
    "D": re.compile(r"^D[A-Z0-9]{1,15}$"),
}
CONV_RE = re.compile(r"^[CGD][A-Z0-9]{1,15}$")


def base_url(stack_or_url):
    return stack_or_url if isinstance(stack_or_url, str) else stack_or_url.http_url


class Answer:
    def __init__(self, r):
        self.status = r.status_code
        self.headers = r.headers
        self.text = r.text
        try:
            self.body = r.json()
        except ValueError:
            self.body = None

    def get(self, k, default=None):
        return (self.body or {}).get(k, default)

    def __repr__(self):
        return "HTTP %d %s" % (self.status, self.text[:400])


def web(stack_or_url, method, token=None, via="form", auth="bearer", http_timeout=15,
        headers=None, **params):
    """one Web API call, any transport: via form POST, JSON POST or GET with a
    query string; the token as a Bearer header or a `token` parameter.
    (`timeout` is a parameter of events.poll: the HTTP timeout is http_timeout)"""
    url = "%s/api/%s" % (base_url(stack_or_url), method)
    h = dict(headers or {})
    params = {k: v for k, v in params.items() if v is not None}
    if token is not None:
        if auth == "bearer":
            h["Authorization"] = "Bearer " + token
        else:
            params["token"] = token
    if via == "get":
        r = requests.get(url, params=params, headers=h, timeout=http_timeout)
    elif via == "json":
        r = requests.post(url, json=params, headers=h, timeout=http_timeout)
    else:
        r = requests.post(url, data=params, headers=h, timeout=http_timeout)
    return Answer(r)


def ok(stack_or_url, method, token, **params):
    """a call that must succeed: HTTP 200, ok:true; returns the body"""
    a = web(stack_or_url, method, token, **params)
    # the answer first: a long parameter list must not push it out of a
    # one-line failure summary
    assert a.status == 200, "%s: %r (params %.300r)" % (method, a, params)
    assert a.body is not None and a.body.get("ok") is True, "%s: %r (params %.300r)" % (
        method, a, params)
    return a.body


def err(stack_or_url, method, token, **params):
    """a call that must fail Slack's way: HTTP 200, ok:false, error string;
    returns the error code"""
    a = web(stack_or_url, method, token, **params)
    assert a.status == 200, "%s %r: expected HTTP 200 with an error, got %r" % (
        method, params, a)
    assert a.body is not None and a.body.get("ok") is False, "%s %r: %r" % (method, params, a)
    assert isinstance(a.body.get("error"), str) and a.body["error"], a
    return a.body["error"]


# ---- shapes (api.slack.com: field names and types)

def is_ts(v):
    return isinstance(v, str) and TS_RE.match(v) is not None


def check_ts(v, what="ts"):
    assert is_ts(v), "%s must be a string \"<unix seconds>.<6 digits>\", got %r" % (what, v)


def check_id(v, kind, what="id"):
    assert isinstance(v, str) and ID_RE[kind].match(v), "%s must be a %s… id, got %r" % (
        what, kind, v)


def check_types(obj, spec, what):
    """spec: {field: type or tuple of types}; every field present with that type"""
    assert isinstance(obj, dict), "%s must be an object, got %r" % (what, obj)
    for k, t in spec.items():
        assert k in obj, "%s lacks %r: %s" % (what, k, json.dumps(obj)[:600])
        # bool is an int in Python: keep them apart
        v = obj[k]
        ts = t if isinstance(t, tuple) else (t,)
        if bool not in ts and int in ts:
            assert not isinstance(v, bool), "%s.%s must be %s, got %r" % (what, k, t, v)
        assert isinstance(v, ts), "%s.%s must be %s, got %r" % (what, k, t, v)


def check_message(m, what="message"):
    check_types(m, {"type": str, "ts": str, "text": str}, what)
    assert m["type"] == "message", "%s.type: %r" % (what, m["type"])
    check_ts(m["ts"], what + ".ts")
    if m.get("subtype") is None:
        check_types(m, {"user": str}, what)
        check_id(m["user"], "U", what + ".user")
    if "thread_ts" in m:
        check_ts(m["thread_ts"], what + ".thread_ts")


def check_channel(ch, what="channel"):
    """a conversation object as conversations.info/list/create return it"""
    check_types(ch, {"id": str, "created": int}, what)
    assert CONV_RE.match(ch["id"]), "%s.id: %r" % (what, ch["id"])
    for k in ("is_channel", "is_group", "is_im", "is_private", "is_archived"):
        if ch["id"][0] != "D" or k in ch:
            check_types(ch, {k: bool}, what)
    if ch["id"][0] == "D":
        assert ch.get("is_im") is True, "%s: a D… conversation must have is_im true: %r" % (
            what, ch)
        check_types(ch, {"user": str}, what)
    else:
        check_types(ch, {"name": str, "creator": str, "is_member": bool}, what)
        check_id(ch["creator"], "U", what + ".creator")
        if ch["id"][0] == "C":
            assert ch["is_private"] is False and ch["is_channel"] is True, (what, ch)
        if ch["id"][0] == "G":
            assert ch["is_private"] is True, (what, ch)


def check_user(u, what="user"):
    check_types(u, {"id": str, "team_id": str, "name": str, "deleted": bool,
                    "is_bot": bool, "profile": dict}, what)
    check_id(u["id"], "U", what + ".id")
    check_id(u["team_id"], "T", what + ".team_id")


def check_next_cursor(body, what):
    check_types(body, {"response_metadata": dict}, what)
    check_types(body["response_metadata"], {"next_cursor": str}, what + ".response_metadata")
    return body["response_metadata"]["next_cursor"]


# ---- message helpers

def post(stack_or_url, tok, ch, text, **kw):
    """chat.postMessage with a fresh client_msg_id (a UUID, as Slack's clients
    send), so that each test exercises its own feature; test_webapi_chat.py's
    test_posts_without_client_msg_id_are_distinct covers sends without one"""
    kw.setdefault("client_msg_id", str(uuid.uuid4()))
    return ok(stack_or_url, "chat.postMessage", tok, channel=ch, text=text, **kw)


def history_all(stack_or_url, tok, ch, limit, between=None, max_pages=200, **kw):
    """page conversations.history with cursors; between(page_no) runs after
    each page (e.g. to post more messages). Returns (list of ts in the order
    received, pages)."""
    seen, pages, cursor = [], [], None
    for n in range(max_pages):
        body = ok(stack_or_url, "conversations.history", tok, channel=ch, limit=limit,
                  cursor=cursor, **kw)
        check_types(body, {"messages": list, "has_more": bool}, "conversations.history")
        assert len(body["messages"]) <= limit, "page %d has %d > limit %d" % (
            n, len(body["messages"]), limit)
        pages.append(body)
        seen += [m["ts"] for m in body["messages"]]
        if between:
            between(n)
        nxt = (body.get("response_metadata") or {}).get("next_cursor") or ""
        if not body["has_more"]:
            assert nxt == "", "has_more false but next_cursor %r" % nxt
            return seen, pages
        assert nxt, "has_more true but no response_metadata.next_cursor: %r" % body
        cursor = nxt
    raise AssertionError("more than %d pages" % max_pages)


# ---- long polling

class Poller:
    """events.poll client: keeps the cursor of the previous answer, collects events"""

    def __init__(self, stack_or_url, token, via="json"):
        self.url = base_url(stack_or_url)
        self.token = token
        self.via = via
        self.cursor = None
        self.events = []
        self.answers = 0

    def poll(self, timeout=2, last_seq=None):
        params = {"timeout": timeout}
        if self.cursor:
            params["cursor"] = self.cursor
        if last_seq is not None:
            params["last_seq"] = last_seq if self.via == "json" else json.dumps(last_seq)
        a = web(self.url, "events.poll", self.token, via=self.via,
                http_timeout=timeout + 10, **params)
        assert a.status == 200 and a.body and a.body.get("ok") is True, \
            "events.poll %r: %r" % (params, a)
        check_types(a.body, {"events": list, "cursor": str}, "events.poll")
        self.cursor = a.body["cursor"]
        self.events += a.body["events"]
        self.answers += 1
        return a.body["events"]

    def poll_until(self, cond, deadline_s=15, what="events", timeout=2):
        deadline = time.monotonic() + deadline_s
        while True:
            if cond(self.events):
                return self.events
            if time.monotonic() >= deadline:
                raise parley.WaitTimeout("events.poll: no %s within %.0fs; got %s" % (
                    what, deadline_s, json.dumps(self.events[-10:])[:1500]))
            self.poll(timeout=timeout)


def msg_key(e):
    """what identifies one delivered event for ledger comparisons"""
    return (e.get("type"), e.get("subtype"),
            e.get("channel") or (e.get("item") or {}).get("channel"), e.get("seq"),
            e.get("ts"), (e.get("message") or {}).get("ts"), e.get("deleted_ts"),
            e.get("reaction"), (e.get("item") or {}).get("ts"))
