"""Issue #10 items 4 and 8: the token secret is required (no built-in
default, >= 32 bytes) and may come from a file, like the admin token; every
gateway process has its own ops port (/metrics, /healthz, /readyz), the
client port no longer serves /metrics; nng ipc sockets are 0600; huge
last_seq numbers in resume and events.poll are refused, not converted."""
import base64
import glob
import os
import stat
import subprocess

import pytest

import parley
import webapi_helpers as W
from conftest import BIN
from parley import Ws, wait_for
from test_gateway_limits import ExtraGateway, extra_gateway  # noqa: F401 (fixture)

SECRET40 = "0123456789abcdef0123456789abcdef01234567"


def _run(name, env, *args):
    path = os.path.join(BIN, name)
    base = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    base.update(env)
    return subprocess.run([path] + list(args), capture_output=True, text=True,
                          timeout=30, env=base, stdin=subprocess.DEVNULL)


# ---- 4. the token secret

@pytest.mark.parametrize("name", ["gateway", "message-svc"])
@pytest.mark.parametrize("secret", [None, "", "parley-dev-secret", "x" * 31])
def test_daemon_refuses_to_start_without_a_real_secret(name, secret):
    """no default secret: unset, empty, the old built-in default and 31
    bytes all stop the daemon at start-up (exit 2, before it listens on
    anything), saying why but never the value"""
    env = {"PARLEY_OPS_ADDR": "127.0.0.1:0", "PARLEY_HTTP_ADDR": "127.0.0.1:0"}
    if secret is not None:
        env["PARLEY_TOKEN_SECRET"] = secret
    r = _run(name, env)
    assert r.returncode == 2, (r.returncode, r.stdout[-500:], r.stderr[-500:])
    assert "token-secret (PARLEY_TOKEN_SECRET or PARLEY_TOKEN_SECRET_FILE) must be " \
        "at least 32 bytes" in r.stderr, r.stderr
    if secret:
        assert secret not in r.stderr + r.stdout


@pytest.mark.parametrize("name", ["gateway", "message-svc"])
def test_print_config_never_prints_secrets(name, tmp_path):
    f = tmp_path / "secret"
    f.write_text(SECRET40 + "\n")
    r = _run(name, {"PARLEY_TOKEN_SECRET": "y" * 33, "PARLEY_ADMIN_TOKEN": "adm-" + "z" * 30},
             "--print-config")
    assert r.returncode == 0, r.stderr
    assert "PARLEY_TOKEN_SECRET=<set, 33 bytes>" in r.stdout, r.stdout
    assert "y" * 33 not in r.stdout and "z" * 30 not in r.stdout
    if name == "gateway":
        assert "PARLEY_ADMIN_TOKEN=<set, 34 bytes>" in r.stdout, r.stdout
    # the file wins over the variable; its trailing newline is not part of it
    r = _run(name, {"PARLEY_TOKEN_SECRET": "y" * 33, "PARLEY_TOKEN_SECRET_FILE": str(f)},
             "--print-config")
    assert r.returncode == 0, r.stderr
    assert "PARLEY_TOKEN_SECRET=<set, 40 bytes, from PARLEY_TOKEN_SECRET_FILE>" in r.stdout
    assert SECRET40 not in r.stdout
    # a file that cannot be read is a bad setting
    r = _run(name, {"PARLEY_TOKEN_SECRET_FILE": str(tmp_path / "missing")})
    assert r.returncode == 2 and "cannot use token-secret-file" in r.stderr, r.stderr


def test_secrets_from_files_work_end_to_end(stack, team, extra_gateway, tmp_path):
    """a gateway given the stack's secret and admin token only as files (with
    the trailing newline an editor or `kubectl create secret --from-file`
    leaves) verifies the stack's user tokens and accepts the admin token"""
    sf, af = tmp_path / "token-secret", tmp_path / "admin-token"
    sf.write_text(stack.token_secret + "\n")
    af.write_text(stack.admin_token + "\r\n")
    os.chmod(sf, 0o600)
    os.chmod(af, 0o600)
    gw = extra_gateway(PARLEY_TOKEN_SECRET="", PARLEY_ADMIN_TOKEN="",
                       PARLEY_TOKEN_SECRET_FILE=str(sf), PARLEY_ADMIN_TOKEN_FILE=str(af))
    b = W.ok(gw.http_url, "auth.test", team.token("alice"))
    assert b["user_id"] == team.uid("alice"), b
    b = W.ok(gw.http_url, "admin.teams.create", stack.admin_token,
             name=parley.unique("sf-"))
    assert b["team"]["id"]


# ---- 8. each gateway process's own ops port

def _metric(url, family):
    r = parley.Api(url).session.get(url + "/metrics", timeout=5)
    assert r.status_code == 200, (url, r.status_code)
    fams = parley.parse_prometheus(r.text)
    return sum(v for _, _, v in fams.get(family, {"samples": []})["samples"])


def test_metrics_not_on_the_client_port(stack):
    s = parley.Api(stack.http_url).session
    assert s.get(stack.http_url + "/metrics", timeout=5).status_code == 404
    # load balancers keep /healthz and /readyz there
    for path in ("/healthz", "/readyz"):
        assert s.get(stack.http_url + path, timeout=5).status_code == 200, path


