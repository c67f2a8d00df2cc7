"""notify-svc (issue #13, part 1): unread and mention counts derived from the
log and the read markers, conversations.mark and its channel_marked /
im_marked events, conversations.info's unread fields, client.counts, and
exact counts across a kill -9 of notify-svc (offsets commit with the rows)."""

import signal
import threading

import parley
from parley import wait_for


def counts(api, tok):
    return api.call("client.counts", tok)


def entry(c, cid):
    for key in ("channels", "mpims", "ims"):
        for e in c[key]:
            if e["id"] == cid:
                return e
    return None


def wait_entry(api, tok, cid, pred, what):
    box = {}

    def look():
        e = entry(counts(api, tok), cid)
        box["e"] = e
        return e is not None and pred(e)
    wait_for(look, 30, what + " (last seen %r)" % (box.get("e"),))
    return box["e"]


def post(api, tok, cid, text, **kw):
    return api.call("chat.postMessage", tok, channel=cid, text=text, **kw)


def test_unread_mentions_and_threads(api, team):
    a, b, c = team.token("alice"), team.token("bob"), team.token("carol")
    ch = team.channel
    first = post(api, a, ch, "one")
    post(api, a, ch, "two")
    post(api, a, ch, "hi <@%s>" % team.uid("bob"))
    e = wait_entry(api, b, ch, lambda e: e["unread_count"] == 3, "bob: 3 unread")
    assert e["mention_count"] == 1 and e["has_unreads"] is True
    # the author has read their own messages
    assert entry(counts(api, a), ch)["unread_count"] == 0
    # a reply counts in its thread, not in the channel; "after" travels the
    # same path behind it and proves the reply was applied
    post(api, a, ch, "<@%s> in a thread" % team.uid("bob"), thread_ts=first["ts"])
    last = post(api, a, ch, "after")
    e = wait_entry(api, b, ch, lambda e: e["unread_count"] == 4, "bob: 4 unread")
    assert e["mention_count"] == 1, e
    assert e["latest"] == last["ts"]
    cb = counts(api, b)
    assert cb["threads"] == {"has_unreads": True, "mention_count": 1}, cb["threads"]
    # carol was not mentioned
    e = wait_entry(api, c, ch, lambda e: e["unread_count"] == 4, "carol: 4 unread")
    assert e["mention_count"] == 0
    # conversations.info carries the caller's fields
    info = api.call("conversations.info", b, channel=ch)["channel"]
    assert info["id"] == ch
    assert info["unread_count"] == 4 and info["unread_count_display"] == 4
    assert info["last_read"] == "0000000000.000000" or info["last_read"] < first["ts"]
    # marking clears the counts at once (the marker is committed first)
    api.call("conversations.mark", b, channel=ch, ts=last["ts"])
    e = entry(counts(api, b), ch)
    assert (e["unread_count"], e["mention_count"], e["has_unreads"]) == (0, 0, False)
    assert e["last_read"] == last["ts"]
    assert api.call("conversations.info", b, channel=ch)["channel"]["last_read"] == last["ts"]
    # the thread has its own marker
    api.call("conversations.mark", b, channel=ch, ts=last["ts"], thread_ts=first["ts"])
    assert counts(api, b)["threads"]["mention_count"] == 0
    # marking back makes the later messages unread again (Slack's "mark unread")
    api.call("conversations.mark", b, channel=ch, ts=first["ts"])
    assert entry(counts(api, b), ch)["unread_count"] == 3


def test_broadcast_and_dm_mentions(api, team):
    a, b, c = team.token("alice"), team.token("bob"), team.token("carol")
    ch = team.channel
    post(api, a, ch, "<!channel> standup")
    post(api, a, ch, "<!here|here> anyone?")
    for tok, who in ((b, "bob"), (c, "carol")):
        e = wait_entry(api, tok, ch, lambda e: e["unread_count"] == 2, who + ": 2 unread")
        assert e["mention_count"] == 2, (who, e)
    dm = api.call("conversations.open", a, users=team.uid("bob"))["channel"]["id"]
    post(api, a, dm, "psst")
    post(api, a, dm, "still there?")
    e = wait_entry(api, b, dm, lambda e: e["unread_count"] == 2, "bob: 2 DM unread")
    assert e["mention_count"] == 2                 # every DM message is a mention
    assert entry(counts(api, b), dm) in counts(api, b)["ims"]
    grp = api.call("conversations.open", a, users="%s,%s" % (
        team.uid("bob"), team.uid("carol")))["channel"]["id"]
    post(api, a, grp, "all three")
    e = wait_entry(api, c, grp, lambda e: e["unread_count"] == 1, "carol: group unread")
    assert e["mention_count"] == 1
    assert any(x["id"] == grp for x in counts(api, c)["mpims"])


