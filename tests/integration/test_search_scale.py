"""test_search_scale.py - search-indexer as two instances (docs/search.md
"Scaling"): instance i indexes the partitions p % 2 == i of parley.messages
into its own database, and a query asks both and merges.

The reference is a third instance, alone (search-count 1, every partition,
its own database), behind a second gateway: every answer of the pair must be
the reference's, byte for byte (matches, order, total, paging), for both
sorts, both directions and every page. PARLEY_SEARCH_COUNT_CAP is 10 so
that the score window (the newest page-end + 10 matches) is smaller than the
matches: the merge must pick the window one index would have picked."""

import os
import re
import signal

import pytest
import requests

import parley
from parley import provision, unique, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _partitions():
    with open(os.path.join(REPO, "proto", "names.h")) as f:
        return int(re.search(r"PL_TOPIC_MESSAGES_PARTITIONS (\d+)", f.read()).group(1))


PARTS = _partitions()


def _fnv1a32(s):
    h = 2166136261
    for b in s.encode():
        h = ((h ^ b) * 16777619) & 0xffffffff
    return h


def owner(channel):
    """the instance of 2 that indexes channel: its partition % 2 (proto/shard.h)"""
    return _fnv1a32(channel) % PARTS % 2


def search(api, token, query, check=True, **kw):
    return api.call("search.messages", token, check=check, query=query, **kw)


def post(api, token, channel, text, **kw):
    return api.call("chat.postMessage", token, channel=channel, text=text, **kw)["ts"]


def settle(apis, token, channel):
    """a marker in channel, found through every api (each instance set has
    indexed the channel up to it: a partition is applied in log order)"""
    marker = unique("marker")
    post(apis[0], token, channel, marker)
    for api in apis:
        wait_for(lambda: search(api, token, marker)["messages"]["total"] == 1,
                 what="marker %s indexed" % marker)


def _indexer(st, name, env_more):
    """one more search-indexer process, like the stack's, with env_more"""
    import stack as stackmod
    first = [x for x in st.children if x.name == "search-indexer"][0]
    env = dict(first.env, PARLEY_OPS_ADDR="127.0.0.1:0",
               PARLEY_OPS_PORT_FILE=os.path.join(st.run_dir, name + ".port"), **env_more)
    c = stackmod.Child(name, first.argv, env, st, port_file=env["PARLEY_OPS_PORT_FILE"])
    c.start()
    st.children.append(c)
    c.ops_url = "http://127.0.0.1:%d" % c.bound_port(30)
    c.wait_ready(60)
    return c


def _gateway(st, name, search_urls):
    """one more gateway process on its own port (any free one), asking
    search_urls"""
    import stack as stackmod
    first = [x for x in st.children if x.name == "gateway-0"][0]
    env = dict(first.env, PARLEY_OPS_ADDR="127.0.0.1:0", PARLEY_HTTP_ADDR="127.0.0.1:0",
               PARLEY_OPS_PORT_FILE=os.path.join(st.run_dir, name + ".ops.port"),
               PARLEY_HTTP_PORT_FILE=os.path.join(st.run_dir, name + ".port"),
               PARLEY_GATEWAY_ID=name, PARLEY_SEARCH_URLS=search_urls)
    c = stackmod.Child(name, first.argv, env, st, port_file=env["PARLEY_OPS_PORT_FILE"])
    c.start()
    st.children.append(c)
    c.ops_url = "http://127.0.0.1:%d" % c.bound_port(30)
    c.wait_ready(60)
    port = stackmod.read_int_file(env["PARLEY_HTTP_PORT_FILE"])
    return parley.Api("http://127.0.0.1:%d" % port)


def _create_db(st, name):
    import psycopg
    with psycopg.connect(st.dsn(0).replace("parley_shard_0", "postgres"),
                         autocommit=True) as conn:
        conn.execute("CREATE DATABASE %s" % name)
    return st.dsn(0).replace("parley_shard_0", name)


def _rows(dsn, sql, args=()):
    import psycopg
    with psycopg.connect(dsn, autocommit=True) as conn:
        return conn.execute(sql, args).fetchall()


