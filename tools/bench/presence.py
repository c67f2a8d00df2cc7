#!/usr/bin/python3
"""tools/bench/presence.py - presence figures (issue #12, docs/presence.md).

    /usr/bin/python3 tools/bench/presence.py [--team 10000] [--batch 100]
        [--window 16] [--seconds 10] [--users 500]

Starts a private stack (tests/integration's harness: free ports, a temp
dir, 1 gateway, PARLEY_RATE_LIMITS=0, PARLEY_PRESENCE_GRACE_MS=0), then:

1. batch queries: a team of --team members whose presence state is in Redis
   (written the way presence-svc writes it: a live session, an activity
   stamp, the team), and one WebSocket sending presence_query frames of
   --batch random members, --window in flight; each answer is one batched
   presence_change. Prints batches/s and users/s: the cost of
   users.getPresence in its batch form through gateway and presence-svc.
2. transitions end to end: --users real users (provisioned), two
   subscribers watching all of them; every user connects (active), then
   closes (away): transitions/s from the first connect to the last change
   delivered to both subscribers.
3. Redis memory per online user: used_memory with those --users connected
   minus before they connected, divided by --users.

Prints one JSON object at the end. Every process it starts it stops."""
import argparse
import asyncio
import json
import os
import random
import signal
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests", "integration"))

import conftest  # noqa: E402
import parley  # noqa: E402
import redis  # noqa: E402
import websockets  # noqa: E402


def seed_team(r, team, n):
    """n members of team, online and active, as presence-svc stores them"""
    now = int(time.time() * 1000) + 3600 * 1000     # live for the run
    ids = ["UB%09d" % i for i in range(n)]
    p = r.pipeline(transaction=False)
    for u in ids:
        p.zadd("{u:%s}:conns" % u, {"bench-session": now})
        p.hset("{u:%s}:st" % u, mapping={"team": team, "manual": "0", "act": now,
                                          "shown": "active"})
    p.execute()
    return ids


async def batch_queries(ws_url, token, ids, batch, window, seconds):
    async with websockets.connect(ws_url + "?token=" + token, max_size=None,
                                  ping_interval=None) as ws:
        while json.loads(await ws.recv()).get("type") != "hello":
            pass
        done, sent, users = 0, 0, 0
        t0 = time.monotonic()
        end = t0 + seconds

        async def send_one():
            await ws.send(json.dumps({"type": "presence_query",
                                      "ids": random.sample(ids, batch)}))
        for _ in range(window):
            await send_one()
            sent += 1
        while True:
            ev = json.loads(await ws.recv())
            if ev.get("type") != "presence_change" or "users" not in ev:
                continue
            done += 1
            users += len(ev["users"])
            if time.monotonic() < end:
                await send_one()
                sent += 1
            elif done == sent:
                break
        dt = time.monotonic() - t0
        return {"batches": done, "seconds": round(dt, 2),
                "batches_per_s": round(done / dt, 1),
                "users_per_s": round(users / dt, 1),
                "users_answered_per_batch": round(users / max(done, 1), 1)}


PSUB_MAX = 500      # ids per presence_sub (the gateway's limit)
DEADLINE_S = 300


async def transitions(ws_url, team, users, r):
    """two subscribers (sub0, sub1), each a connection per 500 users"""
    ids = [team.uid(u) for u in users]
    subs, wants = [], []
    for name in ("sub0", "sub1"):
        for k in range(0, len(ids), PSUB_MAX):
            chunk = ids[k:k + PSUB_MAX]
            ws = await websockets.connect(ws_url + "?token=" + team.token(name),
                                          max_size=None, ping_interval=None)
            subs.append(ws)
            wants.append(set(chunk))
            while json.loads(await ws.recv()).get("type") != "hello":
                pass
            await ws.send(json.dumps({"type": "presence_sub", "ids": chunk}))
    got = [{"active": set(), "away": set()} for _ in subs]

    async def reader(i, ws):
        async for frame in ws:
            ev = json.loads(frame)
            if ev.get("type") == "error":
                raise RuntimeError("subscriber %d: %s" % (i, ev))
            if ev.get("type") == "presence_change" and "user" in ev:
                got[i][ev["presence"]].add(ev["user"])
                if got[i]["active"] == wants[i] and got[i]["away"] == wants[i]:
                    return
    readers = [asyncio.ensure_future(reader(i, ws)) for i, ws in enumerate(subs)]
    mem0 = r.info("memory")["used_memory"]
    t0 = time.monotonic()
    conns = await asyncio.gather(*[
        websockets.connect(ws_url + "?token=" + team.token(u), max_size=None,
                           ping_interval=None, open_timeout=60) for u in users])
    # every user active at both subscribers: the memory of online users
    while not all(g["active"] == w for g, w in zip(got, wants)):
        if time.monotonic() - t0 > DEADLINE_S:
            raise RuntimeError("not every user became active at the subscribers")
        for t in readers:
            if t.done() and t.exception():
                raise t.exception()
        await asyncio.sleep(0.05)
    t_active = time.monotonic()
    mem1 = r.info("memory")["used_memory"]
    await asyncio.gather(*[c.close() for c in conns])
    await asyncio.wait_for(asyncio.gather(*readers), DEADLINE_S)
    dt = time.monotonic() - t0
    for ws in subs:
        await ws.close()
    n = 2 * len(users)
    return {"users": len(users), "transitions": n, "seconds": round(dt, 2),
            "transitions_per_s": round(n / dt, 1),
            "connect_to_active_delivered_s": round(t_active - t0, 2),
            "deliveries_per_s": round(2 * n / dt, 1),
            "redis_bytes_per_online_user": round((mem1 - mem0) / len(users), 1)}


def main():
    # SIGTERM (timeout(1)) unwinds through the finally: the stack is stopped
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    ap = argparse.ArgumentParser()
    ap.add_argument("--team", type=int, default=10000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--window", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--users", type=int, default=500)
    a = ap.parse_args()
    env = dict(conftest.TEST_ENV, PARLEY_PRESENCE_GRACE_MS="0", PARLEY_RATE_PRESENCE_QUERY="100000000",
               PARLEY_LOG_LEVEL="warn", PARLEY_MAX_CONNS="100000")
    st = conftest.start_stack(prefix="parley-bench-presence-", extra_env=env, gateways=1,
                              log_level="warn")
    try:
        host, port = st.redis_addr.split(":")
        r = redis.Redis(host=host, port=int(port))
        names = ["sub0", "sub1"] + ["u%d" % i for i in range(a.users)]
        team = parley.provision(st, users=tuple(names), channel=None)
        ids = seed_team(r, team.id, a.team)
        out = {"team_members": a.team, "batch": a.batch, "window": a.window}
        out["batch_query"] = asyncio.run(asyncio.wait_for(batch_queries(
            st.ws_url, team.token("sub0"), ids, a.batch, a.window, a.seconds), DEADLINE_S))
        out["end_to_end"] = asyncio.run(transitions(st.ws_url, team, names[2:], r))
        print(json.dumps(out, indent=1))
    finally:
        conftest.stop_stack(st)


if __name__ == "__main__":
    main()
