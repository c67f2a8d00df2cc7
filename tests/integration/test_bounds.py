"""Bounded replies and per-message state (issue #10 item 5, docs/security.md
section 5), against the real stack:

- a conversations.history / conversations.replies page ends at
  PARLEY_MS_PAGE_MAX_BYTES of JSON (default 4 MiB) with has_more and a cursor,
  and paging through returns every message exactly once, in order (a page of
  1,000 messages of 40,000 emoji would be 160 MB, past the 64 MiB RPC limit);
- the other paged replies (conversations.list, users.conversations,
  users.list, conversations.members) end at the same byte bound;
- conversations.members pages 100 ids by default (Slack's), at most 1000;
- reactions.add stops at Slack's too_many_emoji (23 distinct emoji a
  message by default) and too_many_reactions (PARLEY_MS_REACTIONS_MAX);
- message-svc's channel table stays bounded while a client names thousands
  of channels that do not exist, and idle entries of real channels are
  evicted and reloaded without reusing a seq.
"""
import random
import string

import pytest

import conftest
import parley
import webapi_helpers as W
from webapi_helpers import err, ok

EMOJI = "\U0001F600"                # 4 bytes in UTF-8
BIG_TEXT = EMOJI * 40000            # Slack's longest text: 160,000 bytes
PAGE_MAX = 4 << 20                  # PARLEY_MS_PAGE_MAX_BYTES' default
SMALL_PAGE = 4096                   # the private stack's page bound


def _pages(stack, method, tok, key, cursor_of=None, max_pages=500, **params):
    """every page of a cursor-paged method: (items in order, bodies, raw sizes)"""
    items, bodies, sizes, cursor = [], [], [], None
    for _ in range(max_pages):
        a = W.web(stack, method, tok, cursor=cursor, **params)
        assert a.status == 200 and a.body and a.body.get("ok") is True, (method, a)
        bodies.append(a.body)
        sizes.append(len(a.text.encode()))
        items += a.body[key]
        cursor = a.body.get("response_metadata", {}).get("next_cursor", "")
        if not cursor:
            return items, bodies, sizes
    raise AssertionError("%s: more than %d pages" % (method, max_pages))


def _metric(stack, daemon, name, labels=""):
    fams = parley.parse_prometheus(
        parley.Api(stack.ops[daemon]).session.get(stack.ops[daemon] + "/metrics",
                                                  timeout=5).text)
    fam = fams.get(name)
    assert fam is not None, "%s has no metric %s" % (daemon, name)
    total = 0.0
    for _, lab, value in fam["samples"]:
        if all(dict(lab).get(k) == v for k, v in labels):
            total += value
    return total


def _shards(stack):
    return [n for n in stack.ops if n.startswith("message-svc-")]


# ---- history and replies: the default byte bound

def test_history_page_bounded_by_bytes(stack, team):
    """40 messages of 40,000 emoji (6.4 MB): the page of limit=1000 stops at
    4 MiB with has_more and a cursor; paging gives every message once"""
    tok = team.token("alice")
    ch = ok(stack, "conversations.create", tok, name=parley.unique("big-"))["channel"]["id"]
    posted = [W.post(stack, tok, ch, BIG_TEXT, via="json")["ts"] for _ in range(40)]
    msgs, bodies, sizes = _pages(stack, "conversations.history", tok, "messages",
                                 channel=ch, limit=1000)
    assert len(bodies) >= 2, "one page of %d bytes" % sizes[0]
    assert bodies[0]["has_more"] is True and bodies[-1]["has_more"] is False
    for size, body in zip(sizes, bodies):
        # the bound is on message-svc's JSON; the gateway adds "ok":true
        assert size <= PAGE_MAX + 64, size
        assert body["messages"], body
    msgs = [m for m in msgs if m.get("subtype") is None]   # not channel_join
    assert [m["ts"] for m in msgs] == list(reversed(posted))
    assert all(m["text"] == BIG_TEXT for m in msgs)


