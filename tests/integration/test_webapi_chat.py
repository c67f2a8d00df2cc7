"""chat.postMessage / chat.update / chat.delete and reactions.* (issue #6):
Slack's response shapes and error codes, through the gateway, on the real
stack of conftest.py."""
import parley
import webapi_helpers as W
from webapi_helpers import err, ok


# ---- chat.postMessage

def test_post_message_shape(stack, team):
    b = W.post(stack, team.token("alice"), team.channel, "shape")
    W.check_types(b, {"channel": str, "ts": str, "message": dict}, "chat.postMessage")
    assert b["channel"] == team.channel, b
    W.check_ts(b["ts"])
    m = b["message"]
    W.check_message(m, "chat.postMessage.message")
    assert m["user"] == team.uid("alice") and m["text"] == "shape" and m["ts"] == b["ts"], b


def test_posts_without_client_msg_id_are_distinct(stack, team):
    """every chat.postMessage without client_msg_id is a new message: a unique
    ts, the next seq, visible in its own channel's history - never the answer
    of an earlier, unrelated request (of any channel, user or team)"""
    tok = team.token("alice")
    other = parley.provision(stack, users=("olga",))
    acks = []
    for i in range(300):
        if i % 3 == 2:
            r = W.ok(stack, "chat.postMessage", other.token("olga"), channel=other.channel,
                     text="o%d" % i)
            assert r["channel"] == other.channel and r["message"]["text"] == "o%d" % i, r
        else:
            r = W.ok(stack, "chat.postMessage", tok, channel=team.channel, text="d%d" % i)
            assert r["channel"] == team.channel, "ack of another channel: %r" % r
            assert r["message"]["text"] == "d%d" % i, \
                "request %d (text d%d) was answered with another message: %r" % (i, i, r)
            acks.append(r)
    tss = [r["ts"] for r in acks]
    assert len(set(tss)) == len(tss), "two posts got the same ts"
    seqs = [r["message"]["seq"] for r in acks]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), "seq not +1 per post"
    seen, _ = W.history_all(stack, tok, team.channel, 200, oldest=tss[0], inclusive="true")
    assert set(tss) <= set(seen), "acknowledged but not in history: %r" % sorted(
        set(tss) - set(seen))[:10]


def test_post_message_in_thread(stack, team):
    tok = team.token("alice")
    parent = W.post(stack, tok, team.channel, "parent")
    reply = W.post(stack, team.token("bob"), team.channel, "reply", thread_ts=parent["ts"])
    assert reply["message"]["thread_ts"] == parent["ts"], reply
    assert reply["ts"] != parent["ts"]


def test_post_message_errors(stack, team):
    tok = team.token("alice")
    assert err(stack, "chat.postMessage", tok, channel=team.channel, text="") == "no_text"
    assert err(stack, "chat.postMessage", tok, channel=team.channel) == "no_text"
    assert err(stack, "chat.postMessage", tok, text="hi") == "channel_not_found"
    assert err(stack, "chat.postMessage", tok, channel="C0NOSUCH99", text="hi") == \
        "channel_not_found"
    assert err(stack, "chat.postMessage", tok, channel="not an id", text="hi") in (
        "channel_not_found", "invalid_arguments")


def test_post_message_length_limit(stack, team):
    tok = team.token("alice")
    # exactly 40,000 characters (not bytes: multi-byte characters count once)
    b = W.post(stack, tok, team.channel, "\u00e9" * 40000)
    assert len(b["message"]["text"]) == 40000
    assert err(stack, "chat.postMessage", tok, channel=team.channel,
               text="x" * 40001) == "msg_too_long"


def test_post_message_not_in_channel(stack, team):
    # carol leaves; posting is refused with not_in_channel (public channel: she can see it)
    ok(stack, "conversations.leave", team.token("carol"), channel=team.channel)
    assert err(stack, "chat.postMessage", team.token("carol"), channel=team.channel,
               text="hi") == "not_in_channel"
    ok(stack, "conversations.join", team.token("carol"), channel=team.channel)
    W.post(stack, team.token("carol"), team.channel, "back")


def test_post_message_other_team_channel(stack, team):
    other = parley.provision(stack, users=("dave",))
    assert err(stack, "chat.postMessage", other.token("dave"), channel=team.channel,
               text="x") in ("channel_not_found", "not_in_channel")


