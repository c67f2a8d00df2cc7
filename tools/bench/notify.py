#!/usr/bin/python3
"""notify.py - notify-svc's benchmark (issue #13).

  /usr/bin/python3 tools/bench/notify.py [--rate 5000] [--duration 10]
      [--conns 500] [--senders 200] [--channels 50] [--push 3000]

1. Counts: a private stack (deploy/local/stack.py) with a push sink; loadgen's
   chat scenario sends --rate msgs/s for --duration s over WebSockets; every
   message goes through notify-svc's consumer. Reported: messages counted per
   second end to end (from the first send to the last count committed, by
   parley_notify_counts_updated_total) and the p50/p99 of
   parley_notify_count_delay_seconds (message ts = its acknowledgement at
   message-svc -> its count committed), read from the histogram's buckets
   (an upper bound: the bucket's edge).
2. Mentions: the same measure for --mentions chat.postMessage calls that each
   mention a user (HTTP, several threads).
3. Push: --push pending notifications queued at once (ns_push rows for real
   members with devices) and drained by the sender against a local HTTP sink
   (Python, threaded): requests per second.
Needs `make` first. Prints one JSON object."""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "deploy", "local"))
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import stack as stackmod  # noqa: E402
import parley  # noqa: E402
import psycopg  # noqa: E402
import requests  # noqa: E402


class Sink:
    def __init__(self):
        self.n = 0
        self.lock = threading.Lock()
        sink = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with sink.lock:
                    sink.n += 1
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *a):
                pass
        ThreadingHTTPServer.daemon_threads = True
        self.srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = "http://127.0.0.1:%d/_matrix/push/v1/notify" % self.srv.server_port
        threading.Thread(target=self.srv.serve_forever, daemon=True).start()


def metrics(st):
    txt = requests.get(st.ops["notify-svc"] + "/metrics", timeout=5).text
    vals, buckets = {}, []
    for line in txt.splitlines():
        if line.startswith("#") or not line.strip():
            continue
        name, v = line.rsplit(" ", 1)
        m = re.match(r'parley_notify_count_delay_seconds_bucket\{le="([^"]+)"\}', name)
        if m:
            buckets.append((float("inf") if m.group(1) == "+Inf" else float(m.group(1)),
                            float(v)))
        vals[name] = float(v)
    return vals, buckets


def quantile(b0, b1, q):
    """upper bucket edge of quantile q of the observations between two scrapes"""
    d = [(le, c1 - c0) for (le, c0), (_, c1) in zip(b0, b1)]
    total = d[-1][1]
    if total <= 0:
        return None
    for le, c in d:
        if c >= q * total:
            return le
    return None


