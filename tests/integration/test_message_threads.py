"""message-svc: what history and replies show on a message beyond itself -
reactions, a thread root's reply_count / reply_users_count / reply_users /
latest_reply, a reply's parent_user_id - the same whether the events are
still in the shard's unpersisted tail or already in PostgreSQL; replies of a
reply's ts, thread_not_found; conversations.members pages; a DM's "user";
invalid_cursor and the create name errors. Real stack (stack fixture)."""
import parley


def post(api, tok, ch, text, **kw):
    return api.call("chat.postMessage", tok, channel=ch, text=text, **kw)


def err(api, method, tok, **kw):
    r = api.call(method, tok, check=False, **kw)
    assert not r["ok"], r
    return r["error"]


def _strip(answer):
    return {k: v for k, v in answer.items() if k != "warning"}


def test_thread_and_reactions_same_from_tail_and_postgres(stack, api):
    t = parley.provision(stack, users=("ann", "ben", "cat"))
    a, b, c = (t.token(n) for n in ("ann", "ben", "cat"))
    ch = t.channel
    parent = post(api, a, ch, "root")["ts"]
    r = [post(api, b, ch, "b1", thread_ts=parent)["ts"],
         post(api, c, ch, "c1", thread_ts=parent)["ts"],
         post(api, b, ch, "b2", thread_ts=parent)["ts"],
         post(api, c, ch, "c2", thread_ts=parent)["ts"]]
    api.call("reactions.add", b, channel=ch, timestamp=parent, name="eyes")
    api.call("reactions.add", c, channel=ch, timestamp=parent, name="eyes")
    api.call("reactions.add", a, channel=ch, timestamp=r[0], name="tada")
    api.call("reactions.add", a, channel=ch, timestamp=parent, name="fire")
    api.call("reactions.remove", a, channel=ch, timestamp=parent, name="fire")
    api.call("chat.update", b, channel=ch, ts=r[0], text="b1 edited")
    # a reply deleted that is neither the latest nor its author's only one
    api.call("chat.delete", b, channel=ch, ts=r[2])
    last = post(api, a, ch, "after")

    def answers():
        h = api.call("conversations.history", a, channel=ch, limit=5)
        rep = api.call("conversations.replies", a, channel=ch, ts=parent)
        return _strip(h), _strip(rep)

    early_h, early_rep = answers()
    parley.find_message_row(stack, ch, last["message"]["seq"])
    late_h, late_rep = answers()
    assert early_h == late_h, "history differs tail vs PostgreSQL:\n%r\n%r" % (
        early_h, late_h)
    assert early_rep == late_rep, "replies differ tail vs PostgreSQL:\n%r\n%r" % (
        early_rep, late_rep)

    root = [m for m in late_h["messages"] if m["ts"] == parent][0]
    assert root["reply_count"] == 3 and root["thread_ts"] == parent, root
    assert root["reply_users_count"] == 2, root
    assert root["reply_users"] == [t.uid("ben"), t.uid("cat")], root
    assert root["latest_reply"] == r[3], root
    assert root["reactions"] == [{"name": "eyes", "users": [t.uid("ben"), t.uid("cat")],
                                  "count": 2}], root
    msgs = late_rep["messages"]
    assert [m["ts"] for m in msgs] == [parent, r[0], r[1], r[3]], msgs
    assert msgs[0]["reply_users"] == root["reply_users"] and "parent_user_id" not in msgs[0]
    for m in msgs[1:]:
        assert m["parent_user_id"] == t.uid("ann") and m["thread_ts"] == parent, m
        assert "reply_count" not in m, m
    assert msgs[1]["text"] == "b1 edited" and msgs[1]["reactions"] == [
        {"name": "tada", "users": [t.uid("ann")], "count": 1}], msgs[1]
    assert "reactions" not in msgs[2], msgs[2]
    # a reply's ts names the same thread; later pages keep parent_user_id
    assert _strip(api.call("conversations.replies", a, channel=ch, ts=r[1])) == late_rep
    p1 = api.call("conversations.replies", a, channel=ch, ts=parent, limit=2)
    p2 = api.call("conversations.replies", a, channel=ch, ts=parent, limit=2,
                  cursor=p1["response_metadata"]["next_cursor"])
    assert [m["ts"] for m in p2["messages"]] == [r[1], r[3]], p2
    assert all(m["parent_user_id"] == t.uid("ann") for m in p2["messages"]), p2