def test_each_gateway_process_has_its_own_ops_port(stack):
    gws = sorted(k for k in stack.ops if k.startswith("gateway"))
    assert len(gws) == stack.gateways >= 2, stack.ops
    ports = set()
    for name in gws:
        url = stack.ops[name]
        port = int(url.rsplit(":", 1)[1])
        assert port != stack.http_port
        ports.add(port)
        # the port file holds it, the log says it
        with open(os.path.join(stack.run_dir, name + ".ops.port")) as f:
            assert int(f.read().strip()) == port
        with open(os.path.join(stack.log_dir, name + ".log")) as f:
            assert "ops_port=%d " % port in f.read()
        s = parley.Api(url).session
        for path in ("/healthz", "/readyz", "/metrics"):
            assert s.get(url + path, timeout=5).status_code == 200, (name, path)
        assert s.get(url + "/api/api.test", timeout=5).status_code == 404
    assert len(ports) == len(gws)
    # stack.json records them
    import json
    with open(os.path.join(stack.base, "stack.json")) as f:
        assert {k: v for k, v in json.load(f)["ops"].items() if k in gws} == \
            {k: stack.ops[k] for k in gws}


def test_ops_port_shows_that_process_figures(stack, team, extra_gateway):
    """two processes sharing one client port: each ops port reports only its
    own connections (through the shared port a scrape reached either)"""
    a = extra_gateway()
    b = extra_gateway(PARLEY_HTTP_ADDR="127.0.0.1:%d" % a.port)
    assert a.child.ops_url != b.child.ops_url
    fam = "parley_gateway_connections"
    socks = []
    try:
        for i in range(6):
            socks.append(Ws(a.ws_url, team.token("bob")))
        wait_for(lambda: _metric(a.child.ops_url, fam) + _metric(b.child.ops_url, fam) == 6,
                 15, "6 connections over the two ops ports")
        # each figure is stable: the same process answers every scrape
        na = _metric(a.child.ops_url, fam)
        for _ in range(5):
            assert _metric(a.child.ops_url, fam) == na
            assert _metric(b.child.ops_url, fam) == 6 - na
    finally:
        for ws in socks:
            ws.close()
    wait_for(lambda: _metric(a.child.ops_url, fam) + _metric(b.child.ops_url, fam) == 0,
             15, "the connections gone from both ops ports")


def test_two_processes_cannot_share_an_ops_port(stack, extra_gateway):
    """the ops port is not SO_REUSEPORT: a second process given the same
    fixed ops address fails to start instead of answering for the first"""
    a = extra_gateway()
    taken = a.child.ops_url.replace("http://", "")
    with pytest.raises(Exception):
        extra_gateway(PARLEY_OPS_ADDR=taken)
    # it fails first thing, before dialling any service (a process dying
    # right after dialling can stop nng 1.5.2's ipc listener from accepting)
    with open(os.path.join(stack.log_dir, "gateway-x%d-1.log" % os.getpid())) as f:
        log = f.read().rsplit("\n=== ", 1)[-1]     # this run only (the log is appended)
    assert "DAEMON-INIT-FAIL" in log and "what=ops_http" in log, log[-2000:]
    assert "address already in use" in log.lower(), log[-2000:]
    assert "GW-SERVICES" not in log and "KAFKA" not in log, log[-2000:]
    assert parley.Api(a.child.ops_url).session.get(
        a.child.ops_url + "/healthz", timeout=5).status_code == 200


# ---- 8. nng ipc sockets

def test_ipc_sockets_are_owner_only(stack):
    socks = glob.glob(os.path.join(stack.run_dir, "*.ipc"))
    assert socks, os.listdir(stack.run_dir)
    for p in socks:
        st = os.stat(p)
        assert stat.S_ISSOCK(st.st_mode), p
        assert stat.S_IMODE(st.st_mode) == 0o600, "%s is %o" % (p, stat.S_IMODE(st.st_mode))


# ---- 8. huge numbers from clients

HUGE = ["1e300", "-1e300", "1e999", "9223372036854775808", "9007199254740992", "41.5"]


@pytest.mark.parametrize("value", HUGE)
def test_resume_huge_last_seq_refused(stack, team, value):
    with Ws(stack.ws_url, team.token("bob")) as ws:
        ws.send('{"id":7,"type":"resume","last_seq":{"%s":%s}}' % (team.channel, value))
        r = ws.wait_event(lambda e: e.get("reply_to") == 7, what="the resume answer")
        assert r["type"] == "error" and r["error"]["code"] == "invalid_arguments", r
        # the connection is fine, and a sane resume still works
        r = ws.request({"type": "resume", "last_seq": {team.channel: 0}})
        assert r["type"] == "resumed", r


@pytest.mark.parametrize("value", HUGE)
def test_poll_huge_last_seq_refused(stack, team, api, value):
    tok = team.token("bob")
    ls = '{"%s":%s}' % (team.channel, value)
    r = api.call("events.poll", tok, check=False, last_seq=ls, timeout="0")
    assert r == {"ok": False, "error": "invalid_arguments"}, r
    cur = base64.urlsafe_b64encode(ls.encode()).rstrip(b"=").decode()
    r = api.call("events.poll", tok, check=False, cursor=cur, timeout="0")
    assert r == {"ok": False, "error": "invalid_arguments"}, r
    r = api.call("events.poll", tok, check=False, last_seq='{"%s":0}' % team.channel,
                 timeout="0")
    assert r["ok"] is True, r


def test_poll_timeout_nan_refused(stack, team, api):
    for t in ("nan", "NaN", "-nan"):
        r = api.call("events.poll", team.token("bob"), check=False, timeout=t)
        assert r == {"ok": False, "error": "invalid_arguments"}, (t, r)
