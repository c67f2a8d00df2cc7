#!/usr/bin/python3
"""table.py - merge one benchmark run's loadgen results into one JSON file
and print the Parley | floor | Socket.IO table.

    table.py WORKDIR OUT.json STAMP "key=value ..."

WORKDIR holds <mode>-<run>.json (one loadgen result each) and
floor-fanout.txt (the floor's own write-loop times). Figures that were not
measured print as "-"; nothing is estimated.
"""
import glob
import json
import os
import statistics
import sys

MODES = ["parley", "floor", "socketio"]
TITLES = {"parley": "Parley", "floor": "floor", "socketio": "Socket.IO"}


def load(work):
    runs = {}
    for path in sorted(glob.glob(os.path.join(work, "*-*.json"))):
        mode, name = os.path.basename(path)[:-5].split("-", 1)
        try:
            with open(path) as f:
                runs.setdefault(mode, {})[name] = json.load(f)
        except ValueError:
            pass
    return runs


def floor_fanout(work):
    """the floor's server-side write loop per broadcast: {members: [us, ...]}"""
    out = {}
    try:
        for line in open(os.path.join(work, "floor-fanout.txt")):
            kv = dict(p.split("=", 1) for p in line.split()[1:] if "=" in p)
            out.setdefault(int(kv["members"]), []).append(int(kv["us"]))
    except (OSError, KeyError, ValueError):
        pass
    return out


def get(runs, mode, run, *path):
    v = runs.get(mode, {}).get(run)
    for p in path:
        if not isinstance(v, dict) or p not in v:
            return None
        v = v[p]
    return v


def fmt(v, unit="", digits=1):
    if v is None or (isinstance(v, (int, float)) and v < 0):
        return "-"
    if isinstance(v, float):
        return ("%." + str(digits) + "f%s") % (v, unit)
    return "%s%s" % (v, unit)


def rows(runs, cfg):
    R = []

    def row(label, f):
        R.append([label] + [f(m) for m in MODES])

    row("connections held (idle)", lambda m: fmt(get(runs, m, "idle", "ready")) + (
        "/" + str(get(runs, m, "idle", "conns")) if get(runs, m, "idle", "conns") else ""))
    row("RSS per connection, KiB (idle)", lambda m: fmt(
        (get(runs, m, "idle", "rss_per_conn_bytes") or -1024) / 1024.0, "", 2))
    def rss_incl(m):
        a = get(runs, m, "idle", "rss_per_conn_bytes")
        b = get(runs, m, "idle", "rss_aux_per_conn_bytes")
        if a is None or b is None or a < 0 or b < 0 or get(runs, m, "idle", "rss_aux_kb_before") == -1:
            return "-"
        return fmt((a + b) / 1024.0, "", 2)
    row("  the same with its redis-server, KiB (idle)", rss_incl)
    row("ping RTT p99 ms, 1k conns", lambda m: fmt(get(runs, m, "idle-1k", "rtt_ms", "p99"), "", 2))
    row("ping RTT p99 ms, idle N", lambda m: fmt(get(runs, m, "idle", "rtt_ms", "p99"), "", 2))
    row("broadcast to N: time to all, ms (median)", lambda m: fmt(
        get(runs, m, "broadcast", "broadcast", "median_time_to_all_ms")))
    row("broadcast rounds complete", lambda m: fmt(
        get(runs, m, "broadcast", "broadcast", "complete_rounds")))
    row("broadcast: connected / warmed up before round 1", lambda m: (
        "%s / %s" % (get(runs, m, "broadcast", "ready"),
                     get(runs, m, "broadcast", "warmup", "complete"))
        if get(runs, m, "broadcast") else "-"))

    def ratio_floor(m):
        a = get(runs, m, "broadcast", "broadcast", "median_time_to_all_ms")
        b = get(runs, "floor", "broadcast", "broadcast", "median_time_to_all_ms")
        return fmt(b / a, "", 2) if a and b and a > 0 and b > 0 else "-"
    row("fan-out rate vs floor (floor time / time)", ratio_floor)
    row("chat sends/s achieved (target %s)" % cfg.get("rate", "?"),
        lambda m: fmt(get(runs, m, "chat", "sends_per_s")))
    row("chat latency p50 ms", lambda m: fmt(get(runs, m, "chat", "latency_ms", "p50"), "", 2))
    row("chat latency p99 ms", lambda m: fmt(get(runs, m, "chat", "latency_ms", "p99"), "", 2))
    row("chat latency p99.9 ms", lambda m: fmt(get(runs, m, "chat", "latency_ms", "p999"), "", 2))
    def refused(m):
        c = get(runs, m, "chat", "counters")
        if not c:
            return "-"
        codes = get(runs, m, "chat", "nack_codes") or {}
        n = c.get("nacked", 0) + c.get("server_errors", 0)
        return str(n) + ("" if not codes else " (" + ", ".join(
            "%s %s" % (k, v) for k, v in sorted(codes.items(), key=lambda kv: -kv[1])) + ")")
    row("chat sends refused (ok:false + error events)", refused)
    row("chat sends acked", lambda m: (
        "%s/%s" % (get(runs, m, "chat", "counters", "acked"),
                   get(runs, m, "chat", "counters", "sent"))
        if get(runs, m, "chat", "counters") else "-"))
    row("chat deliveries/s (measured phase)", lambda m: fmt(get(runs, m, "chat", "deliveries_per_s")))
    row("chat delivered / expected", lambda m: (
        "%s/%s" % (get(runs, m, "chat", "counters", "delivered"),
                   get(runs, m, "chat", "counters", "expected"))
        if get(runs, m, "chat", "counters") else "-"))
    row("slow: others' p99 ms before -> during", lambda m: (
        "%s -> %s" % (fmt(get(runs, m, "slow", "latency_ms", "p99"), "", 1),
                      fmt(get(runs, m, "slow", "latency_slowphase_ms", "p99"), "", 1))
        if get(runs, m, "slow") else "-"))
    row("slow: clients closed by server", lambda m: fmt(get(runs, m, "slow", "counters", "slow_closed")))
    row("storm: all reconnected after kill, ms", lambda m: fmt(get(runs, m, "storm", "storm", "all_back_ms")))
    row("storm: reconnects (resumed / resynced)", lambda m: (
        "%s (%s / %s)" % (get(runs, m, "storm", "storm", "reconnects"),
                          get(runs, m, "storm", "storm", "resumed"),
                          get(runs, m, "storm", "storm", "resynced"))
        if get(runs, m, "storm", "storm") else "-"))

    def viol(m, names):
        vs = [get(runs, m, n, "ledger", "violations") for n in names]
        vs = [v for v in vs if v is not None]
        return fmt(sum(vs)) if vs else "-"
    row("ledger violations (idle, broadcast, chat, slow)",
        lambda m: viol(m, ["idle-1k", "idle", "broadcast", "chat", "slow"]))
    def viol_storm(m):
        lg = get(runs, m, "storm", "ledger")
        if not lg:
            return "-"
        kinds = ["%s %s" % (k, lg[k]) for k in ("gap", "duplicate", "reorder", "foreign") if lg.get(k)]
        return str(lg["violations"]) + (" (" + ", ".join(kinds) + ")" if kinds else "")
    row("ledger violations (storm)", viol_storm)
    return R


