"""A resent request gets its original's outcome (issue #10): nng's REQ resends
the request in flight, byte for byte, when its pipe is lost, and only the
resend's reply can then reach the caller. tools/resend (built by `make`, in
build/bin) sends one packed Request to the owning message-svc shard twice -
both at once (the second arrives while the first runs: an invite of 400
users waiting for its acknowledgements) or the second after the first's
reply - and prints both replies. They must be identical, and the request
must have taken effect once: one channel_join per user in history, one
membership row. Before message-svc/resend.c the second invite answered
already_in_channel. Real stack (stack fixture); no timed assertions."""
import json
import os
import re
import subprocess

import psycopg
import requests

import parley


def _tool(stack):
    path = os.path.join(stack.bin_dir, "resend")
    assert os.path.exists(path), "%s missing (run make)" % path
    return path


def _resend(stack, method, user, team, mode, params, admin=False, key=None):
    """run tools/resend; the two replies (dicts) in the order sent"""
    cmd = [_tool(stack), "--run-dir", stack.run_dir, "--shards", str(stack.shards),
           "--method", method, "--team", team, "--user", user, "--mode", mode,
           "--admin", "1" if admin else "0", "--timeout-ms", "60000"]
    if key is not None:
        cmd += ["--key", key]
    cmd += ["%s=%s" % kv for kv in params.items()]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, (out.returncode, out.stdout, out.stderr)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert [a["copy"] for a in answers] == [0, 1], out.stdout
    return answers


def _same(answers):
    """the two replies are one outcome: same ok, error, warning and body"""
    a, b = answers
    strip = lambda r: {k: r[k] for k in ("rv", "ok", "error", "warning", "json")}
    assert strip(a) == strip(b), (a, b)
    return a


def _resends(stack, result):
    """parley_ms_resends_total{result=...} over every shard"""
    total = 0.0
    for i in range(stack.shards):
        text = requests.get(stack.ops["message-svc-%d" % i] + "/metrics", timeout=5).text
        m = re.search(r'^parley_ms_resends_total\{result="%s"\} (\S+)$' % result, text, re.M)
        total += float(m.group(1)) if m else 0.0
    return total


def _bulk_users(stack, team_id, n):
    """n users of team_id straight into the directory; their ids"""
    ids = ["URS%s%04d" % (parley.unique("")[-6:].upper(), i) for i in range(n)]
    with psycopg.connect(stack.dsn(0), autocommit=True) as c:
        c.execute("INSERT INTO users (id, team_id, name, created) SELECT x, %s, lower(x), 0"
                  " FROM unnest(%s::text[]) x", (team_id, ids))
    return ids


def _history_after_marker(stack, api, token, channel):
    """the channel's history once a marker posted now is in it: whatever the
    two copies appended (before their replies) has a lower seq"""
    mark = api.call("chat.postMessage", token, channel=channel, text="resend-marker")["ts"]

    def page():
        h = api.call("conversations.history", token, channel=channel, limit=1000)
        return h["messages"] if any(m.get("ts") == mark for m in h["messages"]) else None
    return parley.wait_for(page, 60, "the marker in history")


def _joins(messages):
    joined = {}
    for m in messages:
        if m.get("subtype") == "channel_join":
            joined[m["user"]] = joined.get(m["user"], 0) + 1
    return joined


def _members(stack, channel):
    with psycopg.connect(stack.dsn(0), autocommit=True) as c:
        return [r[0] for r in c.execute(
            "SELECT user_id FROM channel_members WHERE channel_id = %s", (channel,))]


def _check_invite(stack, api, mode, n):
    t = parley.provision(stack, users=("ann",), channel="resend")
    ids = _bulk_users(stack, t.id, n)
    waited, replayed = _resends(stack, "waited"), _resends(stack, "replayed")
    r = _same(_resend(stack, "conversations.invite", t.uid("ann"), t.id, mode,
                      {"channel": t.channel, "users": ",".join(ids)}))
    assert r["rv"] == 0 and r["ok"] is True, r
    assert json.loads(r["json"])["channel"]["id"] == t.channel
    # one effect: one channel_join per user, one membership row each
    joins = _joins(_history_after_marker(stack, api, t.token("ann"), t.channel))
    assert sorted(joins) == sorted(ids) and set(joins.values()) == {1}, joins
    rows = _members(stack, t.channel)
    assert sorted(rows) == sorted(ids + [t.uid("ann")])
    return _resends(stack, "waited") - waited, _resends(stack, "replayed") - replayed


def test_invite_resent_while_running_gets_the_same_reply(stack, api):
    """the second copy reaches the shard while the first waits for its 800
    acknowledgements: it waits for the first and gets its reply"""
    waited, replayed = _check_invite(stack, api, "concurrent", 400)
    assert waited == 1 and replayed == 0, (waited, replayed)