def wait_counted(st, target, timeout=120):
    t0 = time.time()
    while time.time() - t0 < timeout:
        v, _ = metrics(st)
        if v.get("parley_notify_counts_updated_total", 0) >= target:
            return time.time()
        time.sleep(0.05)
    return None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rate", type=int, default=5000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=500)
    ap.add_argument("--senders", type=int, default=200)
    ap.add_argument("--channels", type=int, default=50)
    ap.add_argument("--mentions", type=int, default=3000)
    ap.add_argument("--push", type=int, default=3000)
    a = ap.parse_args()
    sink = Sink()
    base = tempfile.mkdtemp(prefix="parley-bench-notify-")
    os.chmod(base, 0o755)
    st = stackmod.Stack(base, fixed_ports=False, shards=2, gateways=1,
                        bin_dir=os.path.join(ROOT, "build", "bin"),
                        admin_token="bench-admin-" + os.path.basename(base),
                        extra_env={"PARLEY_RATE_LIMITS": "0", "PARLEY_PUSH_URL": sink.url,
                                   "PARLEY_PUSH_DELAY_MS": "3600000",
                                   "PARLEY_PUSH_MAX_INFLIGHT": "64"},
                        pg_durable=False)
    out = {"rate": a.rate, "duration_s": a.duration}
    try:
        st.start()
        port = int(st.http_url.rsplit(":", 1)[1])
        # 1. loadgen chat at --rate
        v0, b0 = metrics(st)
        c0 = v0.get("parley_notify_counts_updated_total", 0)
        lg_out = os.path.join(base, "lg.json")
        t_start = time.time()
        subprocess.run([os.path.join(ROOT, "build", "bin", "loadgen"), "--mode", "parley",
                        "--scenario", "chat", "--host", "127.0.0.1", "--port", str(port), "--conns", str(a.conns),
                        "--senders", str(a.senders), "--channels", str(a.channels),
                        "--rate", str(a.rate), "--duration", str(a.duration),
                        "--procs", "1", "--admin-token", st.admin_token, "--out", lg_out,
                        "--provision", os.path.join(base, "prov.json"),
                        "--label", "notify", "--large", "0", "--small-per-user", "1"],
                       stdout=subprocess.DEVNULL, stderr=open(os.path.join(base, "lg.log"), "w"))
        if not os.path.exists(lg_out):
            sys.stderr.write(open(os.path.join(base, "lg.log")).read()[-3000:])
            raise SystemExit("loadgen failed")
        lg = json.load(open(lg_out))
        v1, b1 = metrics(st)
        sent = v1.get("parley_notify_counts_updated_total", 0) - c0
        out["loadgen"] = {k: lg.get(k) for k in ("sent", "acked", "rate", "send_rate")
                          if k in lg}
        out["chat_events_counted"] = sent
        out["count_delay_p50_s_le"] = quantile(b0, b1, 0.50)
        out["count_delay_p99_s_le"] = quantile(b0, b1, 0.99)
        out["count_delay_observations"] = b1[-1][1] - b0[-1][1] if b1 else 0
        # 2. mentions through the Web API
        api = parley.Api(st.http_url)
        t = parley.provision(st, users=("alice", "bob", "carol"), api=api)
        v0, b0 = metrics(st)
        c0 = v0.get("parley_notify_counts_updated_total", 0)
        tok, bob = t.token("alice"), t.uid("bob")
        t0 = time.time()

        def one(i):
            api.call("chat.postMessage", tok, channel=t.channel, text="<@%s> m%d" % (bob, i))
        with ThreadPoolExecutor(16) as ex:
            list(ex.map(one, range(a.mentions)))
        t_acked = time.time()
        t_done = wait_counted(st, c0 + a.mentions)
        v1, b1 = metrics(st)
        out["mentions"] = a.mentions
        out["mentions_send_s"] = round(t_acked - t0, 2)
        out["mentions_counted_per_s"] = round(a.mentions / (t_done - t0), 1) if t_done else None
        out["mention_count_delay_p99_s_le"] = quantile(b0, b1, 0.99)
        # 3. push: queue --push notifications at once, time the drain
        api.call("push.register", t.token("bob"), device_token="bench-device", platform="fcm")
        ts = [r["ts"] for r in api.call("conversations.history", t.token("bob"),
                                         channel=t.channel, limit=1)["messages"]]
        now = int(time.time() * 1000)
        with psycopg.connect(st.notify_dsn(), autocommit=True) as c:
            with c.cursor() as cur:
                cur.executemany(
                    "INSERT INTO ns_push (key, user_id, team_id, channel, ts, author, kind,"
                    " next_ms, created_ms) VALUES (%s, %s, %s, %s, %s, %s, 'mention', %s, %s)",
                    [("bench:%d" % i, bob, t.id, t.channel, "9%09d.000000" % i,
                      t.uid("alice"), now, now) for i in range(a.push)])
        n0 = sink.n
        t0 = time.time()
        while sink.n - n0 < a.push and time.time() - t0 < 300:
            time.sleep(0.05)
        dt = time.time() - t0
        out["push_requests"] = sink.n - n0
        out["push_requests_per_s"] = round((sink.n - n0) / dt, 1)
        del ts
    finally:
        st.stop()
        subprocess.run(["rm", "-rf", base])
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
