"""test_search.py - search.messages through the gateway: every modifier,
phrases and exclusions, edits and deletes, paging, highlight, bad input, and
isolation (other teams, private channels the caller is not or no longer in).

Indexing is asynchronous: a test that expects something to be indexed (or
gone) waits until a marker message, posted after it in the same channel, is
found. The index applies a channel's events in log order, so once the marker
is there everything before it is too."""

import datetime
import time
import types

import pytest

import parley
from parley import provision, unique, wait_for


def search(api, token, query, check=True, **kw):
    return api.call("search.messages", token, check=check, query=query, **kw)


def texts(r):
    return [m["text"] for m in r["messages"]["matches"]]


def post(api, token, channel, text, **kw):
    return api.call("chat.postMessage", token, channel=channel, text=text, **kw)["ts"]


def settle(api, token, channel):
    """post a marker in channel and wait until search finds it"""
    marker = unique("marker")
    post(api, token, channel, marker)
    wait_for(lambda: search(api, token, marker)["messages"]["total"] == 1,
             what="marker %s indexed" % marker)


@pytest.fixture
def world(stack, api):
    """team A: alice, bob, carol in a public channel; a private channel of
    alice and bob; a DM alice-bob. Team B: a stranger with the same words."""
    a = provision(stack, api=api)
    priv = api.call("conversations.create", a.token("alice"), name=unique("secret-"),
                    is_private="true")["channel"]["id"]
    api.call("conversations.invite", a.token("alice"), channel=priv, users=a.uid("bob"))
    dm = api.call("conversations.open", a.token("alice"), users=a.uid("bob"))["channel"]["id"]
    b = provision(stack, users=("mallory",), api=api)
    return {"a": a, "priv": priv, "dm": dm, "b": b}


def names(api, team, cid):
    info = api.call("conversations.info", team.token("alice"), channel=cid)
    return info["channel"]["name"]


def test_words_phrases_exclusions(api, world):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    post(api, tok, a.channel, "%s release train leaves today" % w)
    post(api, tok, a.channel, "%s the train release is late" % w)
    post(api, tok, a.channel, "%s nothing to see" % w)
    settle(api, tok, a.channel)
    assert len(texts(search(api, tok, w))) == 3
    assert texts(search(api, tok, "%s train" % w)) and len(
        texts(search(api, tok, "%s train release" % w))) == 2
    assert texts(search(api, tok, '%s "release train"' % w)) == [
        "%s release train leaves today" % w]
    assert texts(search(api, tok, '%s -train' % w)) == ["%s nothing to see" % w]
    assert sorted(texts(search(api, tok, '%s -"release train"' % w))) == sorted([
        "%s the train release is late" % w, "%s nothing to see" % w])
    # words are matched whole and case-insensitively ('simple' configuration)
    assert len(texts(search(api, tok, w.upper()))) == 3
    r = search(api, tok, "%s trai" % w)
    assert r["messages"]["total"] == 0


def test_in_channel_and_dm(api, world):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    post(api, tok, a.channel, "%s in public" % w)
    post(api, tok, world["priv"], "%s in private" % w)
    post(api, tok, world["dm"], "%s in the dm" % w)
    for ch in (a.channel, world["priv"], world["dm"]):
        settle(api, tok, ch)
    pub = names(api, a, a.channel)
    sec = names(api, a, world["priv"])
    assert texts(search(api, tok, "%s in:#%s" % (w, pub))) == ["%s in public" % w]
    assert texts(search(api, tok, "%s in:%s" % (w, sec))) == ["%s in private" % w]
    assert texts(search(api, tok, "%s in:@bob" % w)) == ["%s in the dm" % w]
    assert sorted(texts(search(api, tok, "%s in:#%s in:#%s" % (w, pub, sec)))) == sorted(
        ["%s in public" % w, "%s in private" % w])
    r = search(api, tok, "%s in:#no-such-channel" % w)
    assert r["ok"] and r["messages"]["total"] == 0 and r["messages"]["matches"] == []
    r = search(api, tok, "%s in:@nobody" % w)
    assert r["messages"]["total"] == 0
    m = search(api, tok, "%s in:#%s" % (w, pub))["messages"]["matches"][0]
    assert m["channel"] == dict(m["channel"], id=a.channel, name=pub)
    assert m["user"] == a.uid("alice") and m["username"] == "alice"
    assert m["permalink"].endswith("/archives/%s/p%s" % (a.channel, m["ts"].replace(".", "")))


