"""deploy/local/supervise.py without processes: the full-jitter backoff, the
restart count, the streak reset after a stable run, and the restarted
process keeping the port it had bound (a real restart under `make run` is in
test_deploy_stack.py)."""
import os
import random
import shutil
import tempfile
import time

import supervise


class FakeChild:
    def __init__(self, name, env=None):
        self.name = name
        self.env = env or {}
        self.ops_url = None
        self.up = True
        self.starts = 0
        self.pid = 100
        self.proc = type("P", (), {"returncode": -9})()

    def alive(self):
        return self.up

    def reap(self, timeout):
        return True

    def start(self):
        self.starts += 1
        self.pid += 1
        self.up = True


class FakeStack:
    def __init__(self, children):
        self.children = children
        self.states = 0

    def _write_state(self):
        self.states += 1


class Clock:
    def __init__(self):
        self.t = 1000.0

    def __call__(self):
        return self.t


def test_full_jitter_bounds():
    sup = supervise.Supervisor(FakeStack([]), base=0.5, cap=30.0, log=lambda m: None,
                               rng=random.Random(7))
    for n in range(12):
        top = min(30.0, 0.5 * 2 ** n)
        draws = [sup.backoff(n) for _ in range(200)]
        assert all(0 <= d < top for d in draws), (n, max(draws))
        # full jitter: spread over the whole range, not clustered at the top
        assert min(draws) < top * 0.1 and max(draws) > top * 0.9, n


def test_restart_counted_logged_and_streak_reset(monkeypatch):
    clock = Clock()
    monkeypatch.setattr(supervise.time, "monotonic", clock)
    c = FakeChild("presence-svc")
    st = FakeStack([c])
    logs = []
    sup = supervise.Supervisor(st, base=1.0, cap=8.0, stable=30.0, log=logs.append,
                               rng=random.Random(1))
    delays = []
    for attempt in range(4):
        c.up = False
        assert sup.poll() == []                      # scheduled, not yet restarted
        due = sup.pending["presence-svc"] - clock.t
        delays.append(due)
        assert 0 <= due < min(8.0, 2 ** attempt)
        clock.t += due + 0.001
        assert sup.poll() == ["presence-svc"]
        clock.t += 1                                 # dies again soon: streak grows
    assert c.starts == 4 and st.restarts == {"presence-svc": 4} and st.states == 4
    assert any("RESTART name=presence-svc" in m and "restarts=4" in m for m in logs)
    assert any("RESTART-SCHEDULED name=presence-svc" in m and "attempt=4" in m for m in logs)
    # up for longer than `stable`: the next failure starts from attempt 1 again
    clock.t += 31
    sup.poll()
    c.up = False
    sup.poll()
    assert sup.pending["presence-svc"] - clock.t < 1.0
    assert any(m.endswith("attempt=1") for m in logs[-1:])


def test_restarted_process_keeps_its_bound_port():
    d = tempfile.mkdtemp()
    try:
        pf = os.path.join(d, "gw.port")
        with open(pf, "w") as f:
            f.write("41234\n")
        c = FakeChild("gateway-0", env={"PARLEY_HTTP_ADDR": "127.0.0.1:0",
                                        "PARLEY_HTTP_PORT_FILE": pf,
                                        "PARLEY_OPS_ADDR": "127.0.0.1:9160"})
        sup = supervise.Supervisor(FakeStack([c]), base=0.0001, log=lambda m: None)
        c.up = False
        sup.poll()
        time.sleep(0.01)
        assert sup.poll() == ["gateway-0"]
        assert c.env["PARLEY_HTTP_ADDR"] == "127.0.0.1:41234"
        assert c.env["PARLEY_OPS_ADDR"] == "127.0.0.1:9160"     # fixed: unchanged
    finally:
        shutil.rmtree(d)
