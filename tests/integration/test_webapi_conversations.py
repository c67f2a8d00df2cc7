"""conversations.* (issue #6): create / list / info / history / replies / join
/ leave / invite / kick / members / open, with Slack's shapes, error codes
and cursor pagination; history pages never skip or repeat, also while new
messages arrive between pages."""
import threading

import pytest

import parley
import webapi_helpers as W
from webapi_helpers import err, ok


def _mkchan(stack, tok, private=False, prefix="c-"):
    b = ok(stack, "conversations.create", tok, name=parley.unique(prefix),
           is_private="true" if private else None)
    return b["channel"]


# ---- create

def test_create_shape(stack, team):
    name = parley.unique("new-")
    b = ok(stack, "conversations.create", team.token("alice"), name=name)
    ch = b["channel"]
    W.check_channel(ch, "conversations.create.channel")
    assert ch["id"][0] == "C" and ch["name"] == name, ch
    assert ch["creator"] == team.uid("alice") and ch["is_member"] is True, ch
    g = _mkchan(stack, team.token("alice"), private=True)
    W.check_channel(g, "conversations.create(private).channel")
    assert g["id"][0] == "G" and g["is_private"] is True, g


def test_create_errors(stack, team):
    tok = team.token("alice")
    name = parley.unique("dup-")
    ok(stack, "conversations.create", tok, name=name)
    assert err(stack, "conversations.create", team.token("bob"), name=name) == "name_taken"
    assert err(stack, "conversations.create", tok) in ("invalid_name_required",
                                                       "invalid_arguments")
    assert err(stack, "conversations.create", tok, name="") in ("invalid_name_required",
                                                                "invalid_arguments")
    assert err(stack, "conversations.create", tok, name="Has Spaces!") in (
        "invalid_name_specials", "invalid_name", "invalid_arguments")
    assert err(stack, "conversations.create", tok, name="x" * 81) in (
        "invalid_name_maxlength", "invalid_name", "invalid_arguments")
    # another team may use the same name
    other = parley.provision(stack, users=("erin",), channel=None)
    ok(stack, "conversations.create", other.token("erin"), name=name)


# ---- info

def test_info_shape_and_errors(stack, team):
    b = ok(stack, "conversations.info", team.token("bob"), channel=team.channel)
    W.check_channel(b["channel"], "conversations.info.channel")
    assert b["channel"]["id"] == team.channel and b["channel"]["is_member"] is True, b
    assert err(stack, "conversations.info", team.token("bob"),
               channel="C0NOSUCH11") == "channel_not_found"
    assert err(stack, "conversations.info", team.token("bob")) in (
        "channel_not_found", "invalid_arguments")
    priv = _mkchan(stack, team.token("alice"), private=True)
    assert err(stack, "conversations.info", team.token("bob"),
               channel=priv["id"]) == "channel_not_found"
    other = parley.provision(stack, users=("frank",), channel=None)
    assert err(stack, "conversations.info", other.token("frank"),
               channel=team.channel) == "channel_not_found"


# ---- list

def test_list_shape_and_types(stack):
    t = parley.provision(stack, users=("alice", "bob"), channel=None)
    pub = [_mkchan(stack, t.token("alice"), prefix="pub-") for _ in range(3)]
    priv = _mkchan(stack, t.token("alice"), private=True)
    b = ok(stack, "conversations.list", t.token("bob"))
    W.check_types(b, {"channels": list}, "conversations.list")
    W.check_next_cursor(b, "conversations.list")
    for ch in b["channels"]:
        W.check_channel(ch, "conversations.list.channels[]")
    ids = {c["id"] for c in b["channels"]}
    # default types=public_channel: every public channel of the team, member or not
    assert {c["id"] for c in pub} <= ids, b
    assert priv["id"] not in ids, "a private channel bob is not in: %r" % b
    assert all(not c["is_member"] for c in b["channels"] if c["id"] in
               {p["id"] for p in pub}), b
    # alice asks for private ones too
    b = ok(stack, "conversations.list", t.token("alice"),
           types="public_channel,private_channel")
    ids = {c["id"] for c in b["channels"]}
    assert priv["id"] in ids and {c["id"] for c in pub} <= ids, b
    b = ok(stack, "conversations.list", t.token("alice"), types="private_channel")
    assert {c["id"] for c in b["channels"]} == {priv["id"]}, b
    # never another team's channels
    other = parley.provision(stack, users=("gus",))
    b = ok(stack, "conversations.list", t.token("alice"), limit=1000)
    assert other.channel not in {c["id"] for c in b["channels"]}


