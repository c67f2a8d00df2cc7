#!/usr/bin/python3
"""gw_memory.py - user-space memory per idle authenticated WebSocket of one
gateway process (a development measurement; the benchmark proper is
tools/loadgen).

    /usr/bin/python3 tests/integration/gw_memory.py [N] [--env K=V ...] [--trim]

Starts a private stack (deploy/local/stack.py: 1 gateway, 2 message-svc
shards, the real Redis, PostgreSQL and devkafka) in a temporary directory,
provisions a team with USERS users, opens N WebSockets (?token=, spread over
the users and over source addresses 127.0.0.2+), each waits for its `hello`
(the connection is booted and in the edge cache), then leaves them idle. The
gateway's VmRSS (/proc/<pid>/status) is read after a warm-up batch, at N/2
and at N (each after the gateway has been quiet for SETTLE_S); the figure is
the slope between N/2 and N, so one-time growth (tables, arenas, the first
connections) does not count. Stops everything it started by PID."""
import asyncio
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
sys.path.insert(0, HERE)

import stack as stackmod  # noqa: E402
import parley  # noqa: E402

USERS = 50
WARM = 500
SETTLE_S = 3.0
CONCURRENCY = 200
PER_SOURCE = 2000           # connections per source address


def vm_rss_kib(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


async def open_one(port, token, src, conns):
    reader, writer = await asyncio.open_connection("127.0.0.1", port,
                                                   local_addr=(src, 0))
    writer.write(("GET /ws?token=%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                  "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                  "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                  "Sec-WebSocket-Version: 13\r\n\r\n" % (token, port)).encode())
    head = await reader.readuntil(b"\r\n\r\n")
    if b" 101 " not in head.split(b"\r\n")[0]:
        raise RuntimeError("upgrade refused: %r" % head[:80])
    buf = b""
    while b"hello" not in buf:
        chunk = await reader.read(4096)
        if not chunk:
            raise RuntimeError("closed before hello")
        buf += chunk
    conns.append((reader, writer))


async def open_many(port, tokens, start, count, conns):
    sem = asyncio.Semaphore(CONCURRENCY)

    async def one(i):
        async with sem:
            src = "127.0.0.%d" % (2 + i // PER_SOURCE)
            await open_one(port, tokens[i % len(tokens)], src, conns)
    await asyncio.gather(*(one(i) for i in range(start, start + count)))


def heap_in_use(pid, log_path):
    """glibc's malloc_stats() of the gateway (written to its log): the bytes
    in use in the main arena (the loop thread's; librdkafka's threads have
    their own arenas)"""
    with open(log_path, errors="replace") as f:
        f.seek(0, 2)
        start = f.tell()
    subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex", "call (void)malloc_stats()"],
                   capture_output=True, timeout=60)
    time.sleep(0.5)
    with open(log_path, errors="replace") as f:
        f.seek(start)
        text = f.read()
    for line in text.splitlines():
        if line.strip().startswith("in use bytes"):
            return int(line.split("=")[1])     # the first arena is the main one
    return -1


def settle(pid):
    """wait until the gateway's RSS stops moving, then read it"""
    time.sleep(SETTLE_S)
    last = vm_rss_kib(pid)
    for _ in range(10):
        time.sleep(1.0)
        now = vm_rss_kib(pid)
        if abs(now - last) < 64:
            return now
        last = now
    return last


def main():
    args = [a for a in sys.argv[1:]]
    env = {"PARLEY_RATE_LIMITS": "0",
           "PARLEY_RATE_ACCEPT_PER_S": "100000", "PARLEY_RATE_ACCEPT_BURST": "100000",
           "PARLEY_MAX_CONNS": "19500"}
    n = 10000
    trim = False
    while args:
        a = args.pop(0)
        if a == "--trim":
            trim = True
        elif a == "--env":
            k, v = args.pop(0).split("=", 1)
            env[k] = v
        else:
            n = int(a)
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if n + 200 > hard:
        sys.exit("need %d descriptors, hard limit %d" % (n + 200, hard))
    base = tempfile.mkdtemp(prefix="parley-mem-", dir=os.environ.get("PARLEY_TEST_TMP", "/tmp"))
    os.chmod(base, 0o755)
    st = stackmod.Stack(base, fixed_ports=False, shards=2, gateways=1,
                        bin_dir=os.path.join(REPO, "build", "bin"),
                        admin_token="mem-admin-" + os.path.basename(base),
                        log_level="warn", extra_env=env, pg_durable=False)
    conns = []
    try:
        st.start()
        gw = [c for c in st.children if c.name.startswith("gateway")][0]
        pid = gw.pid
        t = parley.provision(st, users=tuple("m%d" % i for i in range(USERS)), channel="mem")
        tokens = [t.token("m%d" % i) for i in range(USERS)]
        loop = asyncio.new_event_loop()
        r0 = vm_rss_kib(pid)
        loop.run_until_complete(open_many(st.http_port, tokens, 0, WARM, conns))
        r_warm = settle(pid)
        half = n // 2
        t0 = time.monotonic()
        loop.run_until_complete(open_many(st.http_port, tokens, WARM, half - WARM, conns))
        r_half = settle(pid)
        h_half = heap_in_use(pid, gw.log_path) if trim else 0
        loop.run_until_complete(open_many(st.http_port, tokens, half, n - half, conns))
        t1 = time.monotonic()
        r_full = settle(pid)
        if trim:    # diagnostic: how much of it is free heap glibc kept
            subprocess.run(["gdb", "-p", str(pid), "-batch", "-ex",
                            "call (int)malloc_trim(0)"], capture_output=True, timeout=60)
            print("after malloc_trim(0) at %d conns: VmRSS %d KiB" % (n, vm_rss_kib(pid)))
            h_full = heap_in_use(pid, gw.log_path)
            print("main arena in use: %d conns %d B, %d conns %d B: %.0f B per connection" %
                  (half, h_half, n, h_full, (h_full - h_half) / float(n - half)))
        print("env: %s" % " ".join("%s=%s" % kv for kv in sorted(env.items())))
        print("connections: %d (opened %d in %.1f s after the warm-up)" %
              (len(conns), n - WARM, t1 - t0))
        print("VmRSS KiB: start %d, %d conns %d, %d conns %d, %d conns %d" %
              (r0, WARM, r_warm, half, r_half, n, r_full))
        print("per connection, slope %d..%d: %.2f KiB" %
              (half, n, (r_full - r_half) / float(n - half)))
        print("per connection, overall (from start): %.2f KiB" % ((r_full - r0) / float(n)))
        for _, w in conns:
            w.close()
        loop.run_until_complete(asyncio.sleep(0.5))
        loop.close()
    finally:
        st.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
