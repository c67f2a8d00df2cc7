"""Application-level bad input over RTM and the Web API: invalid JSON,
deeply nested JSON (depth 10,000), wrong types for every field, unknown
types, numbers out of range, NUL bytes and huge strings. Each gets a clear
Slack-style error, nothing crashes, nothing is lost (a good message sent
after the bad input arrives, and the gateway and message-svc still answer),
and the RTM connection stays usable.

The table in docs/security.md ("Application-level bad input") maps each
input class to its answer and to the test here."""
import json
import os

import pytest
import requests

import parley
from parley import Ws
from test_gateway_limits import ExtraGateway

# a gateway process of this file's own: frames up to 64 KiB so a JSON text
# nested 10,000 deep reaches the parser (the default 16 KiB closes 1009
# first, test_ws_rfc6455.py), and no rate limits (many sends in a row)
MAX_FRAME = 65536
DEEP = 10000


@pytest.fixture(scope="module")
def gw(stack):
    g = ExtraGateway(stack, "gateway-bad%d" % os.getpid(),
                     {"PARLEY_RATE_LIMITS": "0", "PARLEY_MAX_FRAME": str(MAX_FRAME)})
    yield g
    g.stop()


@pytest.fixture(scope="module")
def tm(stack):
    return parley.provision(stack, users=("alice", "bob"))


@pytest.fixture(scope="module")
def alice(gw, tm):
    ws = Ws(gw.ws_url, tm.token("alice"))
    yield ws
    ws.close()


@pytest.fixture(scope="module")
def bob(gw, tm):
    ws = Ws(gw.ws_url, tm.token("bob"))
    yield ws
    ws.close()


def usable(ws, tm, bob):
    """alice's connection still answers, and a good message from it is
    stored and delivered to bob (nothing was lost or stuck)"""
    assert ws.request({"type": "ping"})["type"] == "pong"
    text = parley.unique("good-")
    r = ws.request({"type": "message", "channel": tm.channel, "text": text})
    assert r.get("ok") is True, r
    bob.wait_event(lambda e: e.get("type") == "message" and e.get("text") == text,
                   what="the good message after bad input")


def error_of(frame):
    """the Slack error code of an RTM answer (either shape), or None"""
    err = frame.get("error")
    return err.get("code") if isinstance(err, dict) else err


def deep(n):
    return "[" * n + "]" * n


# ---- RTM

RTM_INVALID_JSON = [
    "{", "not json", '{"type":"ping"', "", "[]", "42", '"ping"', "null",
    '{"type":"ping"}{"type":"ping"}',
]


@pytest.mark.parametrize("text", RTM_INVALID_JSON)
def test_rtm_invalid_json(alice, bob, tm, text):
    alice.send(text)
    e = alice.wait_event(lambda e: e.get("type") == "error" and "reply_to" not in e,
                         what="invalid_json error")
    assert error_of(e) == "invalid_json", e
    usable(alice, tm, bob)


def test_rtm_nested_10000_deep(alice, bob, tm):
    alice.send('{"type":"ping","id":7,"x":%s}' % deep(DEEP))
    e = alice.wait_event(lambda e: e.get("type") == "error", what="the error")
    assert error_of(e) == "invalid_json", e
    alice.send('{"type":"message","id":8,"channel":"%s","text":%s}' % (
        tm.channel, '{"a":' * DEEP + "1" + "}" * DEEP))
    e = alice.wait_event(lambda e: e.get("type") == "error", what="the error")
    assert error_of(e) == "invalid_json", e
    usable(alice, tm, bob)


# every field of a message frame with the wrong type
WRONG_TYPES = [
    ("channel", 123), ("channel", ["C1"]), ("channel", {"id": "C1"}), ("channel", True),
    ("text", 5), ("text", ["hi"]), ("text", {"t": "hi"}), ("text", False),
    ("thread_ts", 1700000000.000100), ("thread_ts", ["1.2"]), ("thread_ts", {}),
    ("client_msg_id", 42), ("client_msg_id", ["x"]), ("client_msg_id", True),
]


@pytest.mark.parametrize("field,value", WRONG_TYPES,
                         ids=["%s=%s" % (f, json.dumps(v)) for f, v in WRONG_TYPES])