def test_replies_page_bounded_by_bytes(stack, team):
    tok = team.token("bob")
    ch = team.channel
    root = W.post(stack, tok, ch, "root of a big thread")["ts"]
    replies = [W.post(stack, team.token("carol"), ch, BIG_TEXT, via="json",
                      thread_ts=root)["ts"] for _ in range(40)]
    msgs, bodies, sizes = _pages(stack, "conversations.replies", tok, "messages",
                                 channel=ch, ts=root, limit=1000)
    assert len(bodies) >= 2 and bodies[0]["has_more"] is True
    assert max(sizes) <= PAGE_MAX + 64, sizes
    assert [m["ts"] for m in msgs] == [root] + replies   # the parent once, first


# ---- conversations.members: 100 by default

def test_members_default_page_is_100(stack, api):
    names = tuple("m%03d" % i for i in range(150))
    t = parley.provision(stack, users=names, channel="crowd")
    tok = t.token("m000")
    first = ok(stack, "conversations.members", tok, channel=t.channel)
    assert len(first["members"]) == 100, len(first["members"])
    assert first["response_metadata"]["next_cursor"]
    every, bodies, _ = _pages(stack, "conversations.members", tok, "members",
                              channel=t.channel)
    assert [len(b["members"]) for b in bodies] == [100, 50]
    assert sorted(every) == sorted(t.uid(n) for n in names) and len(set(every)) == 150
    # limit is capped at 1000 (Slack's), and a bigger one is not refused
    assert len(ok(stack, "conversations.members", tok, channel=t.channel,
                  limit=5000)["members"]) == 150


# ---- reactions: Slack's caps

def test_too_many_emoji(stack, team):
    tok = team.token("alice")
    ts = W.post(stack, tok, team.channel, "react to me")["ts"]
    names = ["e%02d" % i for i in range(23)]
    for i, n in enumerate(names):
        ok(stack, "reactions.add", team.token("alice" if i % 2 else "bob"),
           channel=team.channel, timestamp=ts, name=n)
    assert err(stack, "reactions.add", tok, channel=team.channel, timestamp=ts,
               name="one_more") == "too_many_emoji"
    # an emoji already there may still be added by someone else
    ok(stack, "reactions.add", team.token("carol"), channel=team.channel, timestamp=ts,
       name="e00")
    # already_reacted is still what a repeat gets
    assert err(stack, "reactions.add", team.token("carol"), channel=team.channel,
               timestamp=ts, name="e00") == "already_reacted"
    # a removed emoji frees its place
    ok(stack, "reactions.remove", team.token("bob"), channel=team.channel, timestamp=ts,
       name="e02")
    ok(stack, "reactions.add", tok, channel=team.channel, timestamp=ts, name="one_more")
    got = ok(stack, "reactions.get", tok, channel=team.channel, timestamp=ts)
    rx = got["message"]["reactions"]
    assert len(rx) == 23 and "e02" not in [r["name"] for r in rx]
    assert rx[-1]["name"] == "one_more"
    assert [r["count"] for r in rx if r["name"] == "e00"] == [2]


# ---- a private stack with small bounds

@pytest.fixture(scope="module")
def small():
    env = dict(conftest.TEST_ENV)
    env.update({
        "PARLEY_MS_PAGE_MAX_BYTES": str(SMALL_PAGE),
        "PARLEY_MS_REACTIONS_MAX": "5",
        "PARLEY_MS_CHANNELS_MAX": "64",
        "PARLEY_MS_CHANNEL_IDLE_S": "1",
    })
    st = conftest.start_stack(prefix="parley-it-bounds-", shards=2, gateways=1,
                              extra_env=env)
    yield st
    conftest.stop_stack(st)


def _check_paged(items, bodies, sizes, want_ids, key="id"):
    assert len(bodies) >= 2, "not paged: %d bytes" % sizes[0]
    assert max(sizes) <= SMALL_PAGE + 64, sizes
    ids = [x[key] if isinstance(x, dict) else x for x in items]
    assert len(ids) == len(set(ids)), "an item came twice"
    assert set(want_ids) <= set(ids)


def test_lists_bounded_by_bytes(small):
    t = parley.provision(small, users=tuple("u%02d" % i for i in range(60)), channel="lists")
    tok = t.token("u00")
    made = [ok(small, "conversations.create", tok, name=parley.unique("c-" + "x" * 60))[
        "channel"]["id"] for _ in range(30)]
    items, bodies, sizes = _pages(small, "conversations.list", tok, "channels", limit=1000)
    _check_paged(items, bodies, sizes, made)
    items, bodies, sizes = _pages(small, "users.conversations", tok, "channels",
                                  limit=1000)
    _check_paged(items, bodies, sizes, made + [t.channel])
    items, bodies, sizes = _pages(small, "users.list", tok, "members", limit=1000)
    _check_paged(items, bodies, sizes, [t.uid("u%02d" % i) for i in range(60)])
    items, bodies, sizes = _pages(small, "conversations.members", tok, "members",
                                  channel=t.channel, limit=1000)
    assert len(items) == 60
    assert len(bodies) == 1     # 60 ids are far below 4096 bytes


