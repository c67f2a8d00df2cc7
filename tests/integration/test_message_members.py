"""message-svc's bulk membership changes through the gateway: one
conversations.invite of 1,000 users (Slack's limit) writes every row, gives
every channel_join its own seq, in order, and answers after all of them are
acknowledged; 1,001 users get too_many_users. Real stack (stack fixture).
No timed assertions: the waits only bound a hang."""
import psycopg

import parley

N = 1000


def _bulk_users(stack, team_id, prefix, n):
    """n users of team_id straight into the directory (admin.users.create one by
    one would make this test about provisioning); returns their ids"""
    ids = ["%s%05d" % (prefix, i) for i in range(n)]
    with psycopg.connect(stack.dsn(0), autocommit=True) as c:
        c.execute("INSERT INTO users (id, team_id, name, created) SELECT x, %s, lower(x), 0"
                  " FROM unnest(%s::text[]) x", (team_id, ids))
    return ids


def test_invite_thousand_users_in_one_call(stack, api):
    t = parley.provision(stack, users=("ann", "ben"), channel="bulk")
    a, b = t.token("ann"), t.token("ben")
    ids = _bulk_users(stack, t.id, "UBLK" + parley.unique("")[-6:].upper(), N)
    with parley.Ws(stack.ws_url, b) as ws:
        r = api.call("conversations.invite", a, channel=t.channel, users=",".join(ids))
        assert r["ok"] and r["channel"]["num_members"] == N + 2, r
        joins = ws.wait_events(lambda e: e.get("type") == "message" and
                               e.get("subtype") == "channel_join" and
                               e.get("channel") == t.channel, N, timeout=120,
                               what="channel_join")
    seqs = [e["seq"] for e in joins]
    assert seqs == sorted(seqs) and len(set(seqs)) == N       # in order, no repeats
    assert seqs[-1] - seqs[0] == N - 1                        # consecutive: no holes
    assert [e["user"] for e in joins] == ids                  # in list order
    # pages of at most 1000 (Slack's), every member once
    members, cursor = [], ""
    while True:
        r = api.call("conversations.members", a, channel=t.channel, limit=5000, cursor=cursor)
        assert len(r["members"]) <= 1000
        members += r["members"]
        cursor = r["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert set(ids) <= set(members) and len(members) == len(set(members)) == N + 2
    with psycopg.connect(stack.dsn(0), autocommit=True) as c:
        n = c.execute("SELECT count(*) FROM channel_members WHERE channel_id = %s",
                      (t.channel,)).fetchone()[0]
    assert n == N + 2
    # everyone is in: a second call is already_in_channel, over the limit is refused
    r = api.call("conversations.invite", a, check=False, channel=t.channel,
                 users=",".join(ids[:10]))
    assert not r["ok"] and r["error"] == "already_in_channel", r
    more = ",".join("UNOPE%05d" % i for i in range(N + 1))
    r = api.call("conversations.invite", a, check=False, channel=t.channel, users=more)
    assert not r["ok"] and r["error"] == "too_many_users", r


def test_kick_after_bulk_invite(stack, api):
    t = parley.provision(stack, users=("cat", "dan"), channel="bulk2")
    a = t.token("cat")
    ids = _bulk_users(stack, t.id, "UBKK" + parley.unique("")[-6:].upper(), 50)
    api.call("conversations.invite", a, channel=t.channel, users=",".join(ids))
    api.call("conversations.kick", a, channel=t.channel, user=ids[7])
    members = api.call("conversations.members", a, channel=t.channel)["members"]
    assert ids[7] not in members and len(members) == 51