def test_post_message_bad_thread_ts(stack, team):
    tok = team.token("alice")
    a = W.web(stack, "chat.postMessage", tok, channel=team.channel, text="x",
              thread_ts="not-a-ts")
    assert a.status == 200, a
    assert a.body["ok"] is False and a.body["error"] in (
        "invalid_arguments", "invalid_thread_ts", "thread_not_found",
        "message_not_found"), a


# ---- chat.update

def test_update_shape_and_effect(stack, team):
    tok = team.token("alice")
    p = W.post(stack, tok, team.channel, "before")
    b = ok(stack, "chat.update", tok, channel=team.channel, ts=p["ts"], text="after")
    W.check_types(b, {"channel": str, "ts": str, "text": str}, "chat.update")
    assert b["channel"] == team.channel and b["ts"] == p["ts"] and b["text"] == "after", b
    if "message" in b:
        assert b["message"]["text"] == "after", b
    h = ok(stack, "conversations.history", team.token("bob"), channel=team.channel,
           latest=p["ts"], inclusive="true", limit=1)
    m = h["messages"][0]
    assert m["ts"] == p["ts"] and m["text"] == "after", h
    assert "edited" in m and m["edited"]["user"] == team.uid("alice"), \
        "history shows an edited message with edited{user,ts}: %r" % m
    W.check_ts(m["edited"]["ts"], "edited.ts")


def test_update_errors(stack, team):
    tok = team.token("alice")
    p = W.post(stack, tok, team.channel, "mine")
    assert err(stack, "chat.update", team.token("bob"), channel=team.channel, ts=p["ts"],
               text="hijack") == "cant_update_message"
    assert err(stack, "chat.update", tok, channel=team.channel, ts="1000000000.000001",
               text="x") == "message_not_found"
    assert err(stack, "chat.update", tok, channel=team.channel, ts=p["ts"],
               text="") == "no_text"
    assert err(stack, "chat.update", tok, channel=team.channel, ts=p["ts"],
               text="y" * 40001) == "msg_too_long"
    assert err(stack, "chat.update", tok, channel="C0NOSUCH77", ts=p["ts"],
               text="x") == "channel_not_found"
    assert err(stack, "chat.update", tok, channel=team.channel, text="x") in (
        "message_not_found", "invalid_arguments")
    # nothing changed
    h = ok(stack, "conversations.history", tok, channel=team.channel, latest=p["ts"],
           inclusive="true", limit=1)
    assert h["messages"][0]["text"] == "mine", h


# ---- chat.delete

def test_delete_shape_and_effect(stack, team):
    tok = team.token("alice")
    keep = W.post(stack, tok, team.channel, "keep")
    gone = W.post(stack, tok, team.channel, "gone")
    b = ok(stack, "chat.delete", tok, channel=team.channel, ts=gone["ts"])
    W.check_types(b, {"channel": str, "ts": str}, "chat.delete")
    assert b["channel"] == team.channel and b["ts"] == gone["ts"], b
    h = ok(stack, "conversations.history", tok, channel=team.channel,
           oldest=keep["ts"], inclusive="true")
    tss = [m["ts"] for m in h["messages"]]
    assert keep["ts"] in tss and gone["ts"] not in tss, h
    assert err(stack, "chat.delete", tok, channel=team.channel,
               ts=gone["ts"]) == "message_not_found"


def test_delete_errors(stack, team):
    tok = team.token("alice")
    p = W.post(stack, tok, team.channel, "not yours")
    assert err(stack, "chat.delete", team.token("bob"), channel=team.channel,
               ts=p["ts"]) == "cant_delete_message"
    assert err(stack, "chat.delete", tok, channel=team.channel,
               ts="1000000000.000002") == "message_not_found"
    assert err(stack, "chat.delete", tok, channel="C0NOSUCH55",
               ts=p["ts"]) == "channel_not_found"


# ---- reactions