def test_history_small_bound_every_message_once(small):
    t = parley.provision(small, users=("h1", "h2"), channel="hist")
    tok = t.token("h1")
    text = ("\"quoted\\" + EMOJI) * 100          # JSON escapes and 4-byte characters
    posted = [W.post(small, tok, t.channel, "%d %s" % (i, text))["ts"] for i in range(30)]
    root = posted[0]
    replies = [W.post(small, t.token("h2"), t.channel, "%d %s" % (i, text),
                      thread_ts=root)["ts"] for i in range(20)]
    msgs, bodies, sizes = _pages(small, "conversations.history", tok, "messages",
                                 channel=t.channel, limit=1000)
    assert len(bodies) > 2 and max(sizes) <= SMALL_PAGE + 64
    top = [m["ts"] for m in msgs if m.get("subtype") is None]
    assert top == list(reversed(posted))
    msgs, bodies, sizes = _pages(small, "conversations.replies", tok, "messages",
                                 channel=t.channel, ts=root, limit=1000)
    assert len(bodies) > 2 and max(sizes) <= SMALL_PAGE + 64
    assert [m["ts"] for m in msgs] == [root] + replies


def test_too_many_reactions(small):
    users = tuple("r%d" % i for i in range(7))
    t = parley.provision(small, users=users, channel="rx")
    ts = W.post(small, t.token("r0"), t.channel, "popular")["ts"]
    for u in users[:5]:
        ok(small, "reactions.add", t.token(u), channel=t.channel, timestamp=ts,
           name="thumbsup")
    assert err(small, "reactions.add", t.token("r5"), channel=t.channel, timestamp=ts,
               name="thumbsup") == "too_many_reactions"
    ok(small, "reactions.remove", t.token("r1"), channel=t.channel, timestamp=ts,
       name="thumbsup")
    ok(small, "reactions.add", t.token("r6"), channel=t.channel, timestamp=ts,
       name="tada")
    got = ok(small, "reactions.get", t.token("r0"), channel=t.channel, timestamp=ts)
    assert sum(r["count"] for r in got["message"]["reactions"]) == 5


def _random_channel_id(rng):
    return "C" + "".join(rng.choice(string.ascii_uppercase + string.digits)
                         for _ in range(10))


def test_unknown_channels_do_not_grow_the_table(small):
    """3,000 channels that do not exist: every one is channel_not_found, and
    the table of each shard stays within its cap (64) - the entries of
    unknown channels are dropped as soon as the directory says so"""
    t = parley.provision(small, users=("q1",), channel=None)
    tok = t.token("q1")
    rng = random.Random(10)
    before = sum(_metric(small, s, "parley_ms_channel_evictions_total",
                         (("reason", "not_found"),)) for s in _shards(small))
    session = parley.Api(small.http_url).session
    for _ in range(3000):
        r = session.post(small.http_url + "/api/conversations.history",
                         headers={"Authorization": "Bearer " + tok},
                         data={"channel": _random_channel_id(rng)}, timeout=15)
        assert r.json().get("error") == "channel_not_found", r.text
    for s in _shards(small):
        assert _metric(small, s, "parley_ms_channels") <= 64
    after = sum(_metric(small, s, "parley_ms_channel_evictions_total",
                        (("reason", "not_found"),)) for s in _shards(small))
    assert after - before >= 3000


