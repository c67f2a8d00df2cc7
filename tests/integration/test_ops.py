"""Every daemon of the stack serves /healthz and /readyz (200) and /metrics
as valid Prometheus text (checked by parley.parse_prometheus)."""
import requests

import parley


def ops_targets(stack):
    """(name, base url) of every daemon; each gateway process has its own ops port"""
    return sorted(stack.ops.items())


def test_every_daemon_has_an_ops_endpoint(stack):
    names = {n for n, _ in ops_targets(stack)}
    want = {"devkafka", "presence-svc", "notify-svc", "search-indexer"}
    want |= {"message-svc-%d" % i for i in range(stack.shards)}
    want |= {"gateway-%d" % i for i in range(stack.gateways)}
    assert names == want


def test_healthz_readyz(stack):
    for name, url in ops_targets(stack):
        for path in ("/healthz", "/readyz"):
            r = requests.get(url + path, timeout=5)
            assert r.status_code == 200, "%s %s: %d %s" % (name, path, r.status_code, r.text)


def test_metrics_are_valid_prometheus_text(stack):
    for name, url in ops_targets(stack):
        r = requests.get(url + "/metrics", timeout=5)
        assert r.status_code == 200, "%s /metrics: %d" % (name, r.status_code)
        assert r.headers.get("Content-Type", "").startswith("text/plain"), (
            name, r.headers.get("Content-Type"))
        try:
            fams = parley.parse_prometheus(r.text)
        except parley.PromError as e:
            raise AssertionError("%s /metrics: %s\n%s" % (name, e, r.text[:3000]))
        assert fams, "%s /metrics is empty" % name


def test_unknown_ops_path_is_404(stack):
    for name, url in ops_targets(stack):
        if name.startswith("gateway"):
            continue        # the gateway serves the web client under /
        r = requests.get(url + "/no-such-path", timeout=5)
        assert r.status_code == 404, (name, r.status_code)