def test_deleted_message_no_longer_unread(api, team):
    a, b = team.token("alice"), team.token("bob")
    ch = team.channel
    m = post(api, a, ch, "oops <@%s>" % team.uid("bob"))
    wait_entry(api, b, ch, lambda e: e["mention_count"] == 1, "bob: mentioned")
    api.call("chat.delete", a, channel=ch, ts=m["ts"])
    e = wait_entry(api, b, ch, lambda e: e["unread_count"] == 0, "bob: deletion applied")
    assert e["mention_count"] == 0


def test_mark_events_to_other_connections(stack, api, team):
    a, b = team.token("alice"), team.token("bob")
    ch = team.channel
    m = post(api, a, ch, "read me")
    dm = api.call("conversations.open", a, users=team.uid("bob"))["channel"]["id"]
    d = post(api, a, dm, "and me")
    with parley.Ws(stack.ws_url, b) as ws:
        api.call("conversations.mark", b, channel=ch, ts=m["ts"])
        ev = ws.wait_event(lambda e: e.get("type") == "channel_marked", what="channel_marked")
        assert (ev["channel"], ev["ts"]) == (ch, m["ts"])
        api.call("conversations.mark", b, channel=dm, ts=d["ts"])
        ev = ws.wait_event(lambda e: e.get("type") == "im_marked", what="im_marked")
        assert (ev["channel"], ev["ts"]) == (dm, d["ts"])
    # alice's connections learn nothing of bob's markers: her own mark is the
    # marker event that travels the same path after bob's
    with parley.Ws(stack.ws_url, a) as wa:
        api.call("conversations.mark", b, channel=ch, ts=m["ts"])
        api.call("conversations.mark", a, channel=ch, ts=m["ts"])
        wa.wait_event(lambda e: e.get("type") == "channel_marked", what="alice's own mark")
        assert len(wa.matching(lambda e: e.get("type") == "channel_marked")) == 1


def test_mark_refusals(stack, api, team):
    a = team.token("alice")
    other = parley.provision(stack, users=("mallory",), channel=None, api=api)
    mal = other.token("mallory")
    m = post(api, a, team.channel, "private to the team")
    r = api.call("conversations.mark", mal, check=False, channel=team.channel, ts=m["ts"])
    assert r == {"ok": False, "error": "channel_not_found"}
    r = api.call("conversations.mark", a, check=False, channel="CNOSUCH", ts=m["ts"])
    assert r == {"ok": False, "error": "channel_not_found"}
    for bad in ("", "12", "1.5", "x" * 40, "1700000000.000001'--"):
        r = api.call("conversations.mark", a, check=False, channel=team.channel, ts=bad)
        assert r == {"ok": False, "error": "invalid_timestamp"}, bad
    # a team member outside the channel
    dave = api.call("admin.users.create", stack.admin_token, team_id=team.id,
                    name="dave")["token"]
    r = api.call("conversations.mark", dave, check=False, channel=team.channel, ts=m["ts"])
    assert r == {"ok": False, "error": "not_in_channel"}
    assert entry(counts(api, dave), team.channel) is None
    # and the other team's user sees no unread field for a foreign channel
    r = api.call("conversations.info", mal, check=False, channel=team.channel)
    assert not r.get("ok") or "unread_count" not in r["channel"]


def test_left_member_gets_no_counts(api, team):
    a, c = team.token("alice"), team.token("carol")
    ch = team.channel
    post(api, a, ch, "<@%s> before you go" % team.uid("carol"))
    wait_entry(api, c, ch, lambda e: e["mention_count"] == 1, "carol: mentioned")
    api.call("conversations.leave", c, channel=ch)
    assert entry(counts(api, c), ch) is None
    r = api.call("conversations.mark", c, check=False, channel=ch, ts="1700000000.000001")
    assert r == {"ok": False, "error": "not_in_channel"}