def test_list_pagination(stack):
    t = parley.provision(stack, users=("alice",), channel=None)
    made = {_mkchan(stack, t.token("alice"), prefix="pg-")["id"] for _ in range(7)}
    seen, cursor = [], None
    for _ in range(20):
        b = ok(stack, "conversations.list", t.token("alice"), limit=2, cursor=cursor)
        assert len(b["channels"]) <= 2, b
        seen += [c["id"] for c in b["channels"] if not c["is_general"]]
        cursor = W.check_next_cursor(b, "conversations.list")
        if not cursor:
            break
    assert len(seen) == len(set(seen)), "a channel repeated across pages: %r" % seen
    assert set(seen) == made, (seen, made)
    assert err(stack, "conversations.list", t.token("alice"),
               cursor="bm90IGEgY3Vyc29y") == "invalid_cursor"


# ---- join / leave / invite / kick / members

def test_join_leave(stack, team):
    ch = _mkchan(stack, team.token("alice"))
    b = ok(stack, "conversations.join", team.token("bob"), channel=ch["id"])
    W.check_channel(b["channel"], "conversations.join.channel")
    assert b["channel"]["id"] == ch["id"], b
    m = ok(stack, "conversations.members", team.token("alice"), channel=ch["id"])
    assert team.uid("bob") in m["members"], m
    # joining again is fine (Slack: ok, with a warning already_in_channel)
    b = ok(stack, "conversations.join", team.token("bob"), channel=ch["id"])
    assert b["channel"]["id"] == ch["id"]
    ok(stack, "conversations.leave", team.token("bob"), channel=ch["id"])
    m = ok(stack, "conversations.members", team.token("alice"), channel=ch["id"])
    assert team.uid("bob") not in m["members"], m
    # leaving again: Slack answers not_in_channel (as a flag or an error)
    a = W.web(stack, "conversations.leave", team.token("bob"), channel=ch["id"])
    assert a.status == 200 and (a.body.get("not_in_channel") is True or
                                a.body.get("error") == "not_in_channel"), a
    assert err(stack, "conversations.join", team.token("bob"),
               channel="C0NOSUCH22") == "channel_not_found"
    assert err(stack, "conversations.leave", team.token("bob"),
               channel="C0NOSUCH22") == "channel_not_found"


def test_join_private_is_refused(stack, team):
    priv = _mkchan(stack, team.token("alice"), private=True)
    assert err(stack, "conversations.join", team.token("bob"), channel=priv["id"]) in (
        "channel_not_found", "method_not_supported_for_channel_type")


def test_invite_kick(stack, team):
    priv = _mkchan(stack, team.token("alice"), private=True)
    b = ok(stack, "conversations.invite", team.token("alice"), channel=priv["id"],
           users=team.uid("bob"))
    W.check_channel(b["channel"], "conversations.invite.channel")
    assert err(stack, "conversations.invite", team.token("alice"), channel=priv["id"],
               users=team.uid("bob")) == "already_in_channel"
    assert err(stack, "conversations.invite", team.token("alice"), channel=priv["id"],
               users="U0NOSUCH44") == "user_not_found"
    assert err(stack, "conversations.invite", team.token("alice"), channel=priv["id"]) in (
        "no_user", "invalid_arguments", "user_not_found")
    # carol, not a member, cannot invite into it
    assert err(stack, "conversations.invite", team.token("carol"), channel=priv["id"],
               users=team.uid("carol")) in ("channel_not_found", "not_in_channel")
    # a user of another team cannot be invited
    other = parley.provision(stack, users=("hank",), channel=None)
    assert err(stack, "conversations.invite", team.token("alice"), channel=priv["id"],
               users=other.uid("hank")) in ("user_not_found", "cant_invite")
    W.post(stack, team.token("bob"), priv["id"], "bob can post")
    ok(stack, "conversations.kick", team.token("alice"), channel=priv["id"],
       user=team.uid("bob"))
    assert err(stack, "chat.postMessage", team.token("bob"), channel=priv["id"],
               text="gone") in ("channel_not_found", "not_in_channel")
    assert err(stack, "conversations.kick", team.token("alice"), channel=priv["id"],
               user=team.uid("bob")) == "not_in_channel"
    assert err(stack, "conversations.kick", team.token("alice"), channel=priv["id"],
               user=team.uid("alice")) == "cant_kick_self"


