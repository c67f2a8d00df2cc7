"""The per-user channel cap of message-svc (#10 item 3): a user may be a
member of at most PARLEY_MS_MAX_USER_CHANNELS conversations; a join, an
invite or a create that would take someone past it is refused with
too_many_channels and changes nothing (no membership row, no join message,
no event). DMs and group DMs that others open are not refused (docs/security.md).

A private stack with the cap set to 4. Every user starts in the team's
#general, which counts."""
import pytest

import conftest
import parley
from webapi_helpers import err, ok

CAP = 4


@pytest.fixture(scope="module")
def capped():
    env = dict(conftest.TEST_ENV)
    env["PARLEY_MS_MAX_USER_CHANNELS"] = str(CAP)
    st = conftest.start_stack(prefix="parley-it-chancap-", shards=2, gateways=1,
                              extra_env=env)
    yield st
    conftest.stop_stack(st)


def _create(st, tok, private=False):
    return ok(st, "conversations.create", tok, name=parley.unique("cap-"),
              is_private="true" if private else None)["channel"]["id"]


def _memberships(st, tok):
    """the caller's conversations of every type, counted through the API"""
    body = ok(st, "users.conversations", tok, types="public_channel,private_channel,mpim,im",
              limit=1000)
    return {c["id"] for c in body["channels"]}


def _fill(st, t, name, room):
    """name creates conversations until it has `room` places left"""
    tok = t.token(name)
    made = []
    while len(_memberships(st, tok)) < CAP - room:
        made.append(_create(st, tok))
    return made


def test_create_and_join_stop_at_the_cap(capped):
    t = parley.provision(capped, users=("ann", "c1", "c2", "c3"), channel=None)
    ann = t.token("ann")
    made = [_create(capped, t.token(c)) for c in ("c1", "c2", "c3")]
    start = _memberships(capped, ann)            # #general
    assert len(start) == 1
    for ch in made[:2]:
        ok(capped, "conversations.join", ann, channel=ch)
    have = _memberships(capped, ann)
    assert have == start | set(made[:2]) and len(have) == CAP - 1
    ok(capped, "conversations.join", ann, channel=made[2])     # the last place
    assert len(_memberships(capped, ann)) == CAP
    # at the cap: neither a join nor a create
    more = _create(capped, t.token("c1"))
    assert err(capped, "conversations.join", ann, channel=more) == "too_many_channels"
    assert err(capped, "conversations.create", ann,
               name=parley.unique("over-")) == "too_many_channels"
    assert len(_memberships(capped, ann)) == CAP
    # nobody announced a join that did not happen
    assert t.uid("ann") not in ok(capped, "conversations.members", t.token("c1"),
                                  channel=more)["members"]
    # leaving one frees a place
    ok(capped, "conversations.leave", ann, channel=made[0])
    ok(capped, "conversations.join", ann, channel=more)
    assert more in _memberships(capped, ann)


def test_invite_refused_as_a_whole(capped):
    t = parley.provision(capped, users=("cat", "dan", "eve"), channel=None)
    cat = t.token("cat")
    _fill(capped, t, "dan", 0)                   # dan is at the cap
    ch = _create(capped, cat, private=True)
    before = set(ok(capped, "conversations.members", cat, channel=ch)["members"])
    users = "%s,%s" % (t.uid("eve"), t.uid("dan"))
    assert err(capped, "conversations.invite", cat, channel=ch,
               users=users) == "too_many_channels"
    # eve was not invited either: the call changed nothing
    assert set(ok(capped, "conversations.members", cat, channel=ch)["members"]) == before
    hist = ok(capped, "conversations.history", cat, channel=ch)["messages"]
    assert not [m for m in hist if m.get("subtype") == "channel_join" and
                m.get("user") in (t.uid("eve"), t.uid("dan"))], hist
    # without dan the invite goes through
    ok(capped, "conversations.invite", cat, channel=ch, users=t.uid("eve"))
    assert t.uid("eve") in ok(capped, "conversations.members", cat, channel=ch)["members"]


def test_a_dm_from_someone_else_is_not_refused(capped):
    t = parley.provision(capped, users=("fay", "gus"), channel=None)
    _fill(capped, t, "fay", 0)
    dm = ok(capped, "conversations.open", t.token("gus"), users=t.uid("fay"))["channel"]["id"]
    assert dm in _memberships(capped, t.token("fay"))