def test_kill9_notify_mid_stream_exact_counts(new_stack):
    """mentions keep coming while notify-svc is killed and restarted: the
    counts end exactly at the number of messages (none lost, none twice)"""
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    team = parley.provision(st, api=api)
    a, b = team.token("alice"), team.token("bob")
    bob = team.uid("bob")
    sent = []
    stop = threading.Event()

    def sender():
        i = 0
        while not stop.is_set() and i < 400:
            post(api, a, team.channel, "<@%s> n%d" % (bob, i))
            sent.append(i)
            i += 1
    t = threading.Thread(target=sender)
    t.start()
    try:
        wait_for(lambda: len(sent) >= 100, 60, "100 sends")
        child = [c for c in st.children if c.name == "notify-svc"][0]
        child.signal(signal.SIGKILL)
        child.reap(10)
        wait_for(lambda: len(sent) >= 200, 60, "200 sends while notify-svc is down")
        child.start()
        port = child.bound_port(st.ready_timeout)
        child.ops_url = "http://127.0.0.1:%d" % port
        st.ops["notify-svc"] = child.ops_url
        child.wait_ready(st.ready_timeout)
    finally:
        t.join(120)
        stop.set()
    n = len(sent)
    e = wait_entry(api, b, team.channel, lambda e: e["unread_count"] >= n,
                   "bob: %d unread" % n)
    assert (e["unread_count"], e["mention_count"]) == (n, n)


def test_dnd_snooze(stack, api, team):
    b, c = team.token("bob"), team.token("carol")
    r = api.call("dnd.info", b)
    assert r["snooze_enabled"] is False and r["dnd_enabled"] is False
    with parley.Ws(stack.ws_url, b) as ws:
        r = api.call("dnd.setSnooze", b, num_minutes="30")
        # DND_UPDATED on parley.events, rendered by the gateway to bob's sessions
        ev = ws.wait_event(lambda e: e.get("type") == "dnd_updated", what="dnd_updated")
        assert ev["dnd_status"]["snooze_enabled"] is True
        assert ev["dnd_status"]["snooze_endtime"] == r["snooze_endtime"]
    assert r["snooze_enabled"] is True
    assert 30 * 60 - 5 <= r["snooze_remaining"] <= 30 * 60
    end = r["snooze_endtime"]
    # another member of the team sees it; another team's user cannot ask
    r = api.call("dnd.info", c, user=team.uid("bob"))
    assert (r["snooze_enabled"], r["snooze_endtime"]) == (True, end)
    other = parley.provision(stack, users=("eve",), channel=None, api=api)
    r = api.call("dnd.info", other.token("eve"), check=False, user=team.uid("bob"))
    assert r == {"ok": False, "error": "user_not_found"}
    for bad in ("0", "-5", "abc", "1441", "99999999999999999999"):
        r = api.call("dnd.setSnooze", b, check=False, num_minutes=bad)
        assert r == {"ok": False, "error": "invalid_arguments"}, bad
    assert api.call("dnd.setSnooze", b, check=False) == {
        "ok": False, "error": "missing_duration"}
    r = api.call("dnd.endSnooze", b)
    assert r["snooze_enabled"] is False and r["dnd_enabled"] is False
    assert api.call("dnd.info", b)["snooze_enabled"] is False


def test_prefs_notify_and_mute(api, team):
    b, c = team.token("bob"), team.token("carol")
    assert api.call("users.prefs.get", b)["prefs"] == {"notify": "mentions",
                                                       "muted_channels": ""}
    r = api.call("users.prefs.set", b, name="notify", value="all")
    assert r["prefs"]["notify"] == "all"
    r = api.call("users.prefs.set", b, name="muted_channels",
                 value=",%s,,CZZZ1," % team.channel)
    assert r["prefs"] == {"notify": "all", "muted_channels": "%s,CZZZ1" % team.channel}
    assert api.call("users.prefs.get", b)["prefs"]["muted_channels"] == \
        "%s,CZZZ1" % team.channel
    # one user's prefs are theirs alone
    assert api.call("users.prefs.get", c)["prefs"]["notify"] == "mentions"
    for name, value, err in (("notify", "loud", "invalid_value"),
                             ("muted_channels", "C1,C\"2", "invalid_value"),
                             ("muted_channels", ",".join("C%d" % i for i in range(501)),
                              "invalid_value"),
                             ("colour", "red", "invalid_name"),
                             ("", "x", "missing_name")):
        r = api.call("users.prefs.set", b, check=False, name=name, value=value)
        assert r == {"ok": False, "error": err}, (name, r)
    # a muted channel still counts unread
    post(api, team.token("alice"), team.channel, "while muted")
    wait_entry(api, b, team.channel, lambda e: e["unread_count"] >= 1, "bob: muted unread")