def test_invite_resent_after_the_reply_gets_the_same_reply(stack, api):
    waited, replayed = _check_invite(stack, api, "after", 50)
    assert waited == 0 and replayed == 1, (waited, replayed)


def test_every_state_change_answers_its_resend_alike(stack, api):
    """each state-changing method, resent after its reply: the original's
    answer (run twice, most of them would answer an error the second time:
    already_reacted, not_in_channel, message_not_found, already_archived)"""
    t = parley.provision(stack, users=("ann", "bob", "cid"), channel="resend")
    ann, bob = t.uid("ann"), t.uid("bob")
    post = api.call("chat.postMessage", t.token("ann"), channel=t.channel, text="x")
    gone = api.call("chat.postMessage", t.token("ann"), channel=t.channel, text="y")
    other = api.call("conversations.create", t.token("bob"), name=parley.unique("o-"))
    steps = [
        ("conversations.create", ann, {"name": parley.unique("rc-")}),
        ("conversations.open", ann, {"users": t.uid("cid")}),
        ("chat.update", ann, {"channel": t.channel, "ts": post["ts"], "text": "edited"}),
        ("reactions.add", bob, {"channel": t.channel, "timestamp": post["ts"],
                                "name": "thumbsup"}),
        ("reactions.remove", bob, {"channel": t.channel, "timestamp": post["ts"],
                                   "name": "thumbsup"}),
        ("chat.delete", ann, {"channel": t.channel, "ts": gone["ts"]}),
        ("conversations.join", ann, {"channel": other["channel"]["id"]}),
        ("conversations.leave", ann, {"channel": other["channel"]["id"]}),
        ("conversations.kick", ann, {"channel": t.channel, "user": t.uid("cid")}),
        ("conversations.leave", bob, {"channel": t.channel}),
        ("conversations.archive", ann, {"channel": t.channel}),
    ]
    for method, user, params in steps:
        r = _same(_resend(stack, method, user, t.id, "after", params))
        assert r["rv"] == 0 and r["ok"] is True, (method, r)
    # admin methods: the caller is the admin (no user)
    name = parley.unique("rt-")
    r = _same(_resend(stack, "admin.teams.create", "", "", "after", {"name": name},
                      admin=True))
    assert r["ok"] is True, r
    team = json.loads(r["json"])["team"]["id"]
    r = _same(_resend(stack, "admin.users.create", "", "", "after",
                      {"team_id": team, "name": "dee"}, admin=True))
    assert r["ok"] is True, r
    dee = json.loads(r["json"])["user"]["id"]
    r = _same(_resend(stack, "admin.users.remove", "", "", "after", {"user": dee},
                      admin=True))
    assert r["ok"] is True, r


def test_post_without_client_msg_id_resent_is_one_message(stack, api):
    """chat.postMessage keeps its own guard (dedupe.c, keyed by the request
    id when there is no client_msg_id - the RTM sends' case now that the
    gateway gives them a request id): both timings, one message"""
    t = parley.provision(stack, users=("ann",), channel="resend")
    for mode in ("concurrent", "after"):
        text = "once-" + mode
        r = _same(_resend(stack, "chat.postMessage", t.uid("ann"), t.id, mode,
                          {"channel": t.channel, "text": text}))
        assert r["ok"] is True, r
        msgs = _history_after_marker(stack, api, t.token("ann"), t.channel)
        assert [m["ts"] for m in msgs if m.get("text") == text] == [
            json.loads(r["json"])["ts"]], msgs


def test_same_key_other_request_is_not_answered_from_the_first(stack, api):
    """a key is never shared between two different requests: the same key
    with other parameters (or another caller) runs as itself"""
    t = parley.provision(stack, users=("ann", "bob"), channel="resend")
    post = api.call("chat.postMessage", t.token("ann"), channel=t.channel, text="x")
    key = parley.unique("k")
    a = _resend(stack, "reactions.add", t.uid("ann"), t.id, "after",
                {"channel": t.channel, "timestamp": post["ts"], "name": "tada"}, key=key)
    b = _resend(stack, "reactions.add", t.uid("ann"), t.id, "after",
                {"channel": t.channel, "timestamp": post["ts"], "name": "smile"}, key=key)
    c = _resend(stack, "reactions.add", t.uid("bob"), t.id, "after",
                {"channel": t.channel, "timestamp": post["ts"], "name": "tada"}, key=key)
    for x in (a, b, c):
        assert _same(x)["ok"] is True, x
    got = api.call("reactions.get", t.token("ann"), channel=t.channel,
                   timestamp=post["ts"])["message"]["reactions"]
    assert sorted((g["name"], sorted(g["users"])) for g in got) == sorted(
        [("smile", [t.uid("ann")]), ("tada", sorted([t.uid("ann"), t.uid("bob")]))])