def test_replies_errors_and_cursors(stack, api):
    t = parley.provision(stack, users=("dan", "eve"))
    d = t.token("dan")
    gone = post(api, d, t.channel, "to delete")["ts"]
    api.call("chat.delete", d, channel=t.channel, ts=gone)
    assert err(api, "conversations.replies", d, channel=t.channel, ts=gone) == \
        "thread_not_found"
    assert err(api, "conversations.replies", d, channel=t.channel,
               ts="1000000000.000009") == "thread_not_found"
    assert err(api, "conversations.replies", d, channel=t.channel, ts="junk") == \
        "thread_not_found"
    alone = post(api, d, t.channel, "alone")["ts"]
    for method, kw in (("conversations.history", {}),
                       ("conversations.replies", {"ts": alone}),
                       ("conversations.members", {})):
        assert err(api, method, d, channel=t.channel, cursor="!!x!!", **kw) == \
            "invalid_cursor", method
        # a well-formed cursor of another method is not ours either
        assert err(api, method, d, channel=t.channel, cursor="aWQ6VTE" if method !=
                   "conversations.members" else "c2VxOjU", **kw) == "invalid_cursor", method
    for method in ("conversations.list", "users.list", "users.conversations"):
        assert err(api, method, d, cursor="c2VxOjU") == "invalid_cursor", method


