"""message-svc's Web API methods beyond send/history, through the gateway:
chat.update/delete, reactions.*, conversations.list/archive/open, users.*,
team.info, and history/replies including messages not yet in PostgreSQL.
Real stack (stack fixture): Redis, PostgreSQL (2 shards), devkafka, 2 shards."""
import parley


def post(api, tok, ch, text, **kw):
    return api.call("chat.postMessage", tok, channel=ch, text=text, **kw)


def err(api, method, tok, **kw):
    r = api.call(method, tok, check=False, **kw)
    assert not r["ok"], r
    return r["error"]


def test_update_delete_events_and_errors(stack, api, team):
    a, b = team.token("alice"), team.token("bob")
    with parley.Ws(stack.ws_url, b) as ws:
        m = post(api, a, team.channel, "first")
        seq = m["message"]["seq"]
        u = api.call("chat.update", a, channel=team.channel, ts=m["ts"], text="second")
        assert u["channel"] == team.channel and u["ts"] == m["ts"] and u["text"] == "second"
        assert u["message"]["text"] == "second" and u["message"]["edited"]["user"] == \
            team.uid("alice")
        ev = ws.wait_event(lambda e: e.get("subtype") == "message_changed")
        assert ev["seq"] == seq + 1 and ev["message"]["ts"] == m["ts"]
        assert ev["message"]["text"] == "second"
        assert ev["previous_message"]["text"] == "first"
        assert err(api, "chat.update", b, channel=team.channel, ts=m["ts"],
                   text="x") == "cant_update_message"
        assert err(api, "chat.update", a, channel=team.channel, ts="1.000001",
                   text="x") == "message_not_found"
        assert err(api, "chat.delete", b, channel=team.channel,
                   ts=m["ts"]) == "cant_delete_message"
        d = api.call("chat.delete", a, channel=team.channel, ts=m["ts"])
        assert d["channel"] == team.channel and d["ts"] == m["ts"]
        ev = ws.wait_event(lambda e: e.get("subtype") == "message_deleted")
        assert ev["deleted_ts"] == m["ts"] and ev["seq"] == seq + 2
        assert err(api, "chat.update", a, channel=team.channel, ts=m["ts"],
                   text="x") == "message_not_found"
        assert err(api, "chat.delete", a, channel=team.channel,
                   ts=m["ts"]) == "message_not_found"
    h = api.call("conversations.history", a, channel=team.channel, limit=50)
    assert m["ts"] not in [x["ts"] for x in h["messages"]]
    # persisted: the row says deleted, edited text kept
    _, row = parley.find_message_row(stack, team.channel, seq)
    parley.wait_for(lambda: parley.find_message_row(stack, team.channel, seq)[1]["deleted"],
                    what="deleted row")


def test_update_shows_in_history(stack, api, team):
    a = team.token("alice")
    m = post(api, a, team.channel, "v1")
    api.call("chat.update", a, channel=team.channel, ts=m["ts"], text="v2")
    h = api.call("conversations.history", a, channel=team.channel, limit=5)
    got = [x for x in h["messages"] if x["ts"] == m["ts"]]
    assert got and got[0]["text"] == "v2" and got[0]["edited"]["ts"]


def test_reactions(stack, api, team):
    a, b = team.token("alice"), team.token("bob")
    m = post(api, a, team.channel, "react to me")
    with parley.Ws(stack.ws_url, a) as ws:
        assert api.call("reactions.add", b, channel=team.channel, timestamp=m["ts"],
                        name="thumbsup")["ok"]
        ev = ws.wait_event(lambda e: e.get("type") == "reaction_added")
        assert ev["reaction"] == "thumbsup" and ev["user"] == team.uid("bob")
        assert ev["item"] == {"type": "message", "channel": team.channel, "ts": m["ts"]}
        assert ev["seq"] == m["message"]["seq"] + 1
        assert err(api, "reactions.add", b, channel=team.channel, timestamp=m["ts"],
                   name=":thumbsup:") == "already_reacted"
        api.call("reactions.add", a, channel=team.channel, timestamp=m["ts"], name="thumbsup")
        api.call("reactions.add", a, channel=team.channel, timestamp=m["ts"], name="tada")
        g = api.call("reactions.get", a, channel=team.channel, timestamp=m["ts"])
        assert g["type"] == "message" and g["channel"] == team.channel
        rx = {r["name"]: r for r in g["message"]["reactions"]}
        assert rx["thumbsup"]["count"] == 2
        assert set(rx["thumbsup"]["users"]) == {team.uid("alice"), team.uid("bob")}
        assert rx["tada"]["users"] == [team.uid("alice")]
        api.call("reactions.remove", b, channel=team.channel, timestamp=m["ts"],
                 name="thumbsup")
        ev = ws.wait_event(lambda e: e.get("type") == "reaction_removed")
        assert ev["user"] == team.uid("bob")
        assert err(api, "reactions.remove", b, channel=team.channel, timestamp=m["ts"],
                   name="thumbsup") == "no_reaction"
    assert err(api, "reactions.add", a, channel=team.channel, timestamp="1.000001",
               name="x") == "message_not_found"
    assert err(api, "reactions.add", a, channel=team.channel, timestamp=m["ts"],
               name="Bad Name") == "invalid_name"
    # after persistence the same answer comes from PostgreSQL
    later = post(api, a, team.channel, "after the reactions")
    parley.find_message_row(stack, team.channel, later["message"]["seq"])
    g = api.call("reactions.get", a, channel=team.channel, timestamp=m["ts"])
    rx = {r["name"]: r for r in g["message"]["reactions"]}
    assert rx["thumbsup"]["users"] == [team.uid("alice")] and "tada" in rx


