"""test_deploy_stack.py - the local multi-instance mode as `make run` runs it
(deploy/local/stack.py run, PARLEY_LB=haproxy: two gateway processes on their
own ports behind Debian's haproxy with deploy/haproxy/haproxy.cfg, every
daemon supervised), with a real Prometheus (Debian's) running
deploy/prometheus's config and rules against it.

- alice and bob on different gateway processes through haproxy exchange
  messages;
- a gateway killed behind haproxy: its clients reconnect through haproxy and
  resume with nothing missing; the supervisor restarts it;
- a daemon killed under `make run` is restarted at its address and is ready;
- Prometheus: every target up, every rule evaluates without error, every
  metric the dashboard and the rules read is exported by some daemon (or
  listed in deploy/prometheus/pending-metrics.txt), and ParleyDaemonDown
  fires when a daemon stops answering.
"""

import glob
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import urllib.request

import pytest
import yaml

import parley
from parley import Ws, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BIN = os.environ.get("PARLEY_BIN_DIR", os.path.join(REPO, "build", "bin"))
PROM_DIR = os.path.join(REPO, "deploy", "prometheus")
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"

pytestmark = pytest.mark.skipif(not shutil.which("haproxy") and
                                not os.path.exists("/usr/sbin/haproxy"),
                                reason="haproxy not installed (deploy/packages.txt)")


def http(url, timeout=3):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except OSError as e:
        return None, str(e)