def test_members_pages_and_dm_user(stack, api):
    names = ("m%d" % i for i in range(7))
    t = parley.provision(stack, users=tuple(names))
    tok = t.token("m0")
    everyone = sorted(t.uid("m%d" % i) for i in range(7))
    full = api.call("conversations.members", tok, channel=t.channel)
    assert sorted(full["members"]) == everyone and \
        full["response_metadata"]["next_cursor"] == "", full
    for limit in (1, 3, 7, 100):
        seen, cursor, pages = [], "", 0
        while True:
            b = api.call("conversations.members", tok, channel=t.channel, limit=limit,
                         cursor=cursor)
            assert len(b["members"]) <= limit, b
            seen += b["members"]
            pages += 1
            cursor = b["response_metadata"]["next_cursor"]
            if not cursor:
                break
            assert len(b["members"]) == limit, b
        assert seen == everyone, (limit, seen)
        assert pages == max(1, -(-7 // limit)), (limit, pages)
    dm = api.call("conversations.open", tok, users=t.uid("m1"))["channel"]
    assert dm["user"] == t.uid("m1") and dm["is_im"] is True, dm
    for me, other in (("m0", "m1"), ("m1", "m0")):
        info = api.call("conversations.info", t.token(me), channel=dm["id"])["channel"]
        assert info["is_im"] is True and info["user"] == t.uid(other), info
    self_dm = api.call("conversations.open", tok, users=t.uid("m0"))["channel"]
    info = api.call("conversations.info", tok, channel=self_dm["id"])["channel"]
    assert info["user"] == t.uid("m0"), info


def test_create_name_errors(stack, api):
    t = parley.provision(stack, users=("fay",), channel=None)
    tok = t.token("fay")
    assert err(api, "conversations.create", tok) == "invalid_name_required"
    assert err(api, "conversations.create", tok, name="") == "invalid_name_required"
    assert err(api, "conversations.create", tok, name="x" * 81) == "invalid_name_maxlength"
    assert err(api, "conversations.create", tok, name="Upper") == "invalid_name_specials"
    assert err(api, "conversations.create", tok, name="a b") == "invalid_name_specials"
    assert err(api, "conversations.create", tok, name="-_.") == "invalid_name_punctuation"
    name = parley.unique("ok-")
    api.call("conversations.create", tok, name=name)
    assert err(api, "conversations.create", tok, name=name) == "name_taken"
    api.call("conversations.create", tok, name="y" * 80)


# ---- history while PostgreSQL is down: the Redis recent cache joined to the tail

def _strip_all(answer):
    return {k: v for k, v in answer.items() if k not in ("warning",)}


def test_history_from_redis_cache_while_postgres_down(new_stack):
    import redis
    from test_message_robust import _pg_ctl, _pg_start

    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    t = parley.provision(st, users=("gil", "hal"), api=api)
    g, h = t.token("gil"), t.token("hal")
    ch = t.channel
    ms = [post(api, g, ch, "m%d" % i)["ts"] for i in range(5)]
    api.call("reactions.add", h, channel=ch, timestamp=ms[1], name="eyes")
    api.call("chat.update", g, channel=ch, ts=ms[2], text="m2 edited")
    post(api, h, ch, "reply", thread_ts=ms[3])
    api.call("chat.delete", g, channel=ch, ts=ms[4])
    last = post(api, g, ch, "m5")
    parley.find_message_row(st, ch, last["message"]["seq"], timeout=30)
    want_h = _strip_all(api.call("conversations.history", h, channel=ch, limit=50,
                                 oldest=ms[0], inclusive="true"))
    want_all = _strip_all(api.call("conversations.history", h, channel=ch, limit=50))
    want_r = _strip_all(api.call("conversations.replies", h, channel=ch, ts=ms[3]))
    assert [m["ts"] for m in want_h["messages"]] == [last["ts"], ms[3], ms[2], ms[1],
                                                     ms[0]], want_h
    r = _pg_ctl(st, "stop", "-m", "fast", "-w", "-t", "30")
    assert r.returncode == 0, r.stderr
    try:
        # everything is persisted: the tail is empty, the cache answers
        assert _strip_all(api.call("conversations.history", h, channel=ch, limit=50,
                                   oldest=ms[0], inclusive="true")) == want_h
        # the cache holds the channel from its first event (seq 1): complete
        assert _strip_all(api.call("conversations.history", h, channel=ch,
                                   limit=50)) == want_all
        assert _strip_all(api.call("conversations.replies", h, channel=ch,
                                   ts=ms[3])) == want_r
        # a new message (tail) joins the cached ones
        new = post(api, h, ch, "during")["ts"]
        b = api.call("conversations.history", h, channel=ch, limit=50, oldest=ms[0],
                     inclusive="true")
        assert [m["ts"] for m in b["messages"]] == [new] + [
            m["ts"] for m in want_h["messages"]], b
        # the cache lost: only the tail is left, which cannot prove a full page
        redis.Redis(host="127.0.0.1", port=st.redis_port).flushall()
        new2 = post(api, h, ch, "after flush")["ts"]
        e = api.call("conversations.history", h, channel=ch, check=False, limit=50)
        assert e["ok"] is False and e["error"] == "service_unavailable", e
        b = api.call("conversations.history", h, channel=ch, limit=1)
        assert [m["ts"] for m in b["messages"]] == [new2] and b["has_more"] is True, b
        b = api.call("conversations.history", h, channel=ch, limit=50, oldest=new,
                     inclusive="true")
        assert [m["ts"] for m in b["messages"]] == [new2, new], b
    finally:
        _pg_start(st)
    # PostgreSQL back: the full answer again, once the shard has reconnected
    b = parley.wait_for(lambda: (lambda r: r if r["ok"] else None)(
        api.call("conversations.history", h, check=False, channel=ch, limit=50)),
        timeout=30, what="history after PostgreSQL restart")
    assert [m["ts"] for m in b["messages"]][:2] == [new2, new], b
