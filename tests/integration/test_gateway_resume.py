"""Resume (PROTOCOL.md): with and without a gap, non-member channels
ignored; typing and presence relay; membership removal on every path
(live events, RTM send, resume, typing, events.poll)."""
import time

import parley
from parley import Ws, wait_for


def _msgs(ws, channel):
    return [e for e in ws.events if e.get("type") == "message" and
            e.get("channel") == channel and "reply_to" not in e and "seq" in e]


def _send(ws, channel, text):
    r = ws.request({"type": "message", "channel": channel, "text": text})
    assert r.get("ok") is True, r
    return r["seq"]


def test_resume_without_gap(stack, team):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice:
        seq = _send(alice, ch, "before")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: seq}})
        assert r["type"] == "resumed", r
        assert not [e for e in _msgs(bob, ch) if e["seq"] <= seq]


def test_resume_with_gap_replays_in_order(stack, team):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice:
        first = _send(alice, ch, "seen")
        missed = [_send(alice, ch, "missed %d" % i) for i in range(5)]
    assert missed == list(range(first + 1, first + 6))
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {ch: first}})
        assert r["type"] == "resumed", r
        got = [e for e in _msgs(bob, ch)]
        seqs = [e["seq"] for e in got]
        assert seqs == missed, seqs
        assert [e["text"] for e in got] == ["missed %d" % i for i in range(5)]
        # live after the resume continues the sequence, no duplicate
        with Ws(stack.ws_url, team.token("alice")) as alice:
            nxt = _send(alice, ch, "live")
        bob.wait_event(lambda e: e.get("seq") == nxt and "reply_to" not in e)
        seqs = [e["seq"] for e in _msgs(bob, ch)]
        assert seqs == missed + [nxt], seqs


def test_resume_ignores_channels_of_others(stack, team, api):
    other = parley.provision(stack, users=("eve",), api=api)
    with Ws(stack.ws_url, other.token("eve")) as eve:
        _send(eve, other.channel, "secret")
    with Ws(stack.ws_url, team.token("bob")) as bob:
        r = bob.request({"type": "resume", "last_seq": {other.channel: 0}})
        assert r["type"] == "resumed", r
        assert not [e for e in bob.events if e.get("channel") == other.channel]


def test_typing_reaches_members_only(stack, team, api):
    outsider = api.call("admin.users.create", stack.admin_token, team_id=team.id,
                        name="dave")
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("bob")) as bob, \
            Ws(stack.ws_url, outsider["token"]) as dave:
        alice.send({"id": 1, "type": "typing", "channel": team.channel})
        ev = bob.wait_event(lambda e: e.get("type") == "user_typing")
        assert ev == {"type": "user_typing", "channel": team.channel,
                      "user": team.uid("alice")}, ev
        # a marker through the same path: dave is a team member who is not in
        # the channel, so he never sees the typing, and alice not her own
        assert alice.request({"type": "ping"})["type"] == "pong"
        assert dave.request({"type": "ping"})["type"] == "pong"
        assert not dave.matching(lambda e: e.get("type") == "user_typing")
        assert not alice.matching(lambda e: e.get("type") == "user_typing")


def test_presence_sub_delivers_presence_change(stack, team):
    with Ws(stack.ws_url, team.token("bob")) as bob:
        bob.send({"type": "presence_sub", "ids": [team.uid("alice")]})
        assert bob.request({"type": "ping"})["type"] == "pong"
        with Ws(stack.ws_url, team.token("alice")):
            ev = bob.wait_event(lambda e: e.get("type") == "presence_change" and
                                e.get("user") == team.uid("alice"), timeout=15)
            assert ev["presence"] in ("active", "away"), ev
        assert not bob.matching(lambda e: e.get("type") == "presence_change" and
                                e.get("user") != team.uid("alice"))


def test_kick_stops_every_path(stack, team, api):
    ch = team.channel
    with Ws(stack.ws_url, team.token("alice")) as alice, \
            Ws(stack.ws_url, team.token("carol")) as carol:
        before = _send(alice, ch, "before kick")
        carol.wait_event(lambda e: e.get("seq") == before)
        api.call("conversations.kick", team.token("alice"), channel=ch,
                 user=team.uid("carol"))
        # carol sees her own removal, then nothing of the channel
        carol.wait_event(lambda e: e.get("channel") == ch and (
            e.get("type") == "member_left_channel" or
            e.get("subtype") == "channel_leave"), timeout=10)
        after = _send(alice, ch, "after kick")
        alice.wait_event(lambda e: e.get("seq") == after and "reply_to" not in e)
        # RTM send into the channel is refused
        r = carol.request({"type": "message", "channel": ch, "text": "still here?"})
        assert r["ok"] is False and r["error"]["code"] == "channel_not_found", r
        # typing into it is not relayed
        carol.send({"type": "typing", "channel": ch})
        # resume does not replay it
        r = carol.request({"type": "resume", "last_seq": {ch: before}})
        assert r["type"] == "resumed"
        assert alice.request({"type": "ping"})["type"] == "pong"
        assert not carol.matching(lambda e: e.get("text") == "after kick")
        assert not alice.matching(lambda e: e.get("type") == "user_typing")
    # long polling does not carry it either
    poll = api.call("events.poll", team.token("carol"),
                    json_body={"last_seq": {ch: before}, "timeout": 0})
    assert not [e for e in poll["events"] if e.get("channel") == ch], poll
    assert ch not in poll["last_seq"]