class RunStack:
    """`stack.py run` in a subprocess (what make run execs), seen through
    the stack.json it writes"""

    def __init__(self, base):
        self.base = base
        self.admin_token = "test-admin-" + os.path.basename(base)
        env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
        env.update({"PARLEY_LB": "haproxy", "PARLEY_ADMIN_TOKEN": self.admin_token,
                    "PARLEY_RATE_LIMITS": "0", "PARLEY_DRAIN_MS": "2000",
                    "PARLEY_BIN_DIR": BIN})
        self.log = open(os.path.join(base, "run.log"), "wb")
        self.proc = subprocess.Popen(
            ["/usr/bin/python3",
             os.path.join(REPO, "deploy", "local", "stack.py"), "run", "--base", base,
             "--free-ports", "--no-seed", "--bin-dir", BIN],
            env=env, stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    def state(self):
        try:
            with open(os.path.join(self.base, "stack.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def wait_started(self, timeout=120):
        def up():
            assert self.proc.poll() is None, "stack.py exited:\n" + self.run_log()
            return self.state()
        wait_for(up, timeout, "stack.json")

    def run_log(self):
        with open(os.path.join(self.base, "run.log"), "rb") as f:
            return f.read().decode("utf-8", "replace")[-4000:]

    @property
    def http_url(self):
        return self.state()["http_url"]

    @property
    def ws_url(self):
        return self.state()["ws_url"]

    def ops(self, name):
        return self.state()["ops"][name]

    def pid(self, name):
        return self.state()["pids"][name]

    def restarts(self, name):
        return self.state().get("restarts", {}).get(name, 0)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(60)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self.log.close()


@pytest.fixture(scope="module")
def lb():
    base = tempfile.mkdtemp(prefix="parley-it-lb-", dir=os.environ.get("PARLEY_TEST_TMP", "/tmp"))
    os.chmod(base, 0o755)
    st = RunStack(base)
    try:
        st.wait_started()
        yield st
    finally:
        st.stop()
        left = [p for p in (st.state() or {}).get("pids", {}).values()
                if os.path.exists("/proc/%d" % p)]
        if os.environ.get("PARLEY_TEST_KEEP") != "1":
            shutil.rmtree(base, ignore_errors=True)
        assert not left, "left running: %s" % left


def connections(lb_stack, gw):
    status, text = http(lb_stack.ops(gw) + "/metrics")
    if status != 200:
        return None
    m = re.search(r"^parley_gateway_connections (\S+)$", text, re.M)
    return int(float(m.group(1))) if m else None


def gateways(lb_stack):
    return sorted(n for n in lb_stack.state()["ops"] if n.startswith("gateway-"))


def connect_pair(lb_stack, team):
    """bob then alice through haproxy (leastconn: one on each gateway);
    returns (alice, bob, bob's gateway)"""
    gws = gateways(lb_stack)
    assert len(gws) == 2, gws
    wait_for(lambda: all(connections(lb_stack, g) == 0 for g in gws), 20,
             "both gateways idle")
    bob = Ws(lb_stack.ws_url, team.token("bob"))
    bob_gw = wait_for(lambda: next((g for g in gws if connections(lb_stack, g) == 1), None),
                      20, "bob's connection on a gateway")
    alice = Ws(lb_stack.ws_url, team.token("alice"))
    wait_for(lambda: all(connections(lb_stack, g) == 1 for g in gws), 20,
             "alice on the other gateway")
    return alice, bob, bob_gw


def _send(ws, channel, text):
    r = ws.request({"type": "message", "channel": channel, "text": text})
    assert r.get("ok") is True, r
    return r["seq"]


def _got(ws, channel):
    return [e for e in ws.events if e.get("type") == "message" and
            e.get("channel") == channel and "reply_to" not in e and "seq" in e]


def test_cross_gateway_delivery_through_haproxy(lb):
    team = parley.provision(lb)
    alice, bob, _ = connect_pair(lb, team)
    try:
        seq = _send(alice, team.channel, "hello across gateways")
        ev = bob.wait_event(lambda e: e.get("type") == "message" and e.get("seq") == seq
                            and "reply_to" not in e)
        assert ev["text"] == "hello across gateways"
        seq2 = _send(bob, team.channel, "and back")
        alice.wait_event(lambda e: e.get("seq") == seq2 and "reply_to" not in e)
    finally:
        alice.close()
        bob.close()


def test_gateway_killed_clients_reconnect_through_haproxy_and_resume(lb):
    team = parley.provision(lb)
    ch = team.channel
    alice, bob, bob_gw = connect_pair(lb, team)
    try:
        first = _send(alice, ch, "before the kill")
        bob.wait_event(lambda e: e.get("seq") == first and "reply_to" not in e)
        old_pid = lb.pid(bob_gw)
        restarts = lb.restarts(bob_gw)
        os.kill(old_pid, signal.SIGKILL)
        assert bob.wait_closed(20) is not None
        # alice's gateway lives: she keeps sending while bob is away
        missed = [_send(alice, ch, "missed %d" % i) for i in range(5)]
        # bob reconnects through haproxy (the dead server is skipped or retried)
        bob2 = wait_for(lambda: _try_ws(lb.ws_url, team.token("bob")), 30,
                        "bob reconnecting through haproxy")
        try:
            r = bob2.request({"type": "resume", "last_seq": {ch: first}})
            assert r["type"] == "resumed", r
            got = _got(bob2, ch)
            assert [e["seq"] for e in got] == missed
            assert [e["text"] for e in got] == ["missed %d" % i for i in range(5)]
            nxt = _send(alice, ch, "live again")
            bob2.wait_event(lambda e: e.get("seq") == nxt and "reply_to" not in e)
            assert [e["seq"] for e in _got(bob2, ch)] == missed + [nxt]
        finally:
            bob2.close()
        # the supervisor restarted the killed gateway at its port, ready again
        wait_for(lambda: lb.restarts(bob_gw) == restarts + 1 and lb.pid(bob_gw) != old_pid,
                 30, "%s restarted" % bob_gw)
        wait_for(lambda: http(lb.ops(bob_gw) + "/readyz")[0] == 200, 60,
                 "%s ready again" % bob_gw)
    finally:
        alice.close()
        bob.close()


def _try_ws(url, token):
    try:
        return Ws(url, token, timeout=5)
    except Exception:
        return None


def test_daemon_killed_under_make_run_is_restarted(lb):
    name = "notify-svc"
    old = lb.pid(name)
    before = lb.restarts(name)
    url = lb.ops(name)
    os.kill(old, signal.SIGKILL)
    wait_for(lambda: lb.restarts(name) == before + 1, 30, "%s restart counted" % name)
    new = lb.pid(name)
    assert new != old and os.path.exists("/proc/%d" % new)
    # at the same ops address, ready again
    wait_for(lambda: http(url + "/readyz")[0] == 200, 60, "%s /readyz" % name)
    log = lb.run_log()
    assert re.search(r"RESTART name=%s pid=%d restarts=%d" % (name, new, before + 1), log), log
    # and the whole stack still serves through haproxy
    team = parley.provision(lb)
    with Ws(lb.ws_url, team.token("alice")) as alice:
        _send(alice, team.channel, "after the restart")


# ---- the image's runtime stage

def _dockerfile_runtime_packages():
    text = open(os.path.join(REPO, "deploy", "docker", "Dockerfile")).read()
    last = text[text.rindex("\nFROM "):]
    run = re.search(r"apt-get install(.*?)rm -rf /var/lib/apt/lists", last, re.S).group(1)
    return {w for w in run.replace("\\", " ").split() if re.fullmatch(r"[a-z0-9][a-z0-9.+-]+", w)}


# loaded when present, not needed: Cyrus SASL's mechanism plugins (librdkafka
# initialises SASL, which loads whatever plugins are installed; Parley talks
# PLAINTEXT to Kafka; a deployment using SASL adds libsasl2-modules)
OPTIONAL_PACKAGES = {"libsasl2-modules", "libsasl2-modules-db"}


def test_image_runtime_stage_has_every_library_the_daemons_load(lb):
    """every shared object mapped by a running daemon (dlopen'd plugins
    included, e.g. lws's libuv event loop) comes from a package the
    Dockerfile's runtime stage installs, one of their dependencies, or the
    base image's required set"""
    runtime = _dockerfile_runtime_packages()
    deps = subprocess.run(["apt-cache", "depends", "--recurse", "--no-recommends",
                           "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
                           "--no-enhances", "--installed"] + sorted(runtime),
                          capture_output=True, text=True, timeout=60).stdout
    allowed = set(runtime)
    for line in deps.splitlines():
        m = re.match(r"\s*(?:\|?(?:Pre)?Depends: )?<?([a-z0-9][a-z0-9.+-]+)", line)
        if m:
            allowed.add(m.group(1).split(":")[0])
    required = subprocess.run(["dpkg-query", "-W", "-f=${Package} ${Priority} ${Essential}\n"],
                              capture_output=True, text=True, timeout=60).stdout
    allowed |= {ln.split()[0] for ln in required.splitlines()
                if " required " in ln + " " or ln.endswith(" yes")}
    mapped = set()
    for name, pid in lb.state()["pids"].items():
        if name in ("redis", "postgres", "haproxy"):
            continue
        with open("/proc/%d/maps" % pid) as f:
            mapped |= {ln.split()[-1] for ln in f if ".so" in ln.split()[-1]}
    missing = {}
    for so in sorted(mapped):
        # by name: with merged /usr, dpkg knows /lib/... where the process maps /usr/lib/...
        pattern = "*/%s/%s" % (os.path.basename(os.path.dirname(so)), os.path.basename(so))
        r = subprocess.run(["dpkg", "-S", pattern], capture_output=True, text=True, timeout=30)
        owners = r.stdout.splitlines()[0].rsplit(": ", 1)[0] if r.returncode == 0 else ""
        pkgs = [o.strip().split(":")[0] for o in owners.split(",") if o.strip()]
        pkg = next((p for p in pkgs if p in allowed), pkgs[0] if pkgs else None)
        if pkg is None or (pkg not in allowed and pkg not in OPTIONAL_PACKAGES):
            missing[so] = pkg
    assert not missing, missing
    assert any("evlib_uv" in so for so in mapped), "the gateway's lws libuv plugin"


# ---- Prometheus

def _targets(lb_stack):
    """file_sd targets: every process by its own ops address"""
    out = []
    for name, url in sorted(lb_stack.state()["ops"].items()):
        hostport = url.split("://", 1)[1]
        daemon = re.sub(r"-\d+$", "", name)
        labels = {"daemon": daemon, "host": name}
        if daemon == "message-svc":
            labels["shard"] = name.rsplit("-", 1)[1]
        out.append({"targets": [hostport], "labels": labels})
    return out


@pytest.fixture(scope="module")
def prom(lb):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus not installed (deploy/packages.txt)")
    d = tempfile.mkdtemp(prefix="parley-it-prom-")
    # the shipped config and rules; only the intervals (1 s, so a 30 s alert
    # fires within the test) and the targets (this stack's ports) differ
    cfg = yaml.safe_load(open(os.path.join(PROM_DIR, "prometheus.yml")))
    cfg["global"].update({"scrape_interval": "1s", "evaluation_interval": "1s",
                          "scrape_timeout": "900ms"})
    os.symlink(os.path.join(PROM_DIR, "rules"), os.path.join(d, "rules"))
    os.makedirs(os.path.join(d, "targets"))
    with open(os.path.join(d, "targets", "local.yml"), "w") as f:
        yaml.safe_dump(_targets(lb), f)
    with open(os.path.join(d, "prometheus.yml"), "w") as f:
        yaml.safe_dump(cfg, f)
    port = parley_free_port()
    log = open(os.path.join(d, "prometheus.log"), "wb")
    p = subprocess.Popen([PROMETHEUS, "--config.file=" + os.path.join(d, "prometheus.yml"),
                          "--storage.tsdb.path=" + os.path.join(d, "data"),
                          "--web.listen-address=127.0.0.1:%d" % port,
                          "--web.enable-lifecycle"],
                         stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                         cwd=d)
    url = "http://127.0.0.1:%d" % port
    try:
        wait_for(lambda: p.poll() is None and http(url + "/-/ready")[0] == 200, 60,
                 "prometheus ready")
        yield url
    finally:
        p.terminate()
        try:
            p.wait(20)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(5)
        log.close()
        shutil.rmtree(d, ignore_errors=True)


def parley_free_port():
    import socket
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def api_get(url, path):
    status, body = http(url + path, timeout=5)
    assert status == 200, (path, status, body[:300])
    j = json.loads(body)
    assert j["status"] == "success", j
    return j["data"]


def test_prometheus_scrapes_every_process_and_rules_evaluate(lb, prom):
    want = {t["labels"]["host"] for t in _targets(lb)}
    assert {"gateway-0", "gateway-1", "haproxy", "message-svc-0", "message-svc-1"} <= want

    def all_up():
        active = api_get(prom, "/api/v1/targets")["activeTargets"]
        up = {t["labels"]["host"] for t in active if t["health"] == "up"}
        return up == want and active
    active = wait_for(all_up, 60, "every target up")
    assert len(active) == len(want)

    def evaluated():
        groups = api_get(prom, "/api/v1/rules")["groups"]
        rules = [r for g in groups for r in g["rules"]]
        if not rules or any(r.get("lastEvaluation", "").startswith("0001") for r in rules):
            return None
        return rules
    rules = wait_for(evaluated, 30, "every rule evaluated once")
    bad = [(r["name"], r.get("lastError")) for r in rules if r["health"] != "ok"]
    assert not bad, bad
    shipped = sum(len(g["rules"]) for f in glob.glob(os.path.join(PROM_DIR, "rules", "*.yml"))
                  for g in yaml.safe_load(open(f))["groups"])
    assert len(rules) == shipped
    # the recording rules produce series from the live stack
    def recorded():
        r = api_get(prom, "/api/v1/query?query=parley:gateway_connections:sum_by_host")
        return {s["metric"]["host"] for s in r["result"]} == {"gateway-0", "gateway-1"}
    wait_for(recorded, 30, "parley:gateway_connections:sum_by_host for both gateways")


# identifiers in PromQL that are not metric names
_PROMQL_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "and",
                 "or", "unless", "bool", "offset", "le", "inf", "nan"}


def metric_names(expr):
    """the metric (or recording rule) names an expression reads"""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)          # strings
    e = re.sub(r"\{[^}]*\}", "", e)                        # label matchers
    e = re.sub(r"\[[^\]]*\]", "", e)                       # ranges
    e = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", "", e)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", e):
        word = m.group(0)
        rest = e[m.end():].lstrip()
        if rest.startswith("(") or word.lower() in _PROMQL_WORDS:
            continue
        if re.fullmatch(r"\d.*", word):
            continue
        names.add(word)
    return names


