"""events.poll, the long-polling fallback (issue #6): held up to `timeout`,
answers as soon as an event arrives, resumable by cursor or last_seq, and
carries exactly the events a WebSocket client gets over the same period:
same order, no gap, no duplicate."""
import json
import threading
import time

import parley
import webapi_helpers as W
from webapi_helpers import ok


def _chan_of(e):
    """the channel of an event: top-level, or item.channel (reaction_added/removed)"""
    return e.get("channel") or (e.get("item") or {}).get("channel")


def _chan_events(events, ch):
    return [e for e in events if _chan_of(e) == ch and "seq" in e]


def _activity(stack, team, ch):
    """posts, a thread reply, an edit, a delete and reactions by two users;
    returns how many seq-carrying channel events it produced at least"""
    a, b = team.token("alice"), team.token("carol")
    first = W.post(stack, a, ch, "p0")
    for i in range(1, 6):
        W.post(stack, a if i % 2 else b, ch, "p%d" % i)
    W.post(stack, b, ch, "in thread", thread_ts=first["ts"])
    ok(stack, "chat.update", a, channel=ch, ts=first["ts"], text="p0 edited")
    ok(stack, "reactions.add", b, channel=ch, timestamp=first["ts"], name="wave")
    gone = W.post(stack, b, ch, "to delete")
    ok(stack, "chat.delete", b, channel=ch, ts=gone["ts"])
    return gone


def test_poll_shape_and_hold(stack, team):
    tok = team.token("bob")
    start = W.post(stack, team.token("alice"), team.channel, "start")
    p = W.Poller(stack, tok)
    t0 = time.monotonic()
    evs = p.poll(timeout=2, last_seq={team.channel: start["message"]["seq"]})
    took = time.monotonic() - t0
    assert evs == [], "nothing happened after last_seq: %r" % evs
    assert 1.5 <= took <= 6, "an empty poll is held about `timeout` seconds: %.2fs" % took
    assert p.cursor, "every answer carries a cursor"


def test_poll_answers_when_an_event_arrives(stack, team):
    tok = team.token("bob")
    start = W.post(stack, team.token("alice"), team.channel, "start")
    p = W.Poller(stack, tok)
    got = {}

    def poller():
        t0 = time.monotonic()
        try:
            got["events"] = p.poll(timeout=20,
                                   last_seq={team.channel: start["message"]["seq"]})
        except AssertionError as e:
            got["error"] = e
        got["took"] = time.monotonic() - t0
    t = threading.Thread(target=poller, daemon=True)
    t_start = time.monotonic()
    t.start()
    # one second in, the poll is being held (it has nothing to answer yet)
    parley.wait_for(lambda: time.monotonic() - t_start >= 1.0, 5, "one second")
    assert t.is_alive(), "events.poll answered at once with nothing new: %r" % got
    sent = W.post(stack, team.token("alice"), team.channel, "wake up")
    t.join(25)
    assert not t.is_alive(), "events.poll did not answer"
    assert "error" not in got, got
    assert got["took"] < 10, "a held poll answers as soon as an event arrives: %.1fs" % (
        got["took"])
    msgs = [e for e in got["events"] if e.get("type") == "message"]
    assert msgs and msgs[0]["ts"] == sent["ts"] and msgs[0]["text"] == "wake up", got
    assert msgs[0]["seq"] == sent["message"]["seq"], got


def test_poll_and_websocket_see_the_same_events(stack, team):
    ch = ok(stack, "conversations.create", team.token("alice"),
            name=parley.unique("lp-"))["channel"]["id"]
    ok(stack, "conversations.invite", team.token("alice"), channel=ch,
       users=",".join([team.uid("bob"), team.uid("carol")]))
    with parley.Ws(stack.ws_url, team.token("bob")) as ws:
        base = W.post(stack, team.token("alice"), ch, "base")
        seq0 = base["message"]["seq"]
        ws.wait_event(lambda e: e.get("type") == "message" and e.get("ts") == base["ts"],
                      what="the base message")
        p = W.Poller(stack, team.token("bob"))
        p.poll(timeout=1, last_seq={ch: seq0})
        stop = threading.Event()
        errors = []

        def poll_loop():
            while not stop.is_set():
                try:
                    p.poll(timeout=1)
                except AssertionError as e:
                    errors.append(e)
                    return
        t = threading.Thread(target=poll_loop, daemon=True)
        t.start()
        try:
            gone = _activity(stack, team, ch)
            last = ws.wait_event(lambda e: e.get("channel") == ch and (
                e.get("subtype") == "message_deleted" or
                e.get("deleted_ts") == gone["ts"]), what="the message_deleted event")
            want = [e for e in _chan_events(ws.events, ch) if e["seq"] > seq0]
            assert last in want
            assert len(want) >= 10, "the WebSocket saw too little: %s" % json.dumps(want)
            parley.wait_for(
                lambda: errors or len(_chan_events(p.events, ch)) >= len(want), 20,
                "events.poll to deliver %d events" % len(want))
        finally:
            stop.set()
            t.join(10)
        assert not errors, errors
        # one more poll: nothing new, nothing repeated
        p.poll(timeout=1)
        got = _chan_events(p.events, ch)
        seqs = [e["seq"] for e in got]
        assert len(seqs) == len(set(seqs)), "a duplicate across polls: %r" % seqs
        assert seqs == sorted(seqs), "out of order: %r" % seqs
        assert seqs == list(range(seq0 + 1, seq0 + 1 + len(seqs))), \
            "a gap in seq: %r" % seqs
        assert [W.msg_key(e) for e in got] == [W.msg_key(e) for e in want], (
            "events.poll and the WebSocket differ:\npoll %s\nws   %s" % (
                json.dumps(got)[:2000], json.dumps(want)[:2000]))