def test_from_and_to(api, world):
    a = world["a"]
    w = unique("w")
    post(api, a.token("alice"), a.channel, "%s said alice" % w)
    post(api, a.token("bob"), a.channel, "%s said bob <@%s>" % (w, a.uid("carol")))
    post(api, a.token("carol"), a.channel, "%s said carol" % w)
    post(api, a.token("bob"), world["dm"], "%s bob to alice directly" % w)
    settle(api, a.token("alice"), a.channel)
    settle(api, a.token("alice"), world["dm"])
    tok = a.token("alice")
    assert texts(search(api, tok, "%s from:@bob in:#%s" % (w, names(api, a, a.channel)))) == [
        "%s said bob <@%s>" % (w, a.uid("carol"))]
    assert texts(search(api, tok, "%s from:me" % w)) == ["%s said alice" % w]
    assert sorted(texts(search(api, tok, "%s from:carol from:me" % w))) == sorted(
        ["%s said alice" % w, "%s said carol" % w])
    assert search(api, tok, "%s from:@nobody" % w)["messages"]["total"] == 0
    # to:me: a DM to the caller, or a mention of the caller
    assert texts(search(api, tok, "%s to:me" % w)) == ["%s bob to alice directly" % w]
    assert texts(search(api, a.token("carol"), "%s to:me" % w)) == [
        "%s said bob <@%s>" % (w, a.uid("carol"))]


def test_dates(api, world):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    post(api, tok, a.channel, "%s dated" % w)
    settle(api, tok, a.channel)
    # the message's own day, from its ts (UTC)
    ts = float(search(api, tok, w)["messages"]["matches"][0]["ts"])
    day = datetime.datetime.fromtimestamp(ts, datetime.timezone.utc).date()
    prev, nxt = day - datetime.timedelta(days=1), day + datetime.timedelta(days=1)
    found = {
        "on:%s" % day: 1, "on:%s" % prev: 0,
        "during:%s" % day.strftime("%Y-%m"): 1, "during:%d" % day.year: 1,
        "during:%d" % (day.year - 1): 0,
        "after:%s" % prev: 1, "after:%s" % day: 0,
        "before:%s" % nxt: 1, "before:%s" % day: 0,
        "after:%s before:%s" % (prev, nxt): 1,
    }
    for mod, n in found.items():
        assert search(api, tok, "%s %s" % (w, mod))["messages"]["total"] == n, mod


def test_has_and_is(api, world):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    link = post(api, tok, a.channel, "%s see https://example.com/x" % w)
    plain = post(api, tok, a.channel, "%s no link here" % w)
    post(api, tok, a.channel, "%s a reply" % w, thread_ts=plain)
    api.call("reactions.add", a.token("bob"), channel=a.channel, timestamp=link,
             name="tada")
    settle(api, tok, a.channel)
    assert texts(search(api, tok, "%s has:link" % w)) == ["%s see https://example.com/x" % w]
    assert texts(search(api, tok, "%s has::tada:" % w)) == ["%s see https://example.com/x" % w]
    assert search(api, tok, "%s has::thumbsup:" % w)["messages"]["total"] == 0
    assert sorted(texts(search(api, tok, "%s is:thread" % w))) == sorted(
        ["%s no link here" % w, "%s a reply" % w])
    api.call("reactions.remove", a.token("bob"), channel=a.channel, timestamp=link,
             name="tada")
    settle(api, tok, a.channel)
    assert search(api, tok, "%s has::tada:" % w)["messages"]["total"] == 0


