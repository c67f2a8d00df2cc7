"""supervise.py - `make run` restarts what dies, as a container runtime would.

    sup = Supervisor(stack)          # after stack.start()
    while True: sup.poll(); time.sleep(0.2)

A child that exits while the stack runs is restarted after a full-jitter
backoff: a delay drawn uniformly from [0, min(cap, base * 2^n)), n = the
restarts of that child in a row (reset once it has stayed up for `stable`
seconds). Each exit and restart is logged ("stack: RESTART ...") and counted
in stack.restarts, which stack.json shows ("restarts": {name: count}). The
restarted process gets the address it had (the port it bound, not port 0
again), so clients, haproxy and Prometheus find it where it was.

What a restart does not bring back: devkafka keeps its log in memory, so a
restarted devkafka starts empty (the daemons see a new, empty broker); Redis
runs without persistence (a cache). Both are what they are in production only
because production uses Kafka and a managed Redis.
"""

import random
import time


class Supervisor:
    def __init__(self, stack, base=0.5, cap=30.0, stable=30.0, log=None, rng=None):
        self.stack = stack
        self.base = base
        self.cap = cap
        self.stable = stable
        self.rng = rng or random.Random()
        self.log = log or stack_log
        self.pending = {}      # name -> monotonic time of the restart
        self.streak = {}       # name -> restarts in a row
        self.started = {c.name: time.monotonic() for c in stack.children}
        self.ports = {c.name: bound_ports(c) for c in stack.children}
        stack.restarts = getattr(stack, "restarts", {})

    def backoff(self, n):
        """full jitter: uniform in [0, min(cap, base * 2^n))"""
        return self.rng.uniform(0, min(self.cap, self.base * (2 ** n)))

    def poll(self):
        """restart what is due; schedule what has died. Returns the names
        restarted by this call."""
        now = time.monotonic()
        done = []
        for c in list(self.stack.children):
            if c.alive():
                if c.name in self.streak and now - self.started.get(c.name, now) > self.stable:
                    del self.streak[c.name]
                continue
            if c.name not in self.pending:
                n = self.streak.get(c.name, 0)
                delay = self.backoff(n)
                self.pending[c.name] = now + delay
                self.log("RESTART-SCHEDULED name=%s status=%s in_s=%.2f attempt=%d" % (
                    c.name, c.proc.returncode if c.proc else "?", delay, n + 1))
                continue
            if now < self.pending[c.name]:
                continue
            del self.pending[c.name]
            pin_addresses(c, self.ports.get(c.name, {}))
            c.reap(0)
            c.start()
            self.started[c.name] = time.monotonic()
            self.streak[c.name] = self.streak.get(c.name, 0) + 1
            self.stack.restarts[c.name] = self.stack.restarts.get(c.name, 0) + 1
            self.log("RESTART name=%s pid=%d restarts=%d" % (
                c.name, c.pid, self.stack.restarts[c.name]))
            done.append(c.name)
        if done:
            self.stack._write_state()
        return done


# (address setting, the port file the process writes what it bound to)
ADDR_KEYS = [("PARLEY_HTTP_ADDR", "PARLEY_HTTP_PORT_FILE"),
             ("PARLEY_OPS_ADDR", "PARLEY_OPS_PORT_FILE")]


def bound_ports(c):
    """{address setting: the port the running child bound} for the settings
    that asked for port 0"""
    out = {}
    for addr_key, file_key in ADDR_KEYS:
        addr, path = c.env.get(addr_key), c.env.get(file_key)
        if not addr or not path or addr.rsplit(":", 1)[-1] != "0":
            continue
        try:
            with open(path) as f:
                out[addr_key] = int(f.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return out


def pin_addresses(c, ports):
    """the restarted process binds the ports it had, not port 0 again"""
    for key, port in ports.items():
        c.env[key] = "%s:%d" % (c.env[key].rsplit(":", 1)[0], port)


def stack_log(msg):
    import sys
    sys.stderr.write("stack: %s\n" % msg)
    sys.stderr.flush()