def test_conversations_list_and_archive(stack, api):
    t = parley.provision(stack, users=("ann", "ben"), channel="pub")
    a, b = t.token("ann"), t.token("ben")
    priv = api.call("conversations.create", a, name=parley.unique("priv-"),
                    is_private="true")["channel"]["id"]
    r = api.call("conversations.list", b, types="public_channel,private_channel")
    ids = {c["id"]: c for c in r["channels"]}
    assert t.channel in ids and priv not in ids          # ben is not in priv
    c = ids[t.channel]
    for k, typ in (("id", str), ("name", str), ("is_channel", bool), ("is_group", bool),
                   ("is_im", bool), ("is_mpim", bool), ("is_private", bool),
                   ("is_archived", bool), ("is_member", bool), ("created", int),
                   ("creator", str), ("num_members", int)):
        assert isinstance(c[k], typ), (k, c)
    assert c["is_member"] is True and c["num_members"] == 2
    r = api.call("conversations.list", a, types="private_channel")
    assert [x["id"] for x in r["channels"]] == [priv]
    assert err(api, "conversations.list", a, types="nonsense") == "invalid_types"
    # pagination: limit 1 walks every channel once
    more = [api.call("conversations.create", a, name=parley.unique("p-"))["channel"]["id"]
            for _ in range(3)]
    seen, cur = [], ""
    for _ in range(10):
        kw = {"limit": 1}
        if cur:
            kw["cursor"] = cur
        r = api.call("conversations.list", a, **kw)
        seen += [x["id"] for x in r["channels"] if not x["is_general"]]
        cur = r["response_metadata"]["next_cursor"]
        if not cur:
            break
    assert sorted(seen) == sorted([t.channel] + more) and len(seen) == len(set(seen))
    # archive
    assert err(api, "conversations.archive", b, channel=priv) == "channel_not_found"
    with parley.Ws(stack.ws_url, b) as ws:
        api.call("conversations.archive", a, channel=t.channel)
        ws.wait_event(lambda e: e.get("type") == "channel_archive" and
                      e.get("channel") == t.channel)
    assert err(api, "chat.postMessage", a, channel=t.channel, text="x") == "is_archived"
    assert err(api, "conversations.archive", a, channel=t.channel) == "already_archived"
    info = api.call("conversations.info", a, channel=t.channel)["channel"]
    assert info["is_archived"] is True
    r = api.call("conversations.list", a, exclude_archived="true")
    assert t.channel not in [x["id"] for x in r["channels"]]
    r = api.call("conversations.list", a)
    assert [x for x in r["channels"] if x["id"] == t.channel][0]["is_archived"] is True


def test_conversations_open(stack, api):
    t = parley.provision(stack, users=("u1", "u2", "u3", "u4"), channel=None)
    tok = t.token("u1")
    r = api.call("conversations.open", tok, users=t.uid("u2"))
    d = r["channel"]
    assert d["id"].startswith("D") and d["is_im"] is True and d["user"] == t.uid("u2")
    again = api.call("conversations.open", t.token("u2"), users=t.uid("u1"))
    assert again["channel"]["id"] == d["id"] and again.get("already_open") is True
    m = post(api, tok, d["id"], "psst")
    h = api.call("conversations.history", t.token("u2"), channel=d["id"])
    assert [x["ts"] for x in h["messages"]] == [m["ts"]]
    assert err(api, "conversations.history", t.token("u3"),
               channel=d["id"]) == "channel_not_found"
    g = api.call("conversations.open", tok, users="%s,%s" % (t.uid("u3"), t.uid("u2")))
    gid = g["channel"]["id"]
    assert gid.startswith("G") and g["channel"]["is_mpim"] is True
    g2 = api.call("conversations.open", t.token("u3"), users="%s,%s" % (t.uid("u1"),
                                                                      t.uid("u2")))
    assert g2["channel"]["id"] == gid
    assert api.call("conversations.members", tok, channel=gid)["members"]
    assert err(api, "conversations.open", tok, users="UNOSUCHUSER1") == "user_not_found"
    assert err(api, "conversations.open", tok) == "users_list_not_supplied"
    r = api.call("users.conversations", tok, types="im,mpim")
    assert {x["id"] for x in r["channels"]} == {d["id"], gid}
    r = api.call("users.conversations", t.token("u4"), types="im,mpim")
    assert r["channels"] == []