def test_rtm_message_field_of_wrong_type(alice, bob, tm, field, value):
    frame = {"type": "message", "channel": tm.channel, "text": parley.unique("t-")}
    frame[field] = value
    r = alice.request(frame)
    assert r.get("ok") is False, r
    want = {"channel": "channel_not_found", "text": "no_text"}.get(field, "invalid_arguments")
    assert error_of(r) == want, r
    usable(alice, tm, bob)


@pytest.mark.parametrize("idv", ["5", 1.5, -3, 1e300, 2 ** 63, [1], {"a": 1}, None, True])
def test_rtm_message_id_of_wrong_type_or_range(alice, bob, tm, idv):
    frame = {"type": "message", "channel": tm.channel, "text": "x", "id": idv}
    alice.send(frame)
    e = alice.wait_event(lambda e: e.get("type") == "error" and "reply_to" not in e,
                         what="the error")
    assert error_of(e) == "invalid_arguments", e
    usable(alice, tm, bob)


@pytest.mark.parametrize("typ", ["nope", "", "MESSAGE", "message ", 7, None, ["ping"],
                                 "x" * 10000])
def test_rtm_unknown_type(alice, bob, tm, typ):
    r = alice.request({"type": typ})
    assert r.get("type") == "error" and error_of(r) == "unknown_type", r
    usable(alice, tm, bob)


@pytest.mark.parametrize("frame", [
    {"type": "presence_sub", "ids": "U1"},
    {"type": "presence_sub", "ids": {"U1": 1}},
    {"type": "presence_sub", "ids": ["U%d" % i for i in range(501)]},
    {"type": "resume", "last_seq": [1, 2]},
    {"type": "resume", "last_seq": "C1"},
    {"type": "resume", "last_seq": {}, "epoch": 5},
], ids=["ids string", "ids object", "ids 501", "last_seq array", "last_seq string",
        "epoch number"])
def test_rtm_other_frames_wrong_types(alice, bob, tm, frame):
    r = alice.request(frame)
    assert r.get("type") == "error" and error_of(r) == "invalid_arguments", r
    usable(alice, tm, bob)


def test_rtm_resume_numbers_out_of_range(gw, tm, bob):
    """last_seq values beyond ±2^53 (1e300, which fuzz_rtm_frame found as
    an undefined float->int conversion) are invalid_arguments; an epoch
    beyond uint32 is ignored; the connection stays usable"""
    with Ws(gw.ws_url, tm.token("alice")) as ws:
        for ls in ({tm.channel: 1e300}, {tm.channel: -1e300}, {tm.channel: 2 ** 64}):
            r = ws.request({"type": "resume", "last_seq": ls})
            assert r.get("type") == "error" and error_of(r) == "invalid_arguments", r
        r = ws.request({"type": "resume", "last_seq": {tm.channel: 3},
                        "epoch": {tm.channel: 2 ** 40}})
        assert r.get("type") != "error", r
        usable(ws, tm, bob)


@pytest.mark.parametrize("frame", [
    {"type": "message", "text": "ab\u0000cd"},
    {"type": "message", "text": "\u0000"},
    {"type": "message", "channel": "CHAN\u0000x", "text": "hi"},
    {"type": "message", "text": "hi", "thread_ts": "1.2\u0000"},
    {"type": "message\u0000"},
    {"type": "presence_sub", "ids": ["U1\u0000"]},
    {"type": "ping", "x\u0000": 1},
], ids=["text", "text only NUL", "channel", "thread_ts", "type", "ids", "key"])
def test_rtm_nul_bytes(alice, bob, tm, frame):
    """a NUL (\\u0000) in any string is refused, not cut: C strings end
    there, and the text would lose its tail (or "message\\u0000" pass as
    "message")"""
    frame = {k: v.replace("CHAN", tm.channel) if isinstance(v, str) else v
             for k, v in frame.items()}
    frame.setdefault("channel", tm.channel)
    r = alice.request(frame)
    assert r.get("type") == "error" and error_of(r) == "invalid_arguments", r
    assert not bob.matching(lambda e: e.get("type") == "message" and
                            str(e.get("text", "")).startswith("ab")), "a cut text was posted"
    usable(alice, tm, bob)