def test_reactions_add_get_remove(stack, team):
    tok_a, tok_b = team.token("alice"), team.token("bob")
    p = W.post(stack, tok_a, team.channel, "react to me")
    b = ok(stack, "reactions.add", tok_b, channel=team.channel, timestamp=p["ts"],
           name="thumbsup")
    assert set(b) <= {"ok", "warning", "response_metadata"}, b
    ok(stack, "reactions.add", tok_a, channel=team.channel, timestamp=p["ts"],
       name="thumbsup")
    ok(stack, "reactions.add", tok_a, channel=team.channel, timestamp=p["ts"], name="tada")
    g = ok(stack, "reactions.get", tok_a, channel=team.channel, timestamp=p["ts"])
    W.check_types(g, {"type": str, "channel": str, "message": dict}, "reactions.get")
    assert g["type"] == "message" and g["channel"] == team.channel, g
    m = g["message"]
    W.check_message(m, "reactions.get.message")
    assert m["ts"] == p["ts"], g
    reacts = {r["name"]: r for r in m["reactions"]}
    for r in m["reactions"]:
        W.check_types(r, {"name": str, "users": list, "count": int}, "reaction")
    assert reacts["thumbsup"]["count"] == 2, m
    assert set(reacts["thumbsup"]["users"]) == {team.uid("alice"), team.uid("bob")}, m
    assert reacts["tada"]["count"] == 1 and reacts["tada"]["users"] == [team.uid("alice")]
    # the history shows them too
    h = ok(stack, "conversations.history", tok_a, channel=team.channel, latest=p["ts"],
           inclusive="true", limit=1)
    assert {r["name"]: r["count"] for r in h["messages"][0].get("reactions", [])} == {
        "thumbsup": 2, "tada": 1}, h["messages"][0]
    ok(stack, "reactions.remove", tok_b, channel=team.channel, timestamp=p["ts"],
       name="thumbsup")
    g = ok(stack, "reactions.get", tok_a, channel=team.channel, timestamp=p["ts"])
    reacts = {r["name"]: r for r in g["message"].get("reactions", [])}
    assert reacts["thumbsup"]["count"] == 1 and reacts["thumbsup"]["users"] == [
        team.uid("alice")], g
    ok(stack, "reactions.remove", tok_a, channel=team.channel, timestamp=p["ts"],
       name="thumbsup")
    ok(stack, "reactions.remove", tok_a, channel=team.channel, timestamp=p["ts"], name="tada")
    g = ok(stack, "reactions.get", tok_a, channel=team.channel, timestamp=p["ts"])
    assert not g["message"].get("reactions"), g


def test_reactions_errors(stack, team):
    tok = team.token("alice")
    p = W.post(stack, tok, team.channel, "r")
    ok(stack, "reactions.add", tok, channel=team.channel, timestamp=p["ts"], name="fire")
    assert err(stack, "reactions.add", tok, channel=team.channel, timestamp=p["ts"],
               name="fire") == "already_reacted"
    assert err(stack, "reactions.remove", tok, channel=team.channel, timestamp=p["ts"],
               name="heart") == "no_reaction"
    assert err(stack, "reactions.remove", team.token("bob"), channel=team.channel,
               timestamp=p["ts"], name="fire") == "no_reaction"
    assert err(stack, "reactions.add", tok, channel=team.channel,
               timestamp="1000000000.000003", name="fire") == "message_not_found"
    assert err(stack, "reactions.get", tok, channel=team.channel,
               timestamp="1000000000.000003") == "message_not_found"
    assert err(stack, "reactions.add", tok, channel="C0NOSUCH33", timestamp=p["ts"],
               name="fire") == "channel_not_found"
    assert err(stack, "reactions.add", tok, channel=team.channel, timestamp=p["ts"]) in (
        "invalid_name", "invalid_arguments")
    assert err(stack, "reactions.add", tok, channel=team.channel, timestamp=p["ts"],
               name="bad name!") in ("invalid_name", "invalid_arguments")
    assert err(stack, "reactions.add", tok, channel=team.channel) in (
        "no_item_specified", "invalid_arguments", "message_not_found")


def test_reaction_not_in_channel(stack, team):
    priv = ok(stack, "conversations.create", team.token("alice"),
              name=parley.unique("rp-"), is_private="true")["channel"]["id"]
    p = W.post(stack, team.token("alice"), priv, "secret")
    assert err(stack, "reactions.add", team.token("bob"), channel=priv, timestamp=p["ts"],
               name="eyes") in ("channel_not_found", "not_in_channel")
    assert err(stack, "reactions.get", team.token("bob"), channel=priv,
               timestamp=p["ts"]) in ("channel_not_found", "not_in_channel")
