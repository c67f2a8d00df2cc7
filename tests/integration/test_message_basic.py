"""message-svc through the gateway's Web API: send, validation, idempotency,
persistence, history pagination, directory errors. Uses the stack harness
(real Redis, PostgreSQL with 2 shards, devkafka, 2 message-svc shards)."""
import parley


def test_post_persist_and_shape(stack, api, team):
    tok = team.token("alice")
    r = api.call("chat.postMessage", tok, channel=team.channel, text="hello")
    assert r["channel"] == team.channel
    m = r["message"]
    assert m["text"] == "hello" and m["user"] == team.uid("alice")
    assert m["ts"] == r["ts"] and m["seq"] >= 1
    shard, row = parley.find_message_row(stack, team.channel, m["seq"])
    assert row["text"] == "hello" and row["ts"] == r["ts"]


def test_seq_and_ts_increase(api, team):
    tok = team.token("bob")
    seqs, tss = [], []
    for i in range(5):
        r = api.call("chat.postMessage", tok, channel=team.channel, text="m%d" % i)
        seqs.append(r["message"]["seq"])
        tss.append(float(r["ts"]))
    assert seqs == list(range(seqs[0], seqs[0] + 5))
    assert tss == sorted(tss) and len(set(tss)) == 5


def test_client_msg_id_idempotent(api, team):
    tok = team.token("alice")
    a = api.call("chat.postMessage", tok, channel=team.channel, text="once",
                 client_msg_id="cmid-1")
    b = api.call("chat.postMessage", tok, channel=team.channel, text="once",
                 client_msg_id="cmid-1")
    assert a["ts"] == b["ts"] and a["message"]["seq"] == b["message"]["seq"]


def test_validation_errors(api, team):
    tok = team.token("alice")
    def err(**kw):
        return api.call("chat.postMessage", tok, check=False, **kw).get("error")
    assert err(channel=team.channel, text="") == "no_text"
    assert err(channel=team.channel, text="x" * 40001) == "msg_too_long"
    assert err(channel="C0NOSUCHCHAN1", text="hi") == "channel_not_found"
    other = api.call("conversations.create", tok, name=parley.unique("priv-"),
                     is_private="true")["channel"]["id"]
    r = api.call("chat.postMessage", team.token("bob"), check=False, channel=other,
                 text="hi")
    assert r["error"] in ("not_in_channel", "channel_not_found")


def test_history_pages_by_seq(stack, api, team):
    tok = team.token("alice")
    sent = [api.call("chat.postMessage", tok, channel=team.channel, text="h%d" % i)
            for i in range(7)]
    parley.find_message_row(stack, team.channel, sent[-1]["message"]["seq"])
    seen, cursor = [], ""
    for _ in range(10):
        kw = dict(channel=team.channel, limit=3)
        if cursor:
            kw["cursor"] = cursor
        page = api.call("conversations.history", tok, **kw)
        seen += [m["ts"] for m in page["messages"]]
        # a message arriving between pages must not shift the next page
        api.call("chat.postMessage", tok, channel=team.channel, text="late")
        cursor = page["response_metadata"]["next_cursor"]
        if not page["has_more"]:
            break
    want = [s["ts"] for s in sent]
    assert all(ts in seen for ts in want), (want, seen)
    assert len(seen) == len(set(seen))


def test_names_taken(stack, api, team):
    admin = stack.admin_token
    r = api.call("admin.users.create", admin, check=False, team_id=team.id, name="alice")
    assert r["error"] == "name_taken"
    r = api.call("admin.users.create", team.token("alice"), check=False, team_id=team.id,
                 name="zed")
    assert not r["ok"]