def test_rtm_huge_strings(alice, bob, tm):
    big = "x" * 60000
    for frame, want in [
        ({"type": "message", "channel": tm.channel, "text": big}, "msg_too_long"),
        ({"type": "message", "channel": big, "text": "hi"}, "channel_not_found"),
        ({"type": "message", "channel": tm.channel, "text": "hi", "thread_ts": big},
         "invalid_thread_ts"),
        ({"type": "message", "channel": tm.channel, "text": "hi", "client_msg_id": big},
         "invalid_arguments"),
    ]:
        r = alice.request(frame)
        assert r.get("ok") is False, (str(r)[:300], frame.keys())
        assert error_of(r) == want, str(r)[:300]
    # presence_sub has no answer when taken: an id over 16 bytes is skipped
    alice.send({"type": "presence_sub", "ids": [big, "U1"], "id": 987654})
    usable(alice, tm, bob)
    assert not alice.matching(lambda e: e.get("reply_to") == 987654), "an answer to presence_sub"
    alice.send({"type": "presence_sub", "ids": []})


# ---- Web API

def post_raw(gw, method, token, body, ctype):
    return requests.post("%s/api/%s" % (gw.http_url, method), data=body, timeout=30,
                         headers={"Authorization": "Bearer " + token,
                                  "Content-Type": ctype})


def api_alive(gw, tm, bob):
    """a good chat.postMessage through the Web API is stored and delivered"""
    text = parley.unique("api-good-")
    parley.Api(gw.http_url).call("chat.postMessage", tm.token("alice"),
                                 channel=tm.channel, text=text)
    bob.wait_event(lambda e: e.get("type") == "message" and e.get("text") == text,
                   what="the good API message after bad input")


@pytest.mark.parametrize("body", [
    b"{", b"not json", b"[1,2]", b'"s"', b"null", b'{"channel":"C1",}',
    b'{"a":1}{"b":2}', b"\xff\xfe{}",
], ids=["open brace", "text", "array", "string", "null", "trailing comma",
        "two objects", "bad utf-8"])
def test_api_invalid_json(gw, tm, bob, body):
    r = post_raw(gw, "chat.postMessage", tm.token("alice"), body, "application/json")
    assert r.status_code == 200, r.text[:200]
    assert r.json() == {"ok": False, "error": "invalid_json"} or \
        r.json().get("error") == "invalid_json", r.text[:300]
    api_alive(gw, tm, bob)


def test_api_nested_10000_deep(gw, tm, bob):
    body = ('{"channel":"%s","text":"x","blocks":%s}' % (tm.channel, deep(DEEP))).encode()
    r = post_raw(gw, "chat.postMessage", tm.token("alice"), body, "application/json")
    assert r.status_code == 200 and r.json().get("error") == "invalid_json", r.text[:300]
    api_alive(gw, tm, bob)


API_WRONG_TYPES = [
    ("chat.postMessage", {"channel": 123, "text": "x"}, "channel_not_found"),
    ("chat.postMessage", {"channel": ["C"], "text": "x"}, "channel_not_found"),
    ("chat.postMessage", {"channel": None, "text": "x"}, "channel_not_found"),
    ("conversations.history", {"channel": {"id": 1}}, "channel_not_found"),
    ("conversations.history", {"channel": "CHAN", "limit": "many"}, "invalid_limit"),
    ("conversations.history", {"channel": "CHAN", "limit": [10]}, "invalid_limit"),
    ("conversations.history", {"channel": "CHAN", "limit": 1e300}, "invalid_limit"),
    ("conversations.history", {"channel": "CHAN", "limit": -5}, "invalid_limit"),
    ("conversations.history", {"channel": "CHAN", "oldest": "yesterday"}, "invalid_ts_oldest"),
    ("conversations.history", {"channel": "CHAN", "latest": [1]}, "invalid_ts_latest"),
    ("conversations.history", {"channel": "CHAN", "cursor": "!!!"}, "invalid_cursor"),
    ("users.info", {"user": 5}, "user_not_found"),
    ("reactions.add", {"channel": "CHAN", "timestamp": True, "name": "x"}, "no_item_specified"),
    ("conversations.create", {"name": ["a"]}, "invalid_name_specials"),
    ("conversations.invite", {"channel": "CHAN", "users": 5}, "user_not_found"),
]