def test_members_shape_and_pages(stack, team):
    b = ok(stack, "conversations.members", team.token("alice"), channel=team.channel)
    W.check_types(b, {"members": list}, "conversations.members")
    W.check_next_cursor(b, "conversations.members")
    assert set(b["members"]) == {team.uid(n) for n in ("alice", "bob", "carol")}, b
    seen, cursor = [], None
    for _ in range(10):
        b = ok(stack, "conversations.members", team.token("alice"), channel=team.channel,
               limit=1, cursor=cursor)
        assert len(b["members"]) <= 1
        seen += b["members"]
        cursor = W.check_next_cursor(b, "conversations.members")
        if not cursor:
            break
    assert sorted(seen) == sorted({team.uid(n) for n in ("alice", "bob", "carol")}), seen
    assert err(stack, "conversations.members", team.token("alice"),
               channel="C0NOSUCH66") == "channel_not_found"
    priv = _mkchan(stack, team.token("alice"), private=True)
    assert err(stack, "conversations.members", team.token("bob"),
               channel=priv["id"]) == "channel_not_found"


def test_open_dm(stack, team):
    b = ok(stack, "conversations.open", team.token("alice"), users=team.uid("bob"))
    ch = b["channel"]
    W.check_types(ch, {"id": str}, "conversations.open.channel")
    assert ch["id"][0] == "D", ch
    b2 = ok(stack, "conversations.open", team.token("bob"), users=team.uid("alice"))
    assert b2["channel"]["id"] == ch["id"], "the same DM from both sides: %r %r" % (b, b2)
    p = W.post(stack, team.token("alice"), ch["id"], "psst")
    h = ok(stack, "conversations.history", team.token("bob"), channel=ch["id"])
    assert [m["ts"] for m in h["messages"]] == [p["ts"]], h
    assert err(stack, "conversations.history", team.token("carol"),
               channel=ch["id"]) in ("channel_not_found", "not_in_channel")
    assert err(stack, "conversations.open", team.token("alice"),
               users="U0NOSUCH88") == "user_not_found"
    assert err(stack, "conversations.open", team.token("alice")) in (
        "users_list_not_supplied", "invalid_arguments")
    info = ok(stack, "conversations.info", team.token("alice"), channel=ch["id"])
    W.check_channel(info["channel"], "conversations.info(DM)")


# ---- history

def _sent(stack, tok, ch, n, prefix="m"):
    return [W.post(stack, tok, ch, "%s%d" % (prefix, i))["ts"] for i in range(n)]


def test_history_shape_and_order(stack, team):
    ch = _mkchan(stack, team.token("alice"))["id"]
    sent = _sent(stack, team.token("alice"), ch, 5)
    b = ok(stack, "conversations.history", team.token("alice"), channel=ch)
    W.check_types(b, {"messages": list, "has_more": bool}, "conversations.history")
    assert b["has_more"] is False
    for m in b["messages"]:
        W.check_message(m, "conversations.history.messages[]")
    assert [m["ts"] for m in b["messages"]] == sent[::-1], "newest first: %r" % b
    assert [m["text"] for m in b["messages"]] == ["m%d" % i for i in range(4, -1, -1)]


