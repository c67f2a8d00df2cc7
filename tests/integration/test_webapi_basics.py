"""Web API front door (issue #6): api.test, auth.test, the three request
encodings (GET query, form POST, JSON POST), Bearer header vs `token`
parameter, Slack's auth errors, HTTP 200 for errors, bad and oversized bodies.
Real stack from conftest.py (rate limits off)."""
import json

import pytest
import requests

import webapi_helpers as W
from webapi_helpers import err, ok, web

VIAS = ["get", "form", "json"]


# ---- api.test

@pytest.mark.parametrize("via", VIAS)
def test_api_test_echoes_args(stack, via):
    a = web(stack, "api.test", None, via=via, foo="bar", n="1")
    assert a.status == 200, a
    assert a.headers.get("Content-Type", "").startswith("application/json"), a.headers
    assert a.body["ok"] is True, a
    assert a.body["args"] == {"foo": "bar", "n": "1"}, a


def test_api_test_error_param(stack):
    # Slack: api.test?error=my_error answers ok:false with that error, HTTP 200
    a = web(stack, "api.test", None, error="my_error")
    assert a.status == 200 and a.body["ok"] is False and a.body["error"] == "my_error", a


def test_api_test_needs_no_token_and_hides_it(stack, team):
    a = web(stack, "api.test", team.token("alice"), auth="param", x="1")
    assert a.body["ok"] is True, a
    assert "token" not in a.body["args"], "api.test must not echo the token: %r" % a


# ---- auth.test and the token

@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("auth", ["bearer", "param"])
def test_auth_test_every_encoding(stack, team, via, auth):
    a = web(stack, "auth.test", team.token("bob"), via=via, auth=auth)
    assert a.status == 200 and a.body and a.body.get("ok") is True, a
    b = a.body
    W.check_types(b, {"url": str, "team": str, "user": str, "team_id": str,
                      "user_id": str}, "auth.test")
    assert b["user_id"] == team.uid("bob"), b
    assert b["team_id"] == team.id, b
    assert b["user"] == "bob", b
    assert b["team"] == team.name, b


def test_auth_test_bearer_wins_over_param(stack, team):
    # a request carrying both: the header is what Slack's SDKs send
    r = requests.post(stack.http_url + "/api/auth.test",
                      headers={"Authorization": "Bearer " + team.token("alice")},
                      data={"token": "xoxp-garbage"}, timeout=10)
    body = r.json()
    assert r.status_code == 200, r.text
    # either the header is used, or the conflict is refused; never the other user
    assert body.get("user_id") in (team.uid("alice"), None), body


@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("method", ["auth.test", "chat.postMessage", "conversations.list",
                                    "users.list", "team.info", "rtm.connect",
                                    "events.poll"])
def test_not_authed_without_token(stack, method, via):
    a = web(stack, method, None, via=via, channel="C123", text="x")
    assert a.status == 200, "errors are HTTP 200 (only 429 differs): %r" % a
    assert a.body == {"ok": False, "error": "not_authed"} or (
        a.body and a.body.get("ok") is False and a.body.get("error") == "not_authed"), a


@pytest.mark.parametrize("tok", ["garbage", "xoxp-1-2-3", "eyJhbGciOiJIUzI1NiJ9.e30.AAAA",
                                 "a" * 1000], ids=["garbage", "xoxp", "jwt-like", "long"])
@pytest.mark.parametrize("auth", ["bearer", "param"])
def test_invalid_auth_with_bad_token(stack, tok, auth):
    a = web(stack, "auth.test", tok, auth=auth)
    assert a.status == 200, a
    assert a.body.get("ok") is False and a.body.get("error") == "invalid_auth", a


def test_token_of_a_user_with_a_tampered_signature(stack, team):
    tok = team.token("alice")
    bad = tok[:-2] + ("AA" if not tok.endswith("AA") else "BB")
    assert err(stack, "auth.test", bad) == "invalid_auth"


def test_admin_token_is_not_a_user_token(stack):
    # the admin token provisions; it is no user: auth.test must not pretend
    a = web(stack, "chat.postMessage", stack.admin_token, channel="C1", text="x")
    assert a.status == 200 and a.body["ok"] is False, a


def test_unknown_method(stack, team):
    for m in ("no.such.method", "chat.frobnicate"):
        a = web(stack, m, team.token("alice"))
        assert a.status == 200, a
        assert a.body["ok"] is False and a.body["error"] == "unknown_method", a
    # a method name with characters no method has
    r = requests.get(stack.http_url + "/api/..%2f..%2fetc", timeout=10)
    assert r.status_code in (200, 404), r.status_code
    if r.status_code == 200:
        assert r.json()["ok"] is False


# ---- encodings: each reaches the method with the same parameters

@pytest.mark.parametrize("via", VIAS)
@pytest.mark.parametrize("auth", ["bearer", "param"])
def test_post_message_every_encoding(stack, team, via, auth):
    text = "enc %s %s: ünïcødé & = + %% ? # \u2603" % (via, auth)
    a = web(stack, "chat.postMessage", team.token("alice"), via=via, auth=auth,
            channel=team.channel, text=text)
    assert a.status == 200 and a.body.get("ok") is True, a
    assert a.body["message"]["text"] == text, a
    h = ok(stack, "conversations.history", team.token("bob"), channel=team.channel,
           latest=a.body["ts"], inclusive="true", limit=1)
    assert h["messages"][0]["text"] == text and h["messages"][0]["ts"] == a.body["ts"], h


