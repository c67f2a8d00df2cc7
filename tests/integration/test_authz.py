"""Authorization (issue #10 item 6, docs/security.md "6. Authorization"):
#general, team admins, who may kick and archive, the Web API allow-list,
events.poll's membership re-check, and deactivated users (admin.users.remove)
refused everywhere with their live sockets closed 4004."""
import json
import os
import threading
import time

import pytest
import requests
import websockets

import parley
from conftest import TEST_ENV
from test_gateway_limits import extra_gateway  # noqa: F401 (a fixture)


def make_team(stack, api, admins=(), users=("alice", "bob", "carol", "dave")):
    admin = stack.admin_token
    r = api.call("admin.teams.create", admin, name=parley.unique("authz-"))
    team = {"id": r["team"]["id"], "general": r.get("general_channel"), "users": {}}
    for name in users:
        u = api.call("admin.users.create", admin, team_id=team["id"], name=name,
                     is_admin="true" if name in admins else "false")
        team["users"][name] = {"id": u["user"]["id"], "token": u["token"]}
    return team


def tok(team, name):
    return team["users"][name]["token"]


def uid(team, name):
    return team["users"][name]["id"]


def err(api, method, token, **params):
    r = api.call(method, token, check=False, **params)
    assert r["ok"] is False, (method, r)
    return r["error"]


# ---- the Web API forwards only an allow-list

@pytest.mark.parametrize("method", ["channel.replay", "session.boot", "session.check",
                                    "admin.users.delete", "chat.nonexistent"])
def test_internal_methods_are_unknown(stack, api, team, method):
    ch = team.channel
    # with a valid user token, with the admin token, and with none
    for token in (team.token("alice"), stack.admin_token, None):
        r = api.call(method, token, check=False, channel=ch, after_seq="0", limit="10")
        assert r == {"ok": False, "error": "unknown_method"}, (method, r)


# ---- #general

def test_general_channel(stack, api):
    t = make_team(stack, api, admins=("carol",))
    gen = t["general"]
    assert gen.startswith("C"), t
    info = api.call("conversations.info", tok(t, "alice"), channel=gen)["channel"]
    assert info["is_general"] is True and info["name"] == "general", info
    assert info["is_member"] is True and info["num_members"] == 4, info
    members = api.call("conversations.members", tok(t, "bob"), channel=gen)["members"]
    assert set(members) == {uid(t, n) for n in ("alice", "bob", "carol", "dave")}
    listed = api.call("conversations.list", tok(t, "bob"))["channels"]
    assert [c["id"] for c in listed if c["is_general"]] == [gen], listed

    # a user joins it at creation, announced in the channel like a join
    with parley.Ws(stack.ws_url, tok(t, "alice")) as ws:
        eve = api.call("admin.users.create", stack.admin_token, team_id=t["id"],
                       name="eve")
        ws.wait_event(lambda e: e.get("channel") == gen and
                      e.get("subtype") == "channel_join" and
                      e.get("user") == eve["user"]["id"], what="eve's channel_join")
    r = api.call("chat.postMessage", eve["token"], channel=gen, text="hi all")
    assert r["channel"] == gen

    # no one leaves it, is kicked from it, or archives it: not even an admin
    assert err(api, "conversations.leave", tok(t, "bob"), channel=gen) == "cant_leave_general"
    assert err(api, "conversations.kick", tok(t, "carol"), channel=gen,
               user=uid(t, "bob")) == "cant_kick_from_general"
    assert err(api, "conversations.archive", tok(t, "carol"),
               channel=gen) == "cant_archive_general"
    members = api.call("conversations.members", tok(t, "bob"), channel=gen)["members"]
    assert uid(t, "bob") in members and len(members) == 5
    assert api.call("conversations.info", tok(t, "bob"),
                    channel=gen)["channel"]["is_archived"] is False

    # other channels are not general
    other = api.call("conversations.create", tok(t, "alice"),
                     name=parley.unique("other-"))["channel"]
    assert other["is_general"] is False


def test_team_create_resend_keeps_one_general(stack, api):
    name = parley.unique("authz-")
    r = api.call("admin.teams.create", stack.admin_token, name=name)
    assert err(api, "admin.teams.create", stack.admin_token, name=name) == "name_taken"
    u = api.call("admin.users.create", stack.admin_token, team_id=r["team"]["id"],
                 name="solo")
    listed = api.call("conversations.list", u["token"])["channels"]
    assert [c["id"] for c in listed] == [r["general_channel"]], listed


# ---- admins, and who may kick and archive