@pytest.mark.parametrize("method,params,want", API_WRONG_TYPES,
                         ids=["%s %s" % (m, json.dumps(p)[:40]) for m, p, _ in API_WRONG_TYPES])
def test_api_wrong_types(gw, tm, bob, method, params, want):
    params = {k: (tm.channel if v == "CHAN" else v) for k, v in params.items()}
    r = post_raw(gw, method, tm.token("alice"), json.dumps(params).encode(),
                 "application/json")
    assert r.status_code == 200, r.text[:200]
    body = r.json()
    assert body.get("ok") is False, body
    assert isinstance(body.get("error"), str) and body["error"], body
    assert body["error"] == want, body
    api_alive(gw, tm, bob)


def test_api_unknown_method(gw, tm, bob):
    for m in ("nope.nothing", "chat.postMessage.x", "a" * 200, "chat%01postMessage"):
        r = requests.post("%s/api/%s" % (gw.http_url, m), timeout=10,
                          headers={"Authorization": "Bearer " + tm.token("alice")})
        assert r.status_code in (200, 404), r.status_code
        if r.status_code == 200:
            assert r.json().get("error") == "unknown_method", r.text[:200]
    api_alive(gw, tm, bob)


def test_api_nul_bytes(gw, tm, bob):
    """a NUL in a parameter is refused, not cut (the tail would be lost)"""
    tok = tm.token("alice")
    for body, ctype in [
        (("channel=%s&text=ab%%00cd" % tm.channel).encode(), "application/x-www-form-urlencoded"),
        (("channel=%s&text=ab\x00cd" % tm.channel).encode(), "application/x-www-form-urlencoded"),
        (json.dumps({"channel": tm.channel, "text": "ab\u0000cd"}).encode(), "application/json"),
        (json.dumps({"channel": tm.channel, "text": "x", "k\u0000": 1}).encode(),
         "application/json"),
    ]:
        r = post_raw(gw, "chat.postMessage", tok, body, ctype)
        assert r.status_code == 200, r.text[:200]
        assert r.json().get("ok") is False and r.json().get("error") == "invalid_arguments", \
            (body, r.text[:300])
    # %00 in the URL: lws 4.1.6 hangs up before the gateway sees the
    # request (no answer; gw_params_query refuses a NUL too, fuzz_api_params)
    for send in (lambda: requests.get(
            "%s/api/chat.postMessage?channel=%s&text=ab%%00cd" % (gw.http_url, tm.channel),
            headers={"Authorization": "Bearer " + tok}, timeout=10),
            lambda: requests.post("%s/api/chat.postMessage?text=ab%%00cd" % gw.http_url,
                                  data={"channel": tm.channel}, timeout=10,
                                  headers={"Authorization": "Bearer " + tok})):
        with pytest.raises(requests.exceptions.ConnectionError):
            send()
    assert not bob.matching(lambda e: e.get("type") == "message" and e.get("text") == "ab"), \
        "a cut text was posted"
    api_alive(gw, tm, bob)


def test_api_huge_strings(gw, tm, bob):
    big = "y" * 200000
    tok = tm.token("alice")
    for params, want in [
        ({"channel": tm.channel, "text": big}, "msg_too_long"),
        ({"channel": big, "text": "x"}, "channel_not_found"),
        ({"channel": tm.channel, "text": "x", "thread_ts": big}, "invalid_thread_ts"),
        ({"channel": tm.channel, "text": "x", "client_msg_id": big}, "invalid_arguments"),
    ]:
        r = post_raw(gw, "chat.postMessage", tok, json.dumps(params).encode(),
                     "application/json")
        assert r.status_code == 200, r.text[:200]
        body = r.json()
        assert body.get("ok") is False, str(body)[:300]
        assert body.get("error") == want, str(body)[:300]
    api_alive(gw, tm, bob)