@pytest.fixture
def pair(new_stack):
    """a stack whose search-indexer is instance 0 of 2, instance 1 beside it,
    and the reference: one instance alone behind its own gateway. Team A
    (alice, bob, carol) has channels on both instances, a private channel
    of alice and bob and a DM; team B a stranger; the same words everywhere."""
    from conftest import TEST_ENV
    # the default addresses (no port to race for): instance i of 2 listens on
    # run/search-<i>.ipc and asks the others there, the one alone on
    # run/search.ipc, where gateway-0 sends its queries; gateway-pair asks the
    # pair
    st = new_stack(gateways=1, extra_env=dict(
        TEST_ENV, PARLEY_SEARCH_COUNT="2", PARLEY_SEARCH_COUNT_CAP="10"))
    dsn = [st.dsn(0).replace("parley_shard_0", "parley_search"),
           _create_db(st, "parley_search_1"), _create_db(st, "parley_search_ref")]
    second = _indexer(st, "search-indexer-1", dict(
        PARLEY_SEARCH_INDEX="1", PARLEY_PG_DSN=dsn[1]))
    _indexer(st, "search-indexer-ref", dict(
        PARLEY_SEARCH_INDEX="0", PARLEY_SEARCH_COUNT="1", PARLEY_PG_DSN=dsn[2]))
    ref = parley.Api(st.http_url)
    api = _gateway(st, "gateway-pair", ",".join(
        "ipc://%s/search-%d.ipc" % (st.run_dir, i) for i in range(2)))

    a = provision(st, api=api)
    chans = [a.channel]
    while len(chans) < 4 or len({owner(c) for c in chans}) < 2:
        assert len(chans) < 40, "40 channels and one instance owns them all"
        c = api.call("conversations.create", a.token("alice"),
                     name=unique("ch-"))["channel"]["id"]
        api.call("conversations.invite", a.token("alice"), channel=c,
                 users="%s,%s" % (a.uid("bob"), a.uid("carol")))
        chans.append(c)
    priv = api.call("conversations.create", a.token("alice"), name=unique("secret-"),
                    is_private="true")["channel"]["id"]
    api.call("conversations.invite", a.token("alice"), channel=priv, users=a.uid("bob"))
    dm = api.call("conversations.open", a.token("alice"),
                  users=a.uid("bob"))["channel"]["id"]
    b = provision(st, users=("mallory",), api=api)
    return dict(st=st, api=api, ref=ref, apis=[api, ref], a=a, b=b, chans=chans,
                priv=priv, dm=dm, dsn=dsn, second=second)


def _same(p, token, query, **kw):
    """the pair's answer is the reference's; returns it"""
    got = search(p["api"], token, query, **kw)
    want = search(p["ref"], token, query, **kw)
    assert got == want, (query, kw)
    return got


def _fill(p):
    """40 messages of word w over team A's channels (1 to 3 times w: ties
    of rank), 9 of word v, some in the private channel and the DM, and the
    same words in team B. Returns (w, v)."""
    a, api = p["a"], p["api"]
    w, v = unique("w"), unique("v")
    users = ("alice", "bob", "carol")
    for i in range(40):
        ch = p["chans"][i % len(p["chans"])]
        post(api, a.token(users[i % 3]), ch,
             "%s number %d%s%s" % (w, i, (" " + w) * (i % 3), " %s" % v if i % 5 == 0 else ""))
    for i in range(3):
        post(api, a.token("alice"), p["priv"], "%s private %d %s" % (w, i, v))
        post(api, a.token("bob"), p["dm"], "%s direct %d" % (w, i))
    post(api, p["b"].token("mallory"), p["b"].channel, "%s other team %s" % (w, v))
    for ch in p["chans"] + [p["priv"], p["dm"]]:
        settle(p["apis"], a.token("alice"), ch)
    settle(p["apis"], p["b"].token("mallory"), p["b"].channel)
    return w, v


def test_each_instance_indexes_its_partitions(pair):
    p = pair
    _fill(p)
    held = []
    for i in (0, 1):
        chans = {r[0] for r in _rows(p["dsn"][i],
                                     "SELECT DISTINCT channel_id FROM search_messages")}
        assert chans and all(owner(c) == i for c in chans), (i, chans)
        held.append(_rows(p["dsn"][i], "SELECT channel_id, ts FROM search_messages"))
    # together exactly what the instance alone holds, none twice
    ref = _rows(p["dsn"][2], "SELECT channel_id, ts FROM search_messages")
    assert sorted(held[0] + held[1]) == sorted(ref)
    assert {c for c, _ in held[0]} | {c for c, _ in held[1]} >= set(p["chans"])
    offs = [{r[0] for r in _rows(p["dsn"][i], "SELECT partition FROM search_offsets")}
            for i in (0, 1)]
    assert offs[0] and all(x % 2 == 0 for x in offs[0]), offs
    assert offs[1] and all(x % 2 == 1 for x in offs[1]), offs


@pytest.mark.parametrize("sort", ["timestamp", "score"])
def test_merge_equals_one_index(pair, sort):
    """every page of both directions, the window smaller than the matches,
    highlight, modifiers: the pair answers what one index answers"""
    p = pair
    a = p["a"]
    w, v = _fill(p)
    tok = a.token("alice")
    pub = p["api"].call("conversations.info", tok, channel=p["chans"][1])["channel"]["name"]
    for query in (w, "%s number" % w, "%s -%s" % (w, v), "%s from:@bob" % w,
                  "%s in:#%s" % (w, pub), "%s to:me" % w, v):
        for sort_dir in ("desc", "asc"):
            for page in range(1, 8):
                r = _same(p, tok, query, sort=sort, sort_dir=sort_dir, count=7, page=page)
                if query == w and page == 1:
                    assert r["messages"]["total"] == 7 + 10 and len(r["messages"]["matches"]) == 7
    r = _same(p, tok, w, sort=sort, highlight="true", count=3)
    assert "\ue000" in r["messages"]["matches"][0]["text"]
    # the matches come from both instances' channels
    seen = {m["channel"]["id"] for page in range(1, 8) for m in search(
        p["api"], tok, w, sort=sort, count=7, page=page)["messages"]["matches"]}
    assert {owner(c) for c in seen} == {0, 1}
    # v matches 8 + 3 + 1 messages, 11 of them readable by alice: the window
    # (page end + 10) holds them all, so pages neither skip nor repeat
    got = []
    for page in range(1, 7):
        r = _same(p, tok, v, sort=sort, count=2, page=page)["messages"]
        assert r["total"] == 11 and r["paging"]["pages"] == 6
        got += [(m["channel"]["id"], m["ts"]) for m in r["matches"]]
    assert len(got) == 11 and len(set(got)) == 11


