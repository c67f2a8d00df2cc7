"""Rate limits (issue #6) and rtm.connect URL expiry, on a private stack
started with the rate limits ON (no PARLEY_RATE_LIMITS=0) and a short
rtm.connect URL lifetime (PARLEY_TICKET_TTL_S=2 instead of 30) so that the
expiry is testable in seconds. One gateway and one shard keep it cheap."""
import concurrent.futures
import time

import pytest

import conftest
import parley
import webapi_helpers as W

TICKET_TTL_S = 2


@pytest.fixture(scope="module")
def limited():
    env = dict(conftest.TEST_ENV)
    env.pop("PARLEY_RATE_LIMITS", None)
    env["PARLEY_TICKET_TTL_S"] = str(TICKET_TTL_S)
    try:
        st = conftest.start_stack(prefix="parley-it-rl-", gateways=1, shards=1,
                                  extra_env=env)
    except conftest.stackmod.StackError as e:
        pytest.fail("the rate-limited stack did not start:\n%s" % e, pytrace=False)
    try:
        yield st
    finally:
        conftest.stop_stack(st)


@pytest.fixture
def lteam(limited):
    return parley.provision(limited)


def test_burst_of_posts_gets_429(limited, lteam):
    tok = lteam.token("alice")
    answers = []

    def one(i):
        return W.web(limited, "chat.postMessage", tok, channel=lteam.channel,
                     text="burst %d" % i)
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        answers = list(ex.map(one, range(60)))
    codes = [a.status for a in answers]
    assert set(codes) <= {200, 429}, codes
    limited_ = [a for a in answers if a.status == 429]
    assert limited_, "60 posts to one channel in a burst were all accepted: %r" % codes
    assert any(a.status == 200 and a.body["ok"] for a in answers), \
        "a burst must first be allowed: %r" % codes[:10]
    for a in limited_:
        assert a.body == {"ok": False, "error": "ratelimited"}, a
        ra = a.headers.get("Retry-After")
        assert ra is not None and ra.isdigit() and 1 <= int(ra) <= 120, \
            "429 needs an integer Retry-After in seconds: %r" % dict(a.headers)
    # the 200s are real messages, the 429s are not
    acked = {a.body["ts"] for a in answers if a.status == 200 and a.body["ok"]}
    seen, _ = W.history_all(limited, tok, lteam.channel, 200)
    assert acked <= set(seen)
    texts = {a.body["message"]["text"] for a in answers if a.status == 200 and a.body["ok"]}
    hist = W.ok(limited, "conversations.history", tok, channel=lteam.channel, limit=200)
    assert {m["text"] for m in hist["messages"] if m["text"].startswith("burst")} == texts
    # after Retry-After, posting works again
    wait = max(int(a.headers["Retry-After"]) for a in limited_)
    deadline = time.monotonic() + wait + 10
    while True:
        a = W.web(limited, "chat.postMessage", tok, channel=lteam.channel, text="after")
        if a.status == 200:
            assert a.body["ok"] is True, a
            break
        assert a.status == 429 and time.monotonic() < deadline, \
            "still limited %ss after Retry-After: %r" % (wait + 10, a)
        time.sleep(float(a.headers.get("Retry-After", "1")))


def test_limit_is_per_channel_not_global(limited, lteam):
    """a burst in one channel does not stop another user's post elsewhere"""
    tok = lteam.token("alice")
    other = W.ok(limited, "conversations.create", lteam.token("bob"),
                 name=parley.unique("rl-"))["channel"]["id"]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        list(ex.map(lambda i: W.web(limited, "chat.postMessage", tok,
                                    channel=lteam.channel, text="b%d" % i), range(40)))
    a = W.web(limited, "chat.postMessage", lteam.token("bob"), channel=other, text="free")
    assert a.status == 200 and a.body["ok"] is True, a


def test_reads_are_not_limited_like_posts(limited, lteam):
    """Tier 3/4 methods allow far more than chat.postMessage's ~1/s"""
    tok = lteam.token("bob")
    codes = [W.web(limited, "conversations.history", tok, channel=lteam.channel,
                   limit=1).status for _ in range(15)]
    assert codes.count(200) == 15, codes


def test_rtm_url_expires(limited, lteam):
    b = W.ok(limited, "rtm.connect", lteam.token("alice"))
    fresh = W.ok(limited, "rtm.connect", lteam.token("alice"))
    with parley.Ws(fresh["url"]) as ws:
        assert ws.hello["type"] == "hello"
    # the URL's lifetime is the condition under test: let it pass (with margin)
    t_end = time.monotonic() + TICKET_TTL_S + 1.5
    parley.wait_for(lambda: time.monotonic() >= t_end, TICKET_TTL_S + 5, "ttl to pass")
    try:
        ws = parley.Ws(b["url"], timeout=5, expect_hello=False)
    except Exception:
        return      # refused: expected
    try:
        closed = ws.wait_closed(5)
        assert closed is not None and not ws.matching(lambda e: e.get("type") == "hello"), \
            "an expired rtm.connect url still opened a session"
    finally:
        ws.close()


def test_oversized_body_with_limits_on(limited, lteam):
    try:
        W.web(limited, "chat.postMessage", lteam.token("carol"), channel=lteam.channel,
              text="y" * (4 << 20), http_timeout=20)
    except Exception:
        pass
    assert not limited.dead_children(), [c.name for c in limited.dead_children()]
    assert W.ok(limited, "auth.test", lteam.token("carol"))["user"] == "carol"


def test_post_limit_is_per_user_and_channel(limited, lteam):
    """alice hitting chat.postMessage's limit on a channel does not limit bob
    on the same channel (the bucket is keyed by user and channel, not by
    channel alone: one member could otherwise silence a channel's Web API)"""
    tok, ch = lteam.token("alice"), lteam.channel
    codes = []
    for i in range(40):
        a = W.web(limited, "chat.postMessage", tok, channel=ch, text="a%d" % i)
        codes.append(a.status)
        if a.status == 429:
            break
    assert codes[-1] == 429, "40 posts by one user were all accepted: %r" % codes
    # alice is limited on ch right now; bob and carol are not
    for who in ("bob", "carol"):
        b = W.web(limited, "chat.postMessage", lteam.token(who), channel=ch,
                  text="from %s" % who)
        assert b.status == 200 and b.body["ok"] is True, (who, b)