def test_history_oldest_latest_inclusive(stack, team):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    s = _sent(stack, tok, ch, 6)

    def tss(**kw):
        return [m["ts"] for m in ok(stack, "conversations.history", tok, channel=ch,
                                   **kw)["messages"]]
    assert tss(oldest=s[1], latest=s[4]) == [s[3], s[2]], "exclusive by default"
    assert tss(oldest=s[1], latest=s[4], inclusive="true") == [s[4], s[3], s[2], s[1]]
    assert tss(oldest=s[1], latest=s[4], inclusive="1") == [s[4], s[3], s[2], s[1]]
    assert tss(latest=s[2]) == [s[1], s[0]]
    assert tss(oldest=s[3]) == [s[5], s[4]]
    assert tss(oldest=s[5]) == []
    assert tss(latest=s[0]) == []
    # limit: the newest `limit` in range, has_more
    b = ok(stack, "conversations.history", tok, channel=ch, limit=2)
    assert [m["ts"] for m in b["messages"]] == [s[5], s[4]] and b["has_more"] is True, b
    # oldest + limit: Slack returns the newest `limit` after oldest, has_more true
    b = ok(stack, "conversations.history", tok, channel=ch, oldest=s[0], limit=2)
    assert len(b["messages"]) == 2 and b["has_more"] is True, b
    # bounds given as numbers with fewer decimals
    assert len(tss(oldest="0", latest="9999999999")) == 6
    assert tss(oldest=s[2].split(".")[0] + ".0", inclusive="false") is not None


def test_history_errors(stack, team):
    tok = team.token("alice")
    assert err(stack, "conversations.history", tok, channel="C0NOSUCH12") == \
        "channel_not_found"
    assert err(stack, "conversations.history", tok) in ("channel_not_found",
                                                        "invalid_arguments")
    assert err(stack, "conversations.history", tok, channel=team.channel,
               cursor="!!not-a-cursor!!") == "invalid_cursor"
    assert err(stack, "conversations.history", tok, channel=team.channel,
               limit="abc") in ("invalid_limit", "invalid_arguments")
    assert err(stack, "conversations.history", tok, channel=team.channel,
               oldest="yesterday") in ("invalid_ts_oldest", "invalid_arguments")
    assert err(stack, "conversations.history", tok, channel=team.channel,
               latest="soon") in ("invalid_ts_latest", "invalid_arguments")
    priv = _mkchan(stack, tok, private=True)["id"]
    assert err(stack, "conversations.history", team.token("bob"), channel=priv) in (
        "channel_not_found", "not_in_channel")
    # a public channel bob is not in: Slack lets members read; Parley requires membership
    # or returns it (documented either way) - but never another team's channel
    other = parley.provision(stack, users=("ivy",), channel=None)
    assert err(stack, "conversations.history", other.token("ivy"),
               channel=team.channel) == "channel_not_found"


@pytest.mark.parametrize("limit", [1, 3, 7])
def test_history_pages_never_skip_or_repeat(stack, team, limit):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    sent = _sent(stack, tok, ch, 20)
    seen, pages = W.history_all(stack, tok, ch, limit)
    assert len(seen) == len(set(seen)), "repeated: %r" % seen
    assert seen == sent[::-1], "pages must cover every message newest first"
    assert all(len(p["messages"]) == limit for p in pages[:-1]), [
        len(p["messages"]) for p in pages]


def test_history_pages_while_messages_arrive(stack, team):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    ok(stack, "conversations.join", team.token("bob"), channel=ch)
    before = _sent(stack, tok, ch, 15, "old")
    late = []

    def between(n):
        late.extend(_sent(stack, team.token("bob"), ch, 2, "new%d-" % n))
    seen, _ = W.history_all(stack, tok, ch, 4, between=between)
    assert len(seen) == len(set(seen)), "a message repeated across pages: %r" % seen
    # every message that existed at the first page appears exactly once, in order
    old = [t for t in seen if t in set(before)]
    assert old == before[::-1], "skipped or reordered: %r vs %r" % (old, before)
    # pages continue backwards from the cursor: messages posted meanwhile are newer
    # than the first page and are not mixed in
    assert not (set(seen) & set(late)), "newer messages leaked into later pages"