def ratios(runs):
    out = {}
    p_del = get(runs, "parley", "chat", "deliveries_per_s")
    s_del = get(runs, "socketio", "chat", "deliveries_per_s")
    if p_del and s_del:
        out["deliveries_per_s_parley_over_socketio"] = round(p_del / s_del, 2)
    p_rss = get(runs, "parley", "idle", "rss_per_conn_bytes")
    s_rss = get(runs, "socketio", "idle", "rss_per_conn_bytes")
    if p_rss and s_rss and p_rss > 0:
        out["rss_per_conn_socketio_over_parley"] = round(s_rss / p_rss, 2)
    for m in ("parley", "socketio"):
        a = get(runs, m, "broadcast", "broadcast", "median_time_to_all_ms")
        b = get(runs, "floor", "broadcast", "broadcast", "median_time_to_all_ms")
        if a and b and a > 0:
            out["fanout_rate_%s_over_floor" % m] = round(b / a, 3)
    return out


def main():
    work, out, stamp, cfgs = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
    cfg = dict(kv.split("=", 1) for kv in cfgs.split())
    runs = load(work)
    fan = floor_fanout(work)
    mb_path = os.path.join(work, "msgbench.txt")
    msgbench = [ln.rstrip() for ln in open(mb_path)] if os.path.exists(mb_path) else []
    table = rows(runs, cfg)
    doc = {"timestamp": stamp, "cores": os.cpu_count(), "config": cfg,
           "ratios": ratios(runs),
           "floor_server_write_loop_us": {str(k): {"median": statistics.median(v), "n": len(v)}
                                          for k, v in fan.items()},
           "table": [dict(zip(["figure"] + MODES, r)) for r in table], "runs": runs,
           "msgbench": msgbench}
    tmp = out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(tmp, out)
    w0 = max(len(r[0]) for r in table)
    ws = [max(len(TITLES[m]), *(len(r[i + 1]) for r in table)) for i, m in enumerate(MODES)]
    line = "| %s | %s |" % ("figure".ljust(w0), " | ".join(TITLES[m].ljust(w) for m, w in zip(MODES, ws)))
    print(line)
    print("|%s|%s|" % ("-" * (w0 + 2), "|".join("-" * (w + 2) for w in ws)))
    for r in table:
        print("| %s | %s |" % (r[0].ljust(w0), " | ".join(c.ljust(w) for c, w in zip(r[1:], ws))))
    print()
    print("config: " + cfgs)
    for k, v in doc["ratios"].items():
        print("%s: %s" % (k, v))
    for k, v in sorted(doc["floor_server_write_loop_us"].items(), key=lambda kv: int(kv[0])):
        print("floor server write loop to %s sockets: median %s us over %d broadcasts" % (
            k, v["median"], v["n"]))
    for ln in msgbench:
        print("msgbench " + ln)


if __name__ == "__main__":
    main()