def test_admin_flag_is_shown(stack, api):
    t = make_team(stack, api, admins=("carol",))
    r = api.call("users.info", tok(t, "alice"), user=uid(t, "carol"))
    assert r["user"]["is_admin"] is True, r
    r = api.call("users.info", tok(t, "alice"), user=uid(t, "bob"))
    assert r["user"]["is_admin"] is False, r


def test_kick_only_creator_or_admin(stack, api):
    t = make_team(stack, api, admins=("carol",))
    ch = api.call("conversations.create", tok(t, "alice"),
                  name=parley.unique("kick-"))["channel"]["id"]
    api.call("conversations.invite", tok(t, "alice"), channel=ch,
             users=",".join(uid(t, n) for n in ("bob", "carol", "dave")))

    # bob: a member, neither creator nor admin
    assert err(api, "conversations.kick", tok(t, "bob"), channel=ch,
               user=uid(t, "dave")) == "restricted_action"
    members = api.call("conversations.members", tok(t, "bob"), channel=ch)["members"]
    assert uid(t, "dave") in members

    # carol: a team admin who did not create it
    api.call("conversations.kick", tok(t, "carol"), channel=ch, user=uid(t, "dave"))
    # alice: the creator
    api.call("conversations.kick", tok(t, "alice"), channel=ch, user=uid(t, "bob"))
    members = api.call("conversations.members", tok(t, "alice"), channel=ch)["members"]
    assert set(members) == {uid(t, "alice"), uid(t, "carol")}, members
    # the unchanged rules still hold
    assert err(api, "conversations.kick", tok(t, "carol"), channel=ch,
               user=uid(t, "carol")) == "cant_kick_self"


def test_archive_only_creator_or_admin(stack, api):
    t = make_team(stack, api, admins=("carol",))
    a = tok(t, "alice")
    chans = []
    for _ in range(2):
        ch = api.call("conversations.create", a, name=parley.unique("arch-"))["channel"]["id"]
        api.call("conversations.invite", a, channel=ch,
                 users=",".join(uid(t, n) for n in ("bob", "carol")))
        chans.append(ch)

    assert err(api, "conversations.archive", tok(t, "bob"),
               channel=chans[0]) == "restricted_action"
    assert api.call("conversations.info", a,
                    channel=chans[0])["channel"]["is_archived"] is False
    api.call("conversations.archive", tok(t, "carol"), channel=chans[0])   # admin
    api.call("conversations.archive", a, channel=chans[1])                 # creator
    for ch in chans:
        assert api.call("conversations.info", a, channel=ch)["channel"]["is_archived"]


# ---- events.poll asks for membership again on every replay page

def gateway_logs(st):
    return [p for n, p in st.log_paths().items() if n.startswith("gateway")]


def log_has(paths, text):
    for p in paths:
        try:
            with open(p, errors="replace") as f:
                if text in f.read():
                    return True
        except FileNotFoundError:
            pass
    return False


def test_poll_replay_of_left_private_channel(new_stack):
    st = new_stack(gateways=1, extra_env=dict(TEST_ENV, PARLEY_TEST_POLL_REPLAY_DELAY_MS="3000"))
    api = parley.Api(st.http_url)
    t = make_team(st, api, users=("alice", "bob"))
    a, b = tok(t, "alice"), tok(t, "bob")
    ch = api.call("conversations.create", a, name=parley.unique("secret-"),
                  is_private="true")["channel"]["id"]
    api.call("conversations.invite", a, channel=ch, users=uid(t, "bob"))
    for i in range(3):
        api.call("chat.postMessage", a, channel=ch, text="secret-%d" % i)

    answer = {}

    def poll():
        answer["r"] = parley.Api(st.http_url).call(
            "events.poll", b, check=False,
            json_body={"last_seq": {ch: 0}, "timeout": 6})

    with parley.Ws(st.ws_url, a) as ws:
        th = threading.Thread(target=poll)
        th.start()
        # bob's poll has booted (ch is his) and its replay is on its way...
        parley.wait_for(lambda: log_has(gateway_logs(st), "GW-POLL-REPLAY-DELAYED user=%s "
                                        "channel=%s" % (uid(t, "bob"), ch)),
                        what="the poll's delayed replay")
        # ...when he is removed from the channel (the gateway has applied it
        # once alice, on the same gateway, sees the leave)
        api.call("conversations.kick", a, channel=ch, user=uid(t, "bob"))
        ws.wait_event(lambda e: e.get("channel") == ch and
                      e.get("subtype") == "channel_leave", what="bob's channel_leave")
        th.join(30)
    r = answer["r"]
    assert r["ok"] is True, r
    texts = [e.get("text", "") for e in r["events"] if e.get("channel") == ch]
    assert not any("secret" in x for x in texts), r
    assert ch not in r.get("last_seq", {}), r