def test_users_and_team(stack, api):
    t = parley.provision(stack, users=("x1", "x2", "x3"), channel="c")
    tok = t.token("x1")
    seen, cur = [], ""
    for _ in range(10):
        kw = {"limit": 2}
        if cur:
            kw["cursor"] = cur
        r = api.call("users.list", tok, **kw)
        seen += r["members"]
        cur = r["response_metadata"]["next_cursor"]
        if not cur:
            break
    assert sorted(u["id"] for u in seen) == sorted(u["id"] for u in t.users.values())
    u = api.call("users.info", tok, user=t.uid("x2"))["user"]
    assert u["id"] == t.uid("x2") and u["team_id"] == t.id and u["name"] == "x2"
    assert u["deleted"] is False and u["is_admin"] is False
    assert isinstance(u["profile"], dict) and u["profile"]["display_name"] == "x2"
    assert err(api, "users.info", tok, user="UNOSUCHUSER1") == "user_not_found"
    other = parley.provision(stack, users=("y1",), channel=None)
    assert err(api, "users.info", tok, user=other.uid("y1")) == "user_not_found"
    team = api.call("team.info", tok)["team"]
    assert team["id"] == t.id and team["name"] == t.name and "domain" in team
    assert err(api, "team.info", tok, team=other.id) == "team_not_found"
    r = api.call("users.conversations", tok)
    assert [c["id"] for c in r["channels"] if not c["is_general"]] == [t.channel]


def test_history_has_unpersisted_and_replies(stack, api, team):
    a, b = team.token("alice"), team.token("bob")
    for i in range(20):
        m = post(api, a, team.channel, "burst %d" % i)
        h = api.call("conversations.history", b, channel=team.channel, limit=1)
        assert h["messages"][0]["ts"] == m["ts"], (i, h)
    parent = post(api, a, team.channel, "parent")
    r1 = post(api, b, team.channel, "r1", thread_ts=parent["ts"])
    r2 = post(api, a, team.channel, "r2", thread_ts=parent["ts"])
    rep = api.call("conversations.replies", b, channel=team.channel, ts=parent["ts"])
    assert [x["ts"] for x in rep["messages"]] == [parent["ts"], r1["ts"], r2["ts"]]
    h = api.call("conversations.history", b, channel=team.channel, limit=3)
    top = [x for x in h["messages"] if x["ts"] == parent["ts"]][0]
    assert top["reply_count"] == 2 and top["thread_ts"] == parent["ts"]
    assert r1["ts"] not in [x["ts"] for x in h["messages"]]
    # replies page forward with the cursor
    p1 = api.call("conversations.replies", b, channel=team.channel, ts=parent["ts"], limit=2)
    assert p1["has_more"] is True
    p2 = api.call("conversations.replies", b, channel=team.channel, ts=parent["ts"], limit=2,
                  cursor=p1["response_metadata"]["next_cursor"])
    assert [x["ts"] for x in p1["messages"] + p2["messages"]] == \
        [parent["ts"], r1["ts"], r2["ts"]]
    # once persisted the same answers come from PostgreSQL
    parley.find_message_row(stack, team.channel, r2["message"]["seq"])
    h = api.call("conversations.history", b, channel=team.channel, limit=3)
    top = [x for x in h["messages"] if x["ts"] == parent["ts"]][0]
    assert top["reply_count"] == 2


def test_new_dm_delivered_live(stack, api):
    """a DM opened while the other member is connected reaches them live:
    needs the gateway to subscribe on MEMBER_JOINED (parley.events)"""
    t = parley.provision(stack, users=("v1", "v2"), channel=None)
    with parley.Ws(stack.ws_url, t.token("v2")) as ws:
        d = api.call("conversations.open", t.token("v1"), users=t.uid("v2"))["channel"]
        m = post(api, t.token("v1"), d["id"], "live?")
        ws.wait_event(lambda e: e.get("type") == "message" and e.get("ts") == m["ts"])