def test_json_body_with_non_string_values(stack, team):
    # JSON clients send numbers and booleans: limit=2 (number), inclusive=true (bool)
    tok = team.token("alice")
    for i in range(3):
        W.post(stack, tok, team.channel, "js%d" % i)
    r = requests.post(stack.http_url + "/api/conversations.history",
                      headers={"Authorization": "Bearer " + tok},
                      json={"channel": team.channel, "limit": 2, "inclusive": True},
                      timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["ok"] is True and len(body["messages"]) == 2, body


def test_json_charset_content_type(stack, team):
    r = requests.post(stack.http_url + "/api/chat.postMessage",
                      headers={"Authorization": "Bearer " + team.token("alice"),
                               "Content-Type": "application/json; charset=utf-8"},
                      data=json.dumps({"channel": team.channel, "text": "cs"}).encode(),
                      timeout=10)
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


@pytest.mark.parametrize("body", [b"{", b"[1,2]", b"\"str\"", b"{\"channel\":", b"\xff\xfe",
                                  b"{\"channel\": {\"a\": [1, {\"b\": null}]}}"])
def test_malformed_json_body(stack, team, body):
    r = requests.post(stack.http_url + "/api/chat.postMessage",
                      headers={"Authorization": "Bearer " + team.token("alice"),
                               "Content-Type": "application/json"},
                      data=body, timeout=10)
    assert r.status_code == 200, (r.status_code, r.text)
    b = r.json()
    assert b["ok"] is False, b
    assert b["error"] in ("invalid_json", "invalid_arguments", "channel_not_found",
                          "invalid_form_data", "no_text"), b
    assert ok(stack, "api.test", None)["ok"] is True


def test_form_body_with_repeated_and_empty_keys(stack, team):
    r = requests.post(stack.http_url + "/api/api.test",
                      data="a=1&a=2&=x&b=&c", timeout=10,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 200 and r.json()["ok"] is True, r.text


@pytest.mark.parametrize("size", [1 << 20, 8 << 20])
def test_body_over_limit_is_an_error_not_a_crash(stack, team, size):
    tok = team.token("alice")
    big = "x" * size
    try:
        r = requests.post(stack.http_url + "/api/chat.postMessage",
                          headers={"Authorization": "Bearer " + tok},
                          data={"channel": team.channel, "text": big}, timeout=20)
        assert r.status_code in (200, 413), (r.status_code, r.text[:200])
        if r.status_code == 200:
            assert r.json()["ok"] is False and r.json()["error"] in (
                "msg_too_long", "request_too_large", "invalid_arguments"), r.text[:300]
    except requests.ConnectionError:
        pass    # hanging up on an oversized body is acceptable; crashing is not
    # the gateways are alive and answer
    assert not stack.dead_children(), [c.name for c in stack.dead_children()]
    for _ in range(6):
        assert ok(stack, "auth.test", tok)["user_id"] == team.uid("alice")
    W.post(stack, tok, team.channel, "after the big body")


def test_many_parameters_and_long_values(stack, team):
    params = {"p%d" % i: "v" * 100 for i in range(200)}
    a = web(stack, "api.test", None, **params)
    assert a.status in (200, 413), a
    if a.status == 200:
        assert a.body["ok"] is True or a.body["error"] in ("invalid_arguments",
                                                            "request_too_large"), a
    assert not stack.dead_children()


def test_errors_are_http_200(stack, team):
    tok = team.token("alice")
    cases = [("chat.postMessage", dict(channel="C0NOSUCH1", text="x")),
             ("conversations.info", dict(channel="C0NOSUCH1")),
             ("users.info", dict(user="U0NOSUCH1")),
             ("conversations.history", dict(channel="C0NOSUCH1"))]
    for method, params in cases:
        a = web(stack, method, tok, **params)
        assert a.status == 200, (method, a)
        assert a.body["ok"] is False and isinstance(a.body["error"], str), (method, a)


def test_odd_paths_are_not_a_crash(stack):
    for path in ("/api/", "/api", "/api/%00", "/api/a.b?x=%zz&&=", "/api/" + "a" * 300):
        r = requests.get(stack.http_url + path, timeout=10)
        assert r.status_code in (200, 400, 404, 414), (path, r.status_code)
        if r.status_code == 200:
            assert r.json()["ok"] is False, (path, r.text)
    assert ok(stack, "api.test", None)["ok"]


def test_oversized_url_and_headers_are_not_a_crash(stack, team):
    # beyond the server's header buffer: an error status or a hang-up, then life goes on
    for kw in (dict(url=stack.http_url + "/api/api.test?x=" + "a" * 20000),
               dict(url=stack.http_url + "/api/auth.test",
                    headers={"Authorization": "Bearer " + "a" * 20000}),
               dict(url=stack.http_url + "/api/auth.test",
                    headers={"X-Filler-%d" % i: "b" * 500 for i in range(100)})):
        try:
            r = requests.get(timeout=10, **kw)
            assert r.status_code in (200, 400, 413, 414, 431), r.status_code
            if r.status_code == 200:
                assert r.json()["ok"] is False
        except requests.ConnectionError:
            pass
    assert not stack.dead_children(), [c.name for c in stack.dead_children()]
    for _ in range(4):
        assert ok(stack, "auth.test", team.token("alice"))["user_id"] == team.uid("alice")