def test_history_pages_with_concurrent_writer(stack, team):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    ok(stack, "conversations.join", team.token("bob"), channel=ch)
    before = _sent(stack, tok, ch, 30, "o")
    stop = threading.Event()
    errors = []

    def writer():
        i = 0
        while not stop.is_set() and i < 200:
            try:
                W.post(stack, team.token("bob"), ch, "w%d" % i)
            except AssertionError as e:
                errors.append(e)
                return
            i += 1
    t = threading.Thread(target=writer, daemon=True)
    t.start()
    try:
        seen, _ = W.history_all(stack, tok, ch, 3)
    finally:
        stop.set()
        t.join(30)
    assert not errors, errors
    assert len(seen) == len(set(seen)), "repeated"
    assert [x for x in seen if x in set(before)] == before[::-1]
    assert [float(x) for x in seen] == sorted((float(x) for x in seen), reverse=True)


def test_history_cursor_with_bounds(stack, team):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    s = _sent(stack, tok, ch, 10)
    seen, _ = W.history_all(stack, tok, ch, 3, oldest=s[2], latest=s[8])
    assert seen == s[3:8][::-1], seen
    seen, _ = W.history_all(stack, tok, ch, 2, oldest=s[2], latest=s[8], inclusive="true")
    assert seen == s[2:9][::-1], seen


# ---- replies

def test_replies_shape_and_pages(stack, team):
    tok = team.token("alice")
    ch = _mkchan(stack, tok)["id"]
    ok(stack, "conversations.join", team.token("bob"), channel=ch)
    parent = W.post(stack, tok, ch, "thread root")["ts"]
    replies = [W.post(stack, team.token("bob"), ch, "r%d" % i, thread_ts=parent)["ts"]
               for i in range(5)]
    b = ok(stack, "conversations.replies", tok, channel=ch, ts=parent)
    W.check_types(b, {"messages": list, "has_more": bool}, "conversations.replies")
    msgs = b["messages"]
    for m in msgs:
        W.check_message(m, "conversations.replies.messages[]")
        assert m["thread_ts"] == parent, m
    assert [m["ts"] for m in msgs] == [parent] + replies, "parent first, then oldest first"
    root = msgs[0]
    assert root.get("reply_count") == 5, root
    assert root.get("latest_reply") == replies[-1], root
    assert set(root.get("reply_users", [])) == {team.uid("bob")}, root
    # replies from a reply's ts: the same thread
    b2 = ok(stack, "conversations.replies", tok, channel=ch, ts=replies[2])
    assert [m["ts"] for m in b2["messages"]] == [parent] + replies, b2
    # pages
    seen, cursor = [], None
    for _ in range(10):
        b = ok(stack, "conversations.replies", tok, channel=ch, ts=parent, limit=2,
               cursor=cursor)
        seen += [m["ts"] for m in b["messages"]]
        cursor = (b.get("response_metadata") or {}).get("next_cursor")
        if not b["has_more"]:
            break
        assert cursor, b
    assert [x for x in dict.fromkeys(seen)] == [parent] + replies, seen
    assert len([x for x in seen if x != parent]) == 5, "a reply repeated: %r" % seen
    # the thread's replies are not top-level history (unless broadcast); the
    # channel_join message of the member who joined is, as in Slack
    h = ok(stack, "conversations.history", tok, channel=ch)
    assert [m["ts"] for m in h["messages"] if not m.get("subtype")] == [parent], h


def test_replies_errors(stack, team):
    tok = team.token("alice")
    assert err(stack, "conversations.replies", tok, channel=team.channel,
               ts="1000000000.000004") in ("thread_not_found", "message_not_found")
    assert err(stack, "conversations.replies", tok, channel="C0NOSUCH14",
               ts="1000000000.000004") == "channel_not_found"
    assert err(stack, "conversations.replies", tok, channel=team.channel) in (
        "invalid_arguments", "thread_not_found", "message_not_found")


def test_replies_of_a_message_without_replies(stack, team):
    tok = team.token("alice")
    p = W.post(stack, tok, team.channel, "alone")["ts"]
    b = ok(stack, "conversations.replies", tok, channel=team.channel, ts=p)
    assert [m["ts"] for m in b["messages"]] == [p], b