def test_poll_resumes_from_last_seq_after_a_gap(stack, team):
    tok = team.token("bob")
    base = W.post(stack, team.token("alice"), team.channel, "gap-base")
    sent = [W.post(stack, team.token("alice"), team.channel, "g%d" % i) for i in range(5)]
    p = W.Poller(stack, tok)
    # the first poll names where the client is (last_seq); later ones go by cursor
    p.poll(timeout=1, last_seq={team.channel: base["message"]["seq"]})
    p.poll_until(lambda evs: len([e for e in evs if e.get("channel") == team.channel and
                                  e.get("type") == "message"]) >= 5, 15,
                 "5 missed messages")
    got = [e for e in p.events if e.get("channel") == team.channel and
           e.get("type") == "message"]
    assert [e["ts"] for e in got[:5]] == [s["ts"] for s in sent], got
    assert got[0]["seq"] == base["message"]["seq"] + 1


def test_poll_by_cursor_only(stack, team):
    tok = team.token("bob")
    p = W.Poller(stack, tok)
    p.poll(timeout=1)       # no last_seq: starts "now"
    assert p.cursor
    sent = [W.post(stack, team.token("alice"), team.channel, "c%d" % i) for i in range(3)]
    p.poll_until(lambda evs: len([e for e in evs if e.get("type") == "message" and
                                  e.get("channel") == team.channel]) >= 3, 15,
                 "3 messages by cursor")
    got = [e["ts"] for e in p.events if e.get("type") == "message" and
           e.get("channel") == team.channel]
    assert got == [s["ts"] for s in sent], got
    # the latest cursor has nothing more: no repeat
    again = W.Poller(stack, tok)
    again.cursor = p.cursor
    again.poll(timeout=1)
    assert [e for e in again.events if e.get("channel") == team.channel] == []


def test_poll_never_leaks_other_channels(stack, team):
    priv = ok(stack, "conversations.create", team.token("alice"),
              name=parley.unique("lpp-"), is_private="true")["channel"]["id"]
    p = W.Poller(stack, team.token("bob"))
    p.poll(timeout=1)
    W.post(stack, team.token("alice"), priv, "secret")
    marker = W.post(stack, team.token("alice"), team.channel, "public marker")
    p.poll_until(lambda evs: any(e.get("ts") == marker["ts"] for e in evs), 15, "marker")
    assert not [e for e in p.events if e.get("channel") == priv], p.events
    # asking for a channel by last_seq does not open it either
    a = W.web(stack, "events.poll", team.token("bob"), via="json", http_timeout=10,
              last_seq={priv: 0}, timeout=1)
    assert a.status == 200, a
    assert a.body["ok"] is False or not [e for e in a.body["events"]
                                         if e.get("channel") == priv], a


def test_poll_errors(stack, team):
    assert W.err(stack, "events.poll", None) == "not_authed"
    assert W.err(stack, "events.poll", "bad") == "invalid_auth"
    a = W.web(stack, "events.poll", team.token("bob"), via="json", cursor="garbage!!",
              timeout=1)
    assert a.status == 200 and a.body["ok"] is False and a.body["error"] in (
        "invalid_cursor", "invalid_arguments"), a
    a = W.web(stack, "events.poll", team.token("bob"), via="form", last_seq="{not json",
              timeout=1)
    assert a.status == 200 and a.body["ok"] is False and a.body["error"] in (
        "invalid_arguments", "invalid_json"), a
