"""users.list / users.info / users.conversations, team.info and the admin
provisioning methods (issue #6), with Slack's shapes and errors."""
import parley
import webapi_helpers as W
from webapi_helpers import err, ok


def test_users_list_shape_and_team_scope(stack, team):
    b = ok(stack, "users.list", team.token("alice"))
    W.check_types(b, {"members": list}, "users.list")
    W.check_next_cursor(b, "users.list")
    for u in b["members"]:
        W.check_user(u, "users.list.members[]")
        assert u["team_id"] == team.id, u
    by = {u["id"]: u for u in b["members"]}
    assert set(by) == {team.uid(n) for n in ("alice", "bob", "carol")}, b
    assert by[team.uid("bob")]["name"] == "bob"


def test_users_list_pagination(stack):
    t = parley.provision(stack, users=tuple("u%d" % i for i in range(7)), channel=None)
    seen, cursor = [], None
    for _ in range(20):
        b = ok(stack, "users.list", t.token("u0"), limit=3, cursor=cursor)
        assert len(b["members"]) <= 3, b
        seen += [u["id"] for u in b["members"]]
        cursor = W.check_next_cursor(b, "users.list")
        if not cursor:
            break
    assert len(seen) == len(set(seen)), seen
    assert set(seen) == {t.uid("u%d" % i) for i in range(7)}, seen
    assert err(stack, "users.list", t.token("u0"), cursor="garbage!!") == "invalid_cursor"


def test_users_info(stack, team):
    b = ok(stack, "users.info", team.token("alice"), user=team.uid("carol"))
    W.check_user(b["user"], "users.info.user")
    assert b["user"]["id"] == team.uid("carol") and b["user"]["name"] == "carol", b
    assert err(stack, "users.info", team.token("alice"), user="U0NOSUCH99") == \
        "user_not_found"
    assert err(stack, "users.info", team.token("alice")) in ("user_not_found",
                                                             "invalid_arguments")
    other = parley.provision(stack, users=("jack",), channel=None)
    assert err(stack, "users.info", team.token("alice"), user=other.uid("jack")) == \
        "user_not_found", "a user of another team is invisible"


def test_users_conversations(stack, team):
    tok = team.token("bob")
    priv = ok(stack, "conversations.create", team.token("alice"), name=parley.unique("uc-"),
              is_private="true")["channel"]["id"]
    notmine = ok(stack, "conversations.create", team.token("alice"),
                 name=parley.unique("uc-"))["channel"]["id"]
    b = ok(stack, "users.conversations", tok)
    W.check_types(b, {"channels": list}, "users.conversations")
    W.check_next_cursor(b, "users.conversations")
    for ch in b["channels"]:
        W.check_channel(ch, "users.conversations.channels[]")
    ids = {c["id"] for c in b["channels"]}
    assert team.channel in ids and notmine not in ids and priv not in ids, b
    ok(stack, "conversations.invite", team.token("alice"), channel=priv,
       users=team.uid("bob"))
    b = ok(stack, "users.conversations", tok, types="public_channel,private_channel")
    assert {team.channel, priv} <= {c["id"] for c in b["channels"]}, b
    # another user's memberships (Slack: user parameter)
    b = ok(stack, "users.conversations", tok, user=team.uid("alice"))
    assert {team.channel, notmine} <= {c["id"] for c in b["channels"]}, b


def test_team_info(stack, team):
    b = ok(stack, "team.info", team.token("alice"))
    W.check_types(b["team"], {"id": str, "name": str, "domain": str}, "team.info.team")
    assert b["team"]["id"] == team.id and b["team"]["name"] == team.name, b
    other = parley.provision(stack, users=("kim",), channel=None)
    a = W.web(stack, "team.info", team.token("alice"), team=other.id)
    assert a.status == 200
    assert a.body["ok"] is False or a.body["team"]["id"] == team.id, \
        "team.info must not describe another team to a stranger: %r" % a


# ---- admin provisioning

def test_admin_teams_create(stack):
    name = parley.unique("adm-")
    b = ok(stack, "admin.teams.create", stack.admin_token, name=name)
    W.check_types(b["team"], {"id": str, "name": str}, "admin.teams.create.team")
    W.check_id(b["team"]["id"], "T", "team.id")
    assert b["team"]["name"] == name
    assert err(stack, "admin.teams.create", stack.admin_token, name=name) == "name_taken"
    assert err(stack, "admin.teams.create", stack.admin_token) in (
        "invalid_arguments", "invalid_name", "invalid_name_required")


def test_admin_users_create(stack):
    t = ok(stack, "admin.teams.create", stack.admin_token, name=parley.unique("adu-"))["team"]
    b = ok(stack, "admin.users.create", stack.admin_token, team_id=t["id"], name="zoe")
    W.check_types(b, {"user": dict, "token": str}, "admin.users.create")
    W.check_types(b["user"], {"id": str, "name": str, "team_id": str}, "user")
    W.check_id(b["user"]["id"], "U")
    assert b["user"]["team_id"] == t["id"] and b["user"]["name"] == "zoe"
    a = ok(stack, "auth.test", b["token"])
    assert a["user_id"] == b["user"]["id"] and a["team_id"] == t["id"], a
    assert err(stack, "admin.users.create", stack.admin_token, team_id=t["id"],
               name="zoe") == "name_taken"
    assert err(stack, "admin.users.create", stack.admin_token, team_id="T0NOSUCH1",
               name="x") in ("team_not_found", "invalid_arguments")
    assert err(stack, "admin.users.create", stack.admin_token, team_id=t["id"]) in (
        "invalid_arguments", "invalid_name")


def test_admin_needs_the_admin_token(stack, team):
    assert err(stack, "admin.teams.create", None, name="x") == "not_authed"
    assert err(stack, "admin.teams.create", "wrong-admin", name="x") in (
        "invalid_auth", "not_allowed_token_type")
    assert err(stack, "admin.teams.create", team.token("alice"), name="x") in (
        "not_allowed_token_type", "invalid_auth", "not_authorized")
    assert err(stack, "admin.users.create", team.token("alice"), team_id=team.id,
               name="x") in ("not_allowed_token_type", "invalid_auth", "not_authorized")
    # the admin token only in the Authorization header: as a token= query
    # parameter or body field it is refused, and nothing is created
    name = parley.unique("adp-")
    for via in ("get", "form", "json"):
        a = W.web(stack, "admin.teams.create", stack.admin_token, via=via, auth="param",
                  name=name)
        assert a.status == 200 and a.body == {"ok": False,
                                              "error": "not_allowed_token_type"}, (via, a)
    b = ok(stack, "admin.teams.create", stack.admin_token, name=name)  # not name_taken
    assert b["team"]["id"]