def test_user_email_address(stack, api):
    """users get an email (admin.users.create email=, users.info profile.email):
    the address notify-svc's digests go to"""
    admin = stack.admin_token
    t = api.call("admin.teams.create", admin, name=parley.unique("team-"))["team"]
    r = api.call("admin.users.create", admin, team_id=t["id"], name="erin",
                 email="erin@example.org")
    u, tok = r["user"]["id"], r["token"]
    assert api.call("users.info", tok, user=u)["user"]["profile"]["email"] == \
        "erin@example.org"
    r = api.call("admin.users.create", admin, team_id=t["id"], name="frank")
    assert "email" not in api.call("users.info", tok, user=r["user"]["id"])["user"]["profile"]
    for bad in ("nope", "a@", "@b", "a@@b", "a b@c", "a@b>", "x" * 250 + "@b.org",
                "<a@b>", "a@b\r\nBcc: c@d"):
        r = api.call("admin.users.create", admin, check=False, team_id=t["id"],
                     name=parley.unique("g"), email=bad)
        assert r == {"ok": False, "error": "invalid_email"}, bad


def test_counts_cached_in_redis_postgres_is_truth(new_stack):
    """client.counts is served from Redis once cached (hits metric); a mark,
    new mentions and a FLUSHALL never leave a wrong count"""
    st = new_stack(shards=1, gateways=1)
    api = parley.Api(st.http_url)
    t = parley.provision(st, api=api)
    a, b = t.token("alice"), t.token("bob")
    ch = t.channel
    post(api, a, ch, "one")
    last = post(api, a, ch, "hi <@%s>" % t.uid("bob"))
    wait_entry(api, b, ch, lambda e: e["unread_count"] == 2 and e["mention_count"] == 1,
               "bob: 2 unread, 1 mention")
    box = {}

    def served_from_redis():
        h = parley.daemon_metric(st, "notify-svc", "parley_notify_counts_cache_hits_total")
        box["c"] = counts(api, b)
        return parley.daemon_metric(st, "notify-svc", "parley_notify_counts_cache_hits_total") == h + 1
    wait_for(served_from_redis, 30, "a client.counts answered from Redis")
    e = entry(box["c"], ch)
    assert (e["unread_count"], e["mention_count"]) == (2, 1), e
    # a mark: the very next answer has it (the cached entry no longer matches)
    api.call("conversations.mark", b, channel=ch, ts=last["ts"])
    e = entry(counts(api, b), ch)
    assert (e["unread_count"], e["mention_count"]) == (0, 0), e
    wait_for(served_from_redis, 30, "cached again after the mark")
    assert entry(box["c"], ch)["unread_count"] == 0
    # new mentions: the batch that counts them invalidates the entry
    post(api, a, ch, "<@%s> again" % t.uid("bob"))
    wait_entry(api, b, ch, lambda e: e["unread_count"] == 1 and e["mention_count"] == 1,
               "bob: the new mention")
    # FLUSHALL costs a miss, never a wrong count
    m0 = parley.daemon_metric(st, "notify-svc", "parley_notify_counts_cache_misses_total")
    assert parley.redis_command(st.redis_addr, "FLUSHALL").startswith("+OK")
    e = entry(counts(api, b), ch)
    assert (e["unread_count"], e["mention_count"]) == (1, 1), e
    assert parley.daemon_metric(st, "notify-svc", "parley_notify_counts_cache_misses_total") > m0
    wait_for(served_from_redis, 30, "cached again after FLUSHALL")
    e = entry(box["c"], ch)
    assert (e["unread_count"], e["mention_count"]) == (1, 1), e
