"""Starting and stopping: stop() leaves no process of the stack running, and
the state a killed run leaves behind (pid files, postmaster.pid, sockets,
processes) does not prevent the next start."""
import json
import os
import signal

import requests

import parley
import stack as stackmod


def alive(pids):
    return {n: p for n, p in pids.items() if stackmod.pid_alive(p)}


def test_stop_leaves_nothing_running(new_stack):
    st = new_stack(gateways=2)
    pids = st.pids()
    assert "postgres" in pids and "redis" in pids and "gateway-1" in pids, pids
    assert alive(pids) == pids
    st.stop()
    parley.wait_for(lambda: not alive(pids), 10, "no process left: %s" % alive(pids))
    assert not os.path.exists(os.path.join(st.base, "pg", "postmaster.pid"))
    assert not [f for f in os.listdir(st.run_dir) if f.endswith(".pid")]


def test_restart_after_a_killed_run(new_stack):
    st = new_stack(gateways=1)
    base, admin = st.base, st.admin_token
    pids = st.pids()
    # the runner dies hard: every child with it (the postmaster too)
    for name, pid in pids.items():
        os.kill(pid, signal.SIGKILL)
    parley.wait_for(lambda: not alive(pids), 10, "killed processes gone")
    st.children, st.pg_started = [], False   # forget them; their files stay behind
    assert os.path.exists(os.path.join(base, "pg", "postmaster.pid"))

    again = stackmod.Stack(base, fixed_ports=False, shards=2, gateways=1,
                           bin_dir=st.bin_dir, admin_token=admin, pg_durable=False,
                           extra_env=st.extra_env)
    try:
        again.start()
        assert requests.get(again.http_url + "/readyz", timeout=5).status_code == 200
        # the directory survived: the admin API works against it
        parley.provision(again, users=("dave",), channel=None)
    finally:
        again.stop()
    assert not alive(again.pids())


def test_make_run_entry_point_stops_cleanly(tmp_path):
    """stack.py run (what `make run` execs): ready, seeded, banner printed;
    SIGTERM stops every process it started and a second run works"""
    import subprocess
    import tempfile
    from conftest import BIN, REPO

    base = tempfile.mkdtemp(prefix="parley-it-run-")
    os.chmod(base, 0o755)
    try:
        for attempt in (1, 2):
            out = open(os.path.join(base, "out-%d.txt" % attempt), "w+")
            env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
            env["PARLEY_RATE_LIMITS"] = "0"
            p = subprocess.Popen(
                ["/usr/bin/python3", os.path.join(REPO, "deploy/local/stack.py"), "run",
                 "--base", base, "--free-ports", "--gateways", "1", "--bin-dir", BIN],
                stdout=out, stderr=subprocess.STDOUT, env=env, cwd=REPO)
            try:
                def banner():
                    assert p.poll() is None, open(out.name).read()
                    return "Ctrl-C stops everything" in open(out.name).read()
                parley.wait_for(banner, 90, "make-run banner")
                text = open(out.name).read()
                with open(os.path.join(base, "stack.json")) as f:
                    state = json.load(f)
                with open(os.path.join(base, "seed.json")) as f:
                    seed = json.load(f)
                assert seed["users"]["alice"]["token"] in text
                assert state["http_url"] in text
                # each gateway process's own ops port: recorded and printed
                assert state["ops"]["gateway-0"] in text
                assert state["ops"]["gateway-0"] != state["http_url"]
                # the token secret it generated: >= 32 bytes, owner only
                sp = os.path.join(base, "secret")
                assert os.stat(sp).st_mode & 0o777 == 0o600
                assert len(open(sp).read().strip()) >= 32
                if attempt == 2:
                    assert seed == first_seed      # same ids and tokens again
                first_seed = seed
                pids = state["pids"]
                assert len(pids) >= 9 and not [n for n, q in pids.items()
                                               if not stackmod.pid_alive(q)]
                p.send_signal(signal.SIGTERM)
                assert p.wait(60) == 0, open(out.name).read()
            finally:
                if p.poll() is None:
                    p.kill()
                    p.wait()
            assert not alive(pids), alive(pids)
            assert "nothing left running" in open(out.name).read()
    finally:
        # whatever a failed attempt left (a postmaster survives a killed runner)
        stackmod.Stack(base).cleanup_stale()
        if os.environ.get("PARLEY_TEST_KEEP") != "1":
            import shutil
            shutil.rmtree(base, ignore_errors=True)


def test_second_run_continues_the_channel(new_stack):
    """make run, stop, make run again: devkafka is in memory, so the second
    run starts with empty topics while PostgreSQL keeps the channels and
    offsets. The channel's seq continues (never reused), the new messages are
    persisted and history shows old and new in order."""
    st = new_stack(gateways=1)
    api = parley.Api(st.http_url)
    t = parley.provision(st, users=("alice", "bob"), api=api)
    alice = t.token("alice")
    first = [api.call("chat.postMessage", alice, channel=t.channel, text="before %d" % i)
             for i in range(3)]
    seqs = [m["message"]["seq"] for m in first]
    assert seqs == list(range(seqs[0], seqs[0] + 3)), seqs
    last = parley.find_message_row(st, t.channel, seqs[-1])
    assert last[1]["text"] == "before 2"
    base, admin = st.base, st.admin_token
    st.stop()

    again = stackmod.Stack(base, fixed_ports=False, shards=2, gateways=1,
                           bin_dir=st.bin_dir, admin_token=admin, pg_durable=False,
                           extra_env=st.extra_env)
    try:
        again.start()
        api2 = parley.Api(again.http_url)
        with parley.Ws(again.ws_url, token=t.token("bob")) as bob:
            r = api2.call("chat.postMessage", alice, channel=t.channel, text="after")
            ev = bob.wait_event(lambda e: e.get("type") == "message" and
                                e.get("text") == "after", what="message after restart")
        new_seq = ev["seq"]
        assert new_seq > seqs[-1], (seqs, new_seq)
        assert r["ts"] > first[-1]["ts"]
        row = parley.find_message_row(again, t.channel, new_seq)
        assert row[1]["text"] == "after"
        hist = api2.call("conversations.history", alice, channel=t.channel, limit=10)
        texts = [m["text"] for m in reversed(hist["messages"])]
        assert texts[-4:] == ["before 0", "before 1", "before 2", "after"], texts
    finally:
        again.stop()