def test_edits_and_deletes(api, world):
    a = world["a"]
    w, w2 = unique("w"), unique("edited")
    tok = a.token("alice")
    ts = post(api, tok, a.channel, "%s before the edit" % w)
    gone = post(api, tok, a.channel, "%s to be deleted" % w)
    settle(api, tok, a.channel)
    assert search(api, tok, w)["messages"]["total"] == 2
    api.call("chat.update", tok, channel=a.channel, ts=ts, text="%s after" % w2)
    api.call("chat.delete", tok, channel=a.channel, ts=gone)
    settle(api, tok, a.channel)
    assert search(api, tok, w)["messages"]["total"] == 0
    r = search(api, tok, w2)
    assert texts(r) == ["%s after" % w2] and r["messages"]["matches"][0]["ts"] == ts


@pytest.mark.parametrize("sort", ["timestamp", "score"])
def test_pagination_no_skip_no_repeat(api, world, sort):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    sent = ["%s number %d%s" % (w, i, " %s" % w * (i % 3)) for i in range(23)]
    for t in sent:
        post(api, tok, a.channel, t)
    settle(api, tok, a.channel)
    seen = []
    for page in range(1, 5):
        r = search(api, tok, w, sort=sort, count=7, page=page)["messages"]
        assert r["total"] == 23
        assert r["paging"] == {"count": 7, "total": 23, "page": page, "pages": 4}
        assert r["pagination"]["first"] == (page - 1) * 7 + 1
        assert r["pagination"]["last"] == min(page * 7, 23)
        seen += [(m["channel"]["id"], m["ts"]) for m in r["matches"]]
    assert len(seen) == 23 and len(set(seen)) == 23
    if sort == "timestamp":
        assert seen == sorted(seen, key=lambda x: float(x[1]), reverse=True)
        r = search(api, tok, w, sort=sort, sort_dir="asc", count=5)["messages"]
        assert texts({"messages": r}) == sent[:5]
    r = search(api, tok, w, sort=sort, count=7, page=5)["messages"]
    assert r["matches"] == [] and r["total"] == 23


def test_highlight(api, world):
    a = world["a"]
    w = unique("w")
    tok = a.token("alice")
    post(api, tok, a.channel, "the %s is here and %s again" % (w, w))
    settle(api, tok, a.channel)
    r = search(api, tok, w, highlight="true")
    assert texts(r) == ["the \ue000%s\ue001 is here and \ue000%s\ue001 again" % (w, w)]
    assert texts(search(api, tok, w)) == ["the %s is here and %s again" % (w, w)]


def test_isolation(api, world):
    a, b = world["a"], world["b"]
    w = unique("w")
    post(api, a.token("alice"), world["priv"], "%s private words" % w)
    post(api, a.token("alice"), a.channel, "%s public words" % w)
    post(api, b.token("mallory"), b.channel, "%s other team" % w)
    for ch in (world["priv"], a.channel):
        settle(api, a.token("alice"), ch)
    settle(api, b.token("mallory"), b.channel)
    sec = names(api, a, world["priv"])
    # the other team sees only its own; names of team A mean nothing there
    r = search(api, b.token("mallory"), w)
    assert texts(r) == ["%s other team" % w] and r["messages"]["total"] == 1
    for q in ("%s from:@alice" % w, "%s in:#%s" % (w, sec), "%s in:@alice" % w):
        r = search(api, b.token("mallory"), q)
        assert r["messages"]["total"] == 0 and r["messages"]["matches"] == [], q
    # carol is not in the private channel: not through words, in:, from:, nor totals
    tok = a.token("carol")
    r = search(api, tok, w)
    assert texts(r) == ["%s public words" % w] and r["messages"]["total"] == 1
    assert search(api, tok, "%s in:#%s" % (w, sec))["messages"]["total"] == 0
    assert search(api, tok, "%s from:@alice" % w)["messages"]["total"] == 1
    assert search(api, tok, "private from:alice %s" % w)["messages"]["total"] == 0
    # bob is, then leaves: at once he no longer finds it
    assert search(api, a.token("bob"), w)["messages"]["total"] == 2
    api.call("conversations.leave", a.token("bob"), channel=world["priv"])
    r = search(api, a.token("bob"), w)
    assert texts(r) == ["%s public words" % w] and r["messages"]["total"] == 1
    assert search(api, a.token("bob"), "%s in:#%s" % (w, sec))["messages"]["total"] == 0


