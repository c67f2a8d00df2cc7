"""events.poll (issue #6): the long-polling fallback carries exactly the
events the WebSocket carries, in seq order, with nothing lost or repeated
between polls; held polls are answered by a live event; bad cursors are
refused; held polls are capped per user (429)."""
import concurrent.futures
import threading

import parley
from parley import Ws, wait_for


def _poll(api, token, timeout=0, **body):
    body = dict(body)
    body["timeout"] = timeout
    r = api.raw("events.poll", token, json_body=body)
    return r


def _seq_events(events, channel):
    return [e for e in events if "seq" in e and (
        e.get("channel") or (e.get("item") or {}).get("channel")) == channel]


def test_long_poll_matches_websocket(stack, team, api):
    ch = team.channel
    tok = team.token("bob")
    first = api.call("events.poll", tok, json_body={"timeout": 0})
    assert first["events"] == [] and ch in first["last_seq"], first
    start = first["last_seq"][ch]
    polled, stop = [], threading.Event()
    errors = []

    def poller(cursor):
        papi = parley.Api(stack.http_url, timeout=30)
        while not stop.is_set():
            try:
                body = papi.call("events.poll", tok, json_body={"cursor": cursor,
                                                                 "timeout": 2})
            except Exception as e:   # reported below
                errors.append(repr(e))
                return
            polled.extend(body["events"])
            cursor = body["cursor"]

    with Ws(stack.ws_url, tok) as ws:
        t = threading.Thread(target=poller, args=(first["cursor"],), daemon=True)
        t.start()
        try:
            alice = team.token("alice")
            ts = None
            for i in range(15):
                ts = api.call("chat.postMessage", alice, channel=ch, text="p%d" % i)["ts"]
            api.call("reactions.add", alice, channel=ch, timestamp=ts, name="thumbsup")
            last = wait_for(lambda: [e for e in _seq_events(ws.events, ch)
                                     if e.get("type") == "reaction_added"],
                            15, "reaction on the websocket")[0]["seq"]
            wait_for(lambda: any(e.get("seq") == last for e in _seq_events(polled, ch)),
                     15, "the poller to reach seq %d" % last)
        finally:
            stop.set()
            t.join(10)
    assert not errors, errors
    ws_ev = [e for e in _seq_events(ws.events, ch) if "reply_to" not in e and
             start < e["seq"] <= last]
    poll_ev = [e for e in _seq_events(polled, ch) if e["seq"] <= last]
    assert [e["seq"] for e in poll_ev] == list(range(start + 1, last + 1))
    assert poll_ev == ws_ev


def test_held_poll_answered_by_live_event(stack, team, api):
    ch = team.channel
    tok = team.token("carol")
    first = api.call("events.poll", tok, json_body={"timeout": 0})
    with concurrent.futures.ThreadPoolExecutor(1) as ex:
        fut = ex.submit(lambda: parley.Api(stack.http_url, timeout=40).call(
            "events.poll", tok, json_body={"cursor": first["cursor"], "timeout": 30}))
        # the poll is held: wait until the gateway counts it, then send
        wait_for(lambda: not fut.done() and any(
            "parley_gateway_polls_held" in line and not line.startswith("#") and
            float(line.split()[-1]) >= 1
            for g in stack.ops for line in _scrape(stack, g)), 10, "a held poll")
        sent = api.call("chat.postMessage", team.token("alice"), channel=ch, text="wake")
        body = fut.result(40)
    evs = _seq_events(body["events"], ch)
    assert evs and evs[0]["text"] == "wake" and evs[0]["ts"] == sent["ts"], body
    assert body["last_seq"][ch] == evs[-1]["seq"]


def _scrape(stack, name):
    if not name.startswith("gateway"):
        return []
    try:
        return parley.Api(stack.ops[name]).session.get(
            stack.ops[name] + "/metrics", timeout=5).text.splitlines()
    except Exception:
        return []


def test_poll_replays_from_last_seq(stack, team, api):
    ch = team.channel
    alice = team.token("alice")
    base = api.call("chat.postMessage", alice, channel=ch, text="r0")
    seqs = [api.call("chat.postMessage", alice, channel=ch, text="r%d" % i)
            for i in range(1, 4)]
    first = api.call("events.poll", team.token("bob"), json_body={"timeout": 0})
    cur = first["last_seq"][ch]
    body = api.call("events.poll", team.token("bob"),
                    json_body={"last_seq": {ch: cur - 3}, "timeout": 0})
    evs = _seq_events(body["events"], ch)
    assert [e["text"] for e in evs] == ["r1", "r2", "r3"], body
    assert [e["ts"] for e in evs] == [s["ts"] for s in seqs]
    assert base["ts"] < evs[0]["ts"]
    # the cursor of that answer gives nothing again
    again = api.call("events.poll", team.token("bob"),
                     json_body={"cursor": body["cursor"], "timeout": 0})
    assert _seq_events(again["events"], ch) == []


def test_poll_bad_arguments(stack, team, api):
    r = api.call("events.poll", team.token("bob"), check=False,
                 json_body={"cursor": "!!notbase64", "timeout": 0})
    assert r == {"ok": False, "error": "invalid_arguments"}
    r = api.call("events.poll", team.token("bob"), check=False,
                 json_body={"timeout": "soon"})
    assert r == {"ok": False, "error": "invalid_arguments"}
    assert api.call("events.poll", check=False)["error"] == "not_authed"


def test_held_polls_capped_per_user(stack, team, api):
    """PARLEY_MAX_POLLS_USER (default 4) per gateway process; the stack has 2
    processes behind one port, so up to 8 may be held: the 9th is refused"""
    tok = team.token("alice")
    first = api.call("events.poll", tok, json_body={"timeout": 0})
    n = 4 * stack.gateways + 1
    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        futs = [ex.submit(lambda: parley.Api(stack.http_url, timeout=40).raw(
            "events.poll", tok, json_body={"cursor": first["cursor"], "timeout": 20}))
            for _ in range(n)]
        limited = wait_for(lambda: [f.result() for f in futs if f.done() and
                                    f.result().status_code == 429], 15, "a 429")
        assert limited[0].json() == {"ok": False, "error": "ratelimited"}
        assert int(limited[0].headers["Retry-After"]) >= 1
        # release the held ones
        api.call("chat.postMessage", tok, channel=team.channel, text="release")
        done = [f.result(40) for f in futs]
    assert all(r.status_code in (200, 429) for r in done)
