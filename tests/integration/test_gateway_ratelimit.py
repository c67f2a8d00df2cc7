"""Web API rate limits by Slack tier (a column of the gateway's dispatch
table): 429 with Retry-After and {"ok":false,"error":"ratelimited"};
chat.postMessage limited per channel; PARLEY_RATE_LIMITS=0 turns them off."""
import parley
from test_gateway_limits import extra_gateway  # noqa: F401  (fixture)


def _until_429(api, n, *args, **kw):
    for i in range(n):
        r = api.raw(*args, **kw)
        if r.status_code == 429:
            return i, r
        assert r.status_code == 200 and r.json().get("ok"), r.text
    return n, None


def test_tier1_rtm_connect_429_retry_after(stack, team, extra_gateway):
    gw = extra_gateway(PARLEY_RATE_LIMITS=1)
    api = parley.Api(gw.http_url)
    n, r = _until_429(api, 10, "rtm.connect", team.token("alice"))
    assert r is not None and n == 3, n            # Tier 1: burst 3
    assert r.json() == {"ok": False, "error": "ratelimited"}
    assert int(r.headers["Retry-After"]) >= 1
    # per (user, method): another user and another method still pass
    assert api.call("rtm.connect", team.token("bob"))["ok"]
    assert api.call("auth.test", team.token("alice"))["ok"]


def test_post_message_limited_per_user_and_channel(stack, team, extra_gateway, api):
    gw = extra_gateway(PARLEY_RATE_LIMITS=1)
    gapi = parley.Api(gw.http_url)
    n, r = _until_429(gapi, 30, "chat.postMessage", team.token("alice"),
                      channel=team.channel, text="burst")
    assert r is not None and n == 10, n           # burst 10, then ~1/s
    assert int(r.headers["Retry-After"]) >= 1
    # the bucket is the user's on that channel (docs/security.md §8): bob
    # still posts there, alice is still limited there
    assert gapi.call("chat.postMessage", team.token("bob"), channel=team.channel, text="x")["ok"]
    r = gapi.raw("chat.postMessage", team.token("alice"), channel=team.channel, text="x")
    assert r.status_code == 429
    other = gapi.call("conversations.create", team.token("alice"),
                      name=parley.unique("rl-"))["channel"]["id"]
    assert gapi.call("chat.postMessage", team.token("alice"), channel=other, text="y")["ok"]


def test_rate_limits_off(stack, team, api):
    # the session stack runs with PARLEY_RATE_LIMITS=0
    for _ in range(6):
        assert api.call("rtm.connect", team.token("carol"))["ok"]