def test_bad_input(api, world):
    a = world["a"]
    tok = a.token("alice")
    w = unique("w")
    post(api, tok, a.channel, "%s robert'); DROP TABLE search_messages; --" % w)
    settle(api, tok, a.channel)
    cases = [
        '%s "unbalanced quote' % w,
        '%s """' % w,
        "%s '; DROP TABLE search_messages; --" % w,
        "%s \\ %% _ $1 :: ' \" ;" % w,
        "%s caf\u00e9 \u202e\u0301 \u200b \U0001F389 \ufffd" % w,
        "%s in: from: has: is: before: -" % w,
        "%s before:2024-02-30 on:99999" % w,
    ]
    for q in cases:
        r = search(api, tok, q, check=False)
        assert r["ok"] or r["error"] in ("invalid_query", "too_many_terms"), (q, r)
        assert "syntax" not in str(r) and "SQL" not in str(r).upper().replace("SEARCH", "")
    r = search(api, tok, " ".join(["t%d" % i for i in range(10000)]), check=False)
    assert r == {"ok": False, "error": "query_too_long"} or r.get("error") in (
        "too_many_terms", "query_too_long"), r
    r = search(api, tok, " ".join(["t"] * 40), check=False)
    assert r == {"ok": False, "error": "too_many_terms"}
    r = search(api, tok, "x" * (100 * 1024), check=False)
    assert not r["ok"] and r["error"] in ("query_too_long", "invalid_arguments",
                                          "request_too_large"), r
    assert search(api, tok, "   ", check=False) == {"ok": False, "error": "no_query"}
    assert search(api, tok, w, sort="loudness", check=False)["error"] == "invalid_sort"
    assert search(api, tok, w, count="lots", check=False)["error"] == "invalid_arguments"
    # out-of-range numbers are clamped like Slack's
    r = search(api, tok, w, count="100000", page="-3")["messages"]
    assert r["paging"]["count"] == 100 and r["paging"]["page"] == 1
    # the index is still there and still answers
    assert search(api, tok, w)["messages"]["total"] == 1
    r = api.call("search.messages", None, check=False, query=w)
    assert r["ok"] is False and r["error"] in ("not_authed", "invalid_auth")
    # message-svc's internal search.scope is not a Web API method
    r = api.call("search.scope", tok, check=False)
    assert r["ok"] is False and "channels" not in r, r


def test_metrics(stack, api, world):
    a = world["a"]
    tok = a.token("alice")
    settle(api, tok, a.channel)
    search(api, tok, "in:#no-such-channel x")
    import requests
    fams = parley.parse_prometheus(requests.get(stack.ops["search-indexer"] + "/metrics",
                                                timeout=10).text)

    def value(fam, sample):
        return sum(v for n, _, v in fams[fam]["samples"] if n == sample)
    for name in ("parley_search_index_lag_seconds", "parley_search_query_seconds"):
        assert value(name, name + "_count") > 0, name
    assert value("parley_search_indexed_total", "parley_search_indexed_total") > 0
    assert "parley_search_query_errors_total" in fams


def _restart_indexer(st, **env):
    """SIGTERM search-indexer, wait for it, start it again with env added"""
    import signal
    c = [x for x in st.children if x.name == "search-indexer"][0]
    c.signal(signal.SIGTERM)
    assert c.reap(15), "search-indexer did not stop"
    c.env = dict(c.env, **env)
    c.start()
    c.ops_url = "http://127.0.0.1:%d" % c.bound_port(30)
    st.ops["search-indexer"] = c.ops_url
    c.wait_ready(60)
    return c