def test_permissions_across_instances(pair):
    p = pair
    a, b = p["a"], p["b"]
    w, v = _fill(p)
    sec = p["api"].call("conversations.info", a.token("alice"),
                        channel=p["priv"])["channel"]["name"]
    # carol is in neither the private channel nor the DM
    r = _same(p, a.token("carol"), v, count=100)["messages"]
    assert r["total"] == 8 and p["priv"] not in {m["channel"]["id"] for m in r["matches"]}
    assert _same(p, a.token("carol"), "%s in:#%s" % (w, sec))["messages"]["total"] == 0
    # the other team sees only its own
    r = _same(p, b.token("mallory"), w)["messages"]
    assert r["total"] == 1 and r["matches"][0]["channel"]["id"] == b.channel
    assert _same(p, b.token("mallory"), "%s from:@alice" % w)["messages"]["total"] == 0
    # bob leaves the private channel: at once it is gone from his results
    assert _same(p, a.token("bob"), v)["messages"]["total"] == 11
    p["api"].call("conversations.leave", a.token("bob"), channel=p["priv"])
    assert _same(p, a.token("bob"), v)["messages"]["total"] == 8
    # the instances' internal methods are not Web API methods
    for method in ("search.partial", "search.rows"):
        r = p["api"].call(method, a.token("alice"), check=False, query=w, limit="10",
                          window="10", scope='{"chans":["%s"]}' % p["priv"])
        assert r["ok"] is False and "keys" not in r and "rows" not in r, r


def _restart(c, **env):
    c.env = dict(c.env, **env)
    c.start()
    c.ops_url = "http://127.0.0.1:%d" % c.bound_port(30)
    c.wait_ready(60)


def _peer_errors(ops_url):
    fams = parley.parse_prometheus(requests.get(ops_url + "/metrics", timeout=10).text)
    fam = fams.get("parley_search_peer_errors_total", {"samples": []})
    return sum(v for _, _, v in fam["samples"])


def test_instance_down_fails_the_query_and_reindex_rebuilds(pair):
    """an instance stopped: the query fails with service_unavailable (never
    a partial result) and the coordinator counts it; restarted with
    --reindex it rebuilds its own partitions and the answers are whole again"""
    p = pair
    a = p["a"]
    w, _ = _fill(p)
    tok = a.token("alice")
    whole = _same(p, tok, w, count=100)
    assert whole["messages"]["total"] == 40 + 3 + 3
    # the gateway sends team A's queries to instance fnv1a(team) % 2: stop the other
    coord = _fnv1a32(a.id) % 2
    procs = {0: [x for x in p["st"].children if x.name == "search-indexer"][0],
             1: p["second"]}
    down = procs[1 - coord]
    before = _peer_errors(procs[coord].ops_url)
    down.signal(signal.SIGTERM)
    assert down.reap(15), "search-indexer did not stop"
    for sort in ("timestamp", "score"):
        r = search(p["api"], tok, w, check=False, sort=sort)
        assert r == {"ok": False, "error": "service_unavailable"}, r
    assert _peer_errors(procs[coord].ops_url) >= before + 2
    # a query nothing can match needs no instance: still answered
    assert search(p["api"], tok, "%s in:#no-such-channel" % w)["messages"]["total"] == 0
    # a row its log does not have, then --reindex: rebuilt from its partitions only
    dsn = p["dsn"][1 - coord]
    n = _rows(dsn, "SELECT count(*) FROM search_messages")[0][0]
    _rows(dsn, "INSERT INTO search_messages (team_id, channel_id, ts, ts_us, seq, user_id,"
          " text, tsv) VALUES (%s, %s, '1.000001', 1000001, 1, 'U0', %s,"
          " to_tsvector('simple', %s)) RETURNING 1", (a.id, p["chans"][0], w, w))
    _restart(down, PARLEY_SEARCH_REINDEX="1")
    wait_for(lambda: _rows(dsn, "SELECT count(*) FROM search_messages")[0][0] == n,
             what="the instance's index rebuilt")
    chans = {r[0] for r in _rows(dsn, "SELECT DISTINCT channel_id FROM search_messages")}
    assert all(owner(c) == 1 - coord for c in chans), chans
    assert _same(p, tok, w, count=100) == whole