# ---- admin.users.remove: deactivated users

def ws_refused(stack_url, token=None, url=None):
    """a /ws upgrade of a deactivated user: 401 before the upgrade, or (on a
    gateway that had no answer cached) closed 4004 after it, never a hello"""
    try:
        ws = parley.Ws(url or stack_url, token, expect_hello=False)
    except websockets.exceptions.InvalidStatusCode as e:
        return e.status_code == 401
    closed = ws.wait_closed(10)
    return closed is not None and closed[0] == 4004 and not ws.matching(
        lambda e: e.get("type") == "hello")


def test_remove_user_closes_sockets_and_refuses_token(stack, api):
    t = make_team(stack, api, users=("alice", "bob"))
    a, b = tok(t, "alice"), tok(t, "bob")
    bob = uid(t, "bob")
    ticket_url = api.call("rtm.connect", b)["url"]     # issued before
    ws = parley.Ws(stack.ws_url, b)
    watcher = parley.Ws(stack.ws_url, a)
    polled = {}

    def poll():
        polled["r"] = parley.Api(stack.http_url).call(
            "events.poll", b, check=False, json_body={"timeout": 20})

    th = threading.Thread(target=poll)
    th.start()

    assert err(api, "admin.users.remove", b, user_id=bob) == "not_allowed_token_type"
    api.call("admin.users.remove", stack.admin_token, user_id=bob)
    deadline = time.monotonic() + 1.0
    closed = ws.wait_closed(max(0.0, deadline - time.monotonic()))
    assert closed is not None and closed[0] == 4004, (closed, ws.events[-3:])
    assert time.monotonic() <= deadline + 0.05, "the 4004 came after the 1 s deadline"

    # the team hears user_change; the held poll ends
    watcher.wait_event(lambda e: e.get("type") == "user_change" and
                       e["user"]["id"] == bob and e["user"]["deleted"] is True)
    watcher.close()
    th.join(30)
    assert polled["r"] == {"ok": False, "error": "account_inactive"}, polled

    # refused everywhere after (every gateway process applies the event)
    parley.wait_for(lambda: err(api, "auth.test", b) == "account_inactive", 2,
                    "auth.test refused")
    for _ in range(4):      # fresh connections: any gateway process
        for method, params in (("auth.test", {}), ("rtm.connect", {}),
                               ("conversations.list", {}),
                               ("chat.postMessage", {"channel": t["general"], "text": "x"})):
            r = requests.post("%s/api/%s" % (stack.http_url, method), data=params,
                              headers={"Authorization": "Bearer " + b}, timeout=10).json()
            assert r == {"ok": False, "error": "account_inactive"}, (method, r)
        r = requests.post("%s/api/events.poll" % stack.http_url, json={"timeout": 0},
                          headers={"Authorization": "Bearer " + b}, timeout=10).json()
        assert r == {"ok": False, "error": "account_inactive"}, r
        assert ws_refused(stack.ws_url, b)
    assert ws_refused(None, url=ticket_url)

    # the others still work, and see bob as deleted
    r = api.call("users.info", a, user=bob)
    assert r["user"]["deleted"] is True, r
    api.call("chat.postMessage", a, channel=t["general"], text="still here")
    assert err(api, "admin.users.remove", stack.admin_token,
               user_id="UNOSUCHUSER") == "user_not_found"


def test_gateway_started_after_removal_refuses(stack, api, extra_gateway):
    """a gateway process that never saw the USER_CHANGED event (it consumes
    from the end) still refuses: session.check and session.boot read the
    directory"""
    t = make_team(stack, api, users=("alice", "bob"))
    b = tok(t, "bob")
    api.call("admin.users.remove", stack.admin_token, user_id=uid(t, "bob"))
    gw = extra_gateway()
    fresh = parley.Api(gw.http_url)
    # no entry for bob at the upgrade: the boot refuses, closing 4004
    ws = parley.Ws(gw.ws_url, b, expect_hello=False)
    closed = ws.wait_closed(10)
    assert closed is not None and closed[0] == 4004, (closed, ws.events)
    assert not ws.matching(lambda e: e.get("type") == "hello")
    assert err(fresh, "auth.test", b) == "account_inactive"     # session.check
    assert err(fresh, "rtm.connect", b) == "account_inactive"
    # now known: refused before the upgrade
    with pytest.raises(websockets.exceptions.InvalidStatusCode) as e:
        parley.Ws(gw.ws_url, b, expect_hello=False)
    assert e.value.status_code == 401
    # alice, active, is served by the same fresh gateway
    assert fresh.call("auth.test", tok(t, "alice"))["user_id"] == uid(t, "alice")