def test_restart_resumes_and_reindex_rebuilds(new_stack):
    """offsets are kept with the rows: what was posted while the indexer was
    down is indexed after its restart, nothing twice; --reindex empties the
    index and rebuilds the same from the log"""
    import psycopg
    import signal
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    a = provision(st, api=api)
    tok = a.token("alice")
    w = unique("w")
    for i in range(5):
        post(api, tok, a.channel, "%s before %d" % (w, i))
    settle(api, tok, a.channel)
    assert search(api, tok, w)["messages"]["total"] == 5
    c = [x for x in st.children if x.name == "search-indexer"][0]
    c.signal(signal.SIGTERM)
    assert c.reap(15)
    for i in range(5):
        post(api, tok, a.channel, "%s while down %d" % (w, i))
    _restart_indexer(st)
    settle(api, tok, a.channel)
    assert search(api, tok, w)["messages"]["total"] == 10
    dsn = st.dsn(0).replace("parley_shard_0", "parley_search")
    with psycopg.connect(dsn, autocommit=True) as conn:
        rows = conn.execute("SELECT count(*), count(DISTINCT ts) FROM search_messages"
                            " WHERE channel_id = %s", (a.channel,)).fetchone()
    assert rows[0] == rows[1] == 12          # 10 + two markers, each once
    with psycopg.connect(dsn, autocommit=True) as conn:
        # a row the log does not have: gone after the rebuild
        conn.execute("INSERT INTO search_messages (team_id, channel_id, ts, ts_us, seq,"
                     " user_id, text, tsv) VALUES (%s, %s, '1.000001', 1000001, 1, 'U0',"
                     " %s, to_tsvector('simple', %s))", (a.id, a.channel, w, w))
    assert search(api, tok, w)["messages"]["total"] == 11
    _restart_indexer(st, PARLEY_SEARCH_REINDEX="1")

    def rebuilt():
        with psycopg.connect(dsn, autocommit=True) as conn:
            return conn.execute("SELECT count(*) FROM search_messages WHERE channel_id = %s",
                                (a.channel,)).fetchone()[0] == 12
    wait_for(rebuilt, what="the index rebuilt from the log")
    settle(api, tok, a.channel)
    assert search(api, tok, w)["messages"]["total"] == 10


def _search_db(stack):
    """a connection to the index's database (autocommit)"""
    import psycopg
    return psycopg.connect(stack.dsn(0).replace("parley_shard_0", "parley_search"),
                           autocommit=True)