def exported_names(lb_stack):
    names = set()
    for name, url in lb_stack.state()["ops"].items():
        status, text = http(url + "/metrics")
        assert status == 200, (name, status)
        for line in text.splitlines():
            if line and not line.startswith("#"):
                names.add(re.match(r"[a-zA-Z_:][a-zA-Z0-9_:]*", line).group(0))
    return names


def _rules():
    recorded, alerts = {}, {}
    for f in glob.glob(os.path.join(PROM_DIR, "rules", "*.yml")):
        for g in yaml.safe_load(open(f))["groups"]:
            for r in g["rules"]:
                (recorded if "record" in r else alerts)[r.get("record") or r["alert"]] = r["expr"]
    return recorded, alerts


def _pending():
    out = {}
    path = os.path.join(PROM_DIR, "pending-metrics.txt")
    for line in open(path):
        line = line.split("#", 1)[0].strip()
        if line:
            out[line] = True
    return set(out)


def _resolve(expr, recorded, seen=()):
    """raw metric names behind expr, through recording rules"""
    out = set()
    for n in metric_names(expr):
        if n in recorded and n not in seen:
            out |= _resolve(recorded[n], recorded, seen + (n,))
        else:
            out.add(n)
    return out


def test_dashboard_and_rules_read_only_exported_metrics(lb, prom):
    # wait for traffic-driven families to exist (histograms register at start)
    exported = exported_names(lb) | {"up"}
    recorded, alerts = _rules()
    pending = _pending()
    missing = {}
    for f in glob.glob(os.path.join(REPO, "deploy", "grafana", "dashboards", "*.json")):
        for p in json.load(open(f))["panels"]:
            for t in p.get("targets", []):
                for n in _resolve(t["expr"], recorded):
                    if n not in exported:
                        missing.setdefault(n, []).append("dashboard: " + p["title"])
    for name, expr in list(alerts.items()) + list(recorded.items()):
        for n in _resolve(expr, recorded):
            if n not in exported and n not in pending:
                missing.setdefault(n, []).append("rule " + name)
    assert not missing, missing
    # a pending metric that is now exported must leave the list (and its rule
    # is then checked like the others)
    assert not (pending & exported), pending & exported


def test_daemon_down_alert_fires(lb, prom):
    """a daemon that stops answering (SIGSTOP: the supervisor sees it alive
    and leaves it, as a hung process) fires ParleyDaemonDown for it"""
    name = "search-indexer"
    pid = lb.pid(name)
    os.kill(pid, signal.SIGSTOP)
    try:
        def firing():
            alerts = api_get(prom, "/api/v1/alerts")["alerts"]
            return [a for a in alerts if a["labels"].get("alertname") == "ParleyDaemonDown"
                    and a["state"] == "firing"]
        got = wait_for(firing, 90, "ParleyDaemonDown firing", interval=0.5)
        assert [a["labels"]["host"] for a in got] == [name], got
        assert got[0]["annotations"]["runbook"] == "docs/operations.md#parleydaemondown"
    finally:
        os.kill(pid, signal.SIGCONT)
    # and it clears once the daemon answers again
    def cleared():
        alerts = api_get(prom, "/api/v1/alerts")["alerts"]
        return not [a for a in alerts if a["labels"].get("alertname") == "ParleyDaemonDown"]
    wait_for(cleared, 30, "ParleyDaemonDown resolved")