def test_idle_channels_evicted_and_reloaded(small):
    """real channels idle for PARLEY_MS_CHANNEL_IDLE_S (1 s here) leave the
    table; using one again reloads it and its seq goes on where it was"""
    t = parley.provision(small, users=("i1", "i2"), channel="idle")
    tok = t.token("i1")
    chans = [t.channel] + [ok(small, "conversations.create", tok,
                              name=parley.unique("idle-"))["channel"]["id"]
                           for _ in range(150)]
    last = {}
    for ch in chans:
        last[ch] = W.post(small, tok, ch, "before")["message"]["seq"]
    # more channels than PARLEY_MS_CHANNELS_MAX (64 a shard) were used; an
    # entry is evicted once its events are in PostgreSQL
    parley.wait_for(lambda: all(_metric(small, s, "parley_ms_channels") <= 64
                                for s in _shards(small)), what="tables within the cap")

    def evicted():
        return sum(_metric(small, s, "parley_ms_channel_evictions_total",
                           (("reason", "idle"),)) for s in _shards(small)) > 0
    parley.wait_for(evicted, what="idle channel entries evicted")
    for ch in chans:
        m = W.post(small, tok, ch, "after")
        assert m["message"]["seq"] == last[ch] + 1, (ch, m, last[ch])
        hist = ok(small, "conversations.history", tok, channel=ch, limit=2)
        assert [x["text"] for x in hist["messages"]] == ["after", "before"], hist


def test_resume_over_the_byte_bound_is_resync(small):
    """channel.replay (resume) of more than PARLEY_MS_PAGE_MAX_BYTES of
    events answers resync_required (the client reloads history, whose pages
    are bounded) instead of a reply too big to carry; a small gap replays"""
    t = parley.provision(small, users=("w1", "w2"), channel="resume")
    ch = t.channel
    first = W.post(small, t.token("w1"), ch, "seen")["message"]["seq"]
    missed = W.post(small, t.token("w1"), ch, "one missed")["message"]["seq"]
    with parley.Ws(small.ws_url, t.token("w2")) as ws:
        r = ws.request({"type": "resume", "last_seq": {ch: first}})
        assert r["type"] == "resumed", r
        got = [e["seq"] for e in ws.events if e.get("type") == "message" and
               e.get("channel") == ch and "reply_to" not in e]
        assert got == [missed], ws.events
        assert not ws.matching(lambda e: e.get("type") == "resync_required")
    for i in range(10):
        W.post(small, t.token("w1"), ch, "%d %s" % (i, "y" * 1000))
    with parley.Ws(small.ws_url, t.token("w2")) as ws:
        r = ws.request({"type": "resume", "last_seq": {ch: missed}})
        assert r["type"] == "resumed", r
        assert ws.matching(lambda e: e.get("type") == "resync_required") == [
            {"type": "resync_required", "channel": ch}], ws.events


def test_member_lookup_pages_through_a_large_channel(small):
    """the gateway's membership fence (gateway/members.c) on a channel whose
    members take several pages: this gateway applies parley.events 5 s late
    (PARLEY_TEST_EVENTS_LAG_MS), so it learns that the creator is a member
    only from conversations.members; the creator sorts last (beyond the first
    page: 401 ids are ~5.6 KB, the pages here hold 4096 bytes), and must
    still get the channel's first message live"""
    from test_gateway_limits import ExtraGateway
    names = tuple("f%03d" % i for i in range(401))
    t = parley.provision(small, users=names, channel=None)
    last = max(names, key=t.uid)
    gw = ExtraGateway(small, "gateway-bounds-lag", {"PARLEY_TEST_EVENTS_LAG_MS": "5000"})
    try:
        with parley.Ws(gw.ws_url, t.token(last)) as ws:
            tok = t.token(last)
            ch = ok(small, "conversations.create", tok, name=parley.unique("wide-"),
                    is_private="true")["channel"]["id"]
            ok(small, "conversations.invite", tok, channel=ch,
               users=",".join(t.uid(n) for n in names if n != last))
            ts = W.post(small, tok, ch, "hello, all 401")["ts"]

            def hello(e):
                return e.get("type") == "message" and e.get("ts") == ts

            def joined(e):
                return e.get("type") == "member_joined_channel" and e.get("channel") == ch
            ws.wait_event(hello, timeout=30, what="the channel's first message")
            ws.wait_event(joined, timeout=30, what="the late membership event")
            # the message came through the look-up, not after the late event
            kinds = ["hello" if hello(e) else "joined" for e in ws.events
                     if hello(e) or joined(e)]
            assert kinds[0] == "hello", kinds
        assert gw.metric("parley_gateway_member_lookups_total", result="ok") >= 1
    finally:
        gw.stop()