def _index_rows(stack, team, rows):
    """write rows (channel, ts_us, user, text) straight into the index, as the
    indexer would (tb, the time blocks, and bg, the word pairs, are computed
    by the database): history older than the test's own messages"""
    with _search_db(stack) as conn:
        for ch, us, user, text in rows:
            conn.execute("INSERT INTO search_messages (team_id, channel_id, ts, ts_us, seq,"
                         " user_id, text, tsv) VALUES (%s, %s, %s, %s, 1, %s, %s,"
                         " to_tsvector('simple', %s))",
                         (team.id, ch, "%d.%06d" % (us // 1000000, us % 1000000), us, user,
                          text, text))


def _us(y, mo, d, h=0, mi=0, s=0, usec=0):
    t = datetime.datetime(y, mo, d, h, mi, s, tzinfo=datetime.timezone.utc)
    return int(t.timestamp()) * 1000000 + usec


def _pages(api, tok, q, n, **kw):
    """every page of q (count=n): the (channel, ts) of the matches, and the totals"""
    seen, totals, page = [], set(), 1
    while True:
        r = search(api, tok, q, count=n, page=page, **kw)["messages"]
        totals.add(r["total"])
        if not r["matches"]:
            return seen, totals
        seen += [(m["channel"]["id"], m["ts"]) for m in r["matches"]]
        page += 1


def test_sparse_matches_across_years(stack, api, world):
    """a word query walks time blocks (docs/search.md "Performance"): a word
    used once in 1970, around the 2000 boundary, three times one day in 2015
    (two in the same second in two channels), on a leap day, today, and past
    the last block (2200) comes back complete and exactly ordered both ways,
    in pages that cross the blocks; dates narrow the walk"""
    a = world["a"]
    tok = a.token("alice")
    w = unique("w")
    today = [post(api, tok, a.channel, "%s today %d" % (w, i)) for i in range(2)]
    settle(api, tok, a.channel)
    u = a.uid("bob")
    old = [(a.channel, _us(1970, 1, 1, 0, 0, 1), u, "%s epoch" % w),
           (a.channel, _us(1999, 12, 31, 23, 59, 59, 999999), u, "%s alpha last" % w),
           (a.channel, _us(2000, 1, 1), u, "%s alpha first" % w),
           (a.channel, _us(2015, 6, 15, 8), u, "%s june a" % w),
           (a.channel, _us(2015, 6, 15, 9), u, "%s june b" % w),
           (world["priv"], _us(2015, 6, 15, 9), u, "%s june same second" % w),
           (a.channel, _us(2024, 2, 29, 12), u, "%s leap" % w),
           (a.channel, _us(2200, 1, 1), u, "%s future" % w)]
    _index_rows(stack, a, old)
    keys = [(ch, "%d.%06d" % (us // 1000000, us % 1000000), us) for ch, us, _, _ in old]
    keys += [(a.channel, ts, int(ts.replace(".", ""))) for ts in today]
    newest = [(ch, ts) for ch, ts, _ in sorted(keys, key=lambda k: (k[2], k[0]), reverse=True)]
    for n in (1, 3, 4):
        seen, totals = _pages(api, tok, w, n, sort="timestamp")
        assert seen == newest and totals == {len(newest)}, n
        seen, totals = _pages(api, tok, w, n, sort="timestamp", sort_dir="asc")
        assert seen == newest[::-1] and totals == {len(newest)}, n
    seen, totals = _pages(api, tok, w, 4, sort="score")
    assert sorted(seen) == sorted(newest) and len(seen) == len(newest)
    assert totals == {len(newest)}
    for q, n in (("during:1999", 1), ("before:2000-01-01", 2), ("on:2015-06-15", 3),
                 ("during:2015 -june", 0), ("after:2100", 1), ("\"alpha first\"", 1),
                 ("alpha", 2), ("before:1970-01-02", 1)):
        for sort in ("timestamp", "score"):
            r = search(api, tok, "%s %s" % (w, q), sort=sort)["messages"]
            assert r["total"] == n and len(r["matches"]) == n, (q, sort)
    # carol is not in the private channel and never sees its row
    seen, _ = _pages(api, a.token("carol"), w, 5, sort="timestamp")
    assert seen == [k for k in newest if k[0] != world["priv"]]


def test_window_bound_across_blocks(stack, api, world):
    """1,100 matches over three days, one every four minutes (15 an hour),
    the 90 oldest ranked higher (the word three times): the window (page
    end + PARLEY_SEARCH_COUNT_CAP, 1000) ends inside an hour, so the walk
    splits blocks down to that hour and takes its newest matches. Page 1 by
    score ranks exactly the newest 1,020 (the 10 high ones inside, none of
    the 80 outside); the total says so; every page by time and by score is
    exactly its slice of the full order (no skip, no repeat), both ways"""
    a = world["a"]
    tok = a.token("alice")
    w = unique("w")
    base = _us(2026, 3, 1, 0, 1)
    rows = [(a.channel, base + i * 240 * 1000000, a.uid("alice"),
             ("%s %s %s n%d" if i < 90 else "%s n%d") % ((w,) * (3 if i < 90 else 1) + (i,)))
            for i in range(1100)]
    _index_rows(stack, a, rows)
    ts = ["%d.%06d" % (us // 1000000, us % 1000000) for _, us, _, _ in rows]
    order = ts[::-1]                                    # by time, newest first
    ranked = ts[89::-1] + ts[:89:-1]                    # by score, all in the window
    for sort in ("timestamp", "score"):
        r = search(api, tok, w, sort=sort, count=20)["messages"]
        assert r["total"] == 1020 and r["paging"]["pages"] == 51, sort
    r = search(api, tok, w, sort="timestamp", count=20)["messages"]
    assert [m["ts"] for m in r["matches"]] == order[:20]
    r = search(api, tok, w, sort="score", count=20)["messages"]
    assert [m["ts"] for m in r["matches"]] == ts[89:79:-1] + order[:10]
    r = search(api, tok, w, sort="timestamp", count=100, page=10)["messages"]
    assert r["total"] == 1100          # the window (2,000) holds every match
    assert [m["ts"] for m in r["matches"]] == order[900:1000]
    r = search(api, tok, w, sort="timestamp", sort_dir="asc", count=100, page=11)["messages"]
    assert [m["ts"] for m in r["matches"]] == ts[1000:1100]
    seen, totals = _pages(api, tok, w, 100, sort="timestamp")
    assert [t for _, t in seen] == order and totals == {1100}
    seen, totals = _pages(api, tok, w, 100, sort="score")
    assert [t for _, t in seen] == ranked and totals == {1100}


def test_phrases_by_word_pairs(stack, api, world):
    """a phrase of plain words is also asked of the word pairs (bg): only
    the messages with its words adjacent and in order, a repeated word
    included; an edit re-indexes the pairs; a phrase with punctuation or
    another script (no pair lookup) still matches"""
    a = world["a"]
    tok = a.token("alice")
    w = unique("w")
    post(api, tok, a.channel, "%s red fox jumps" % w)
    post(api, tok, a.channel, "%s fox red jumps" % w)
    post(api, tok, a.channel, "%s red red fox" % w)
    post(api, tok, a.channel, "%s red, fox! über straße" % w)
    edited = post(api, tok, a.channel, "%s blue fox" % w)
    settle(api, tok, a.channel)
    for sort in ("timestamp", "score"):
        assert sorted(texts(search(api, tok, '%s "red fox"' % w, sort=sort))) == sorted([
            "%s red fox jumps" % w, "%s red red fox" % w, "%s red, fox! über straße" % w])
        assert texts(search(api, tok, '%s "red red"' % w, sort=sort)) == [
            "%s red red fox" % w]
        assert texts(search(api, tok, '"%s RED red fox"' % w, sort=sort)) == [
            "%s red red fox" % w]
        assert texts(search(api, tok, '%s "fox red jumps"' % w, sort=sort)) == [
            "%s fox red jumps" % w]
        assert sorted(texts(search(api, tok, '%s "red, fox"' % w, sort=sort))) == sorted([
            "%s red fox jumps" % w, "%s red red fox" % w, "%s red, fox! über straße" % w])
        assert texts(search(api, tok, '%s "über straße"' % w, sort=sort)) == [
            "%s red, fox! über straße" % w]
    api.call("chat.update", tok, channel=a.channel, ts=edited, text="%s red fox again" % w)
    settle(api, tok, a.channel)
    assert len(texts(search(api, tok, '%s "red fox"' % w))) == 4
    assert texts(search(api, tok, '%s "blue fox"' % w)) == []


def test_walk_probe_same_pages(new_stack):
    """the walk's shortcuts (docs/search.md "Performance"), with a window
    of page end + 10 (PARLEY_SEARCH_COUNT_CAP): a word used 40 times over
    ten years and a word with no match for a week, then 200 in three days
    and 5 a year earlier, are probed (the rest read at once after 16 hours)
    both ways: when it holds more than 4 windows (early pages) the probe
    takes nothing and the walk goes on, when it fits (later pages) it takes
    it all or its first window; a word used every hour for ten days gives
    the walk its density, and the blocks expected to hold more than 4
    windows are split unread; a block holding 1 to 4 windows gives its
    first at once. Every page, total and order is exactly the expected
    slice of the full order (both sorts, both directions) and the same as
    the plain walk's (PARLEY_SEARCH_WALK_PROBE_HOURS=0)"""
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    _restart_indexer(st, PARLEY_SEARCH_COUNT_CAP="10")
    a = provision(st, api=api)
    tok = a.token("alice")
    settle(api, tok, a.channel)
    sparse, dense, steady = unique("w"), unique("w"), unique("w")
    u = a.uid("bob")
    now = int(time.time()) * 1000000
    rows = [(a.channel, _us(2010, 1, 1, 5) + i * 91 * 86400 * 1000000 + i, u,
             "%s sparse %d" % (sparse, i)) for i in range(40)]
    rows += [(a.channel, now - 7 * 86400 * 1000000 - i * 1297 * 1000000, u,
              "%s dense %d" % (dense, i)) for i in range(200)]
    rows += [(a.channel, now - 3600 * 1000000 - i * 3600 * 1000000 - 17, u,
              "%s steady %d" % (steady, i)) for i in range(240)]
    rows += [(a.channel, now - 400 * 86400 * 1000000 - i * 3600 * 1000000, u,
              "%s old %d" % (dense, i)) for i in range(5)]
    _index_rows(st, a, rows)

    def expect(w):
        us = sorted(r[1] for r in rows if r[3].startswith(w + " "))
        return ["%d.%06d" % (x // 1000000, x % 1000000) for x in us[::-1]]

    def every_page(w):
        out = {}
        for sort, d in (("timestamp", "desc"), ("timestamp", "asc"), ("score", "desc")):
            for n in (7, 20):
                out[(sort, d, n)] = _pages(api, tok, w, n, sort=sort, sort_dir=d)
        return out

    def check(w, got):
        order = expect(w)
        for (sort, d, n), (seen, totals) in got.items():
            ts = [t for _, t in seen]
            if sort == "timestamp":
                # each page's window is page end + 10: past it, the walk stops
                assert ts == (order if d == "desc" else order[::-1]), (w, sort, d, n)
            else:
                assert sorted(ts) == sorted(order), (w, sort, n)
            assert max(totals) == len(order), (w, sort, d, n)

    before = {w: every_page(w) for w in (sparse, dense, steady)}
    for w in (sparse, dense, steady):
        check(w, before[w])
    _restart_indexer(st, PARLEY_SEARCH_WALK_PROBE_HOURS="0")
    for w in (sparse, dense, steady):
        assert every_page(w) == before[w], w


PAIR_TEXTS = [
    "", "ok", "ok!", "+1", "ha ha", "ha ha ha", "red fox red fox", "a b a b a",
    "release train leaves today", "foo-bar baz", "state-of-the-art tools",
    "see https://example.com/a/b?c=d now", "mail bob@example.com today",
    "v1.2.3 and 3.14 and -7", "it's o'clock", "a\\b 'c' \"d\" e''f",
    "über straße ÜBER", "日本語 テキスト", "<@U123> hi <#C1|general>",
    "x" * 150 + " " + "y" * 60 + " z", "w" * 3000 + " after",
    " ".join(["spam"] * 300),                      # a lexeme past 256 positions
    " ".join("w%d" % (i % 50) for i in range(17000)),  # positions past the cap
]


def test_word_pairs_match_the_join(stack):
    """migration 3's si_bigrams (PL/pgSQL, a pass over positions) gives the
    same set of word pairs as migration 2's join (kept as si_bigrams_join)
    for every kind of text, the position caps included, and si_buckets the
    same blocks as the arithmetic of docs/search.md; rows written as the
    indexer writes them store those pairs"""
    team = types.SimpleNamespace(id=unique("T"))
    ch = unique("C")
    _index_rows(stack, team, [(ch, 1000000 + i, "U1", text)
                              for i, text in enumerate(PAIR_TEXTS[:-1])])
    with _search_db(stack) as conn:
        for text in PAIR_TEXTS:
            fast, join = conn.execute(
                "SELECT si_bigrams(v), si_bigrams_join(v) FROM"
                " (SELECT to_tsvector('simple', %s) AS v) x", (text,)).fetchone()
            assert set(fast) == set(join), text[:60]
        assert conn.execute("SELECT si_bigrams_join(to_tsvector('simple', 'a b c'))"
                            ).fetchone()[0] == ["a b", "b c"]
        for us in (0, 1, 3599999999, 3600000000, 1765000000000000, 2 ** 62):
            h = min(max(us // 3600000000, 0), 16777215)
            want = [h] + [(lv << 24) | (h >> (2 * lv)) for lv in range(1, 9)]
            assert conn.execute("SELECT si_buckets(%s)", (us,)).fetchone()[0] == want, us
        bad = conn.execute("SELECT count(*) FROM search_messages WHERE team_id = %s AND"
                           " NOT (bg @> si_bigrams_join(tsv) AND si_bigrams_join(tsv) @> bg)",
                           (team.id,)).fetchone()[0]
        assert bad == 0
