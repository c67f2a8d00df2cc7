"""Every daemon answers --help and --print-config (exit 0, lists its
PARLEY_ settings) and refuses an unknown flag. No stack needed."""
import os
import re
import subprocess

import pytest

from conftest import BIN, DAEMONS

COMMON = ["PARLEY_LOG_LEVEL", "PARLEY_OPS_ADDR", "PARLEY_OPS_PORT_FILE", "PARLEY_DRAIN_MS"]


def run(name, *args):
    path = os.path.join(BIN, name)
    if not os.access(path, os.X_OK):
        pytest.fail("%s is not built" % path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    return subprocess.run([path] + list(args), capture_output=True, text=True,
                          timeout=20, env=env, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("name", DAEMONS)
def test_help(name):
    r = run(name, "--help")
    assert r.returncode == 0, r.stderr
    out = r.stdout + r.stderr
    assert "--print-config" in out or "print-config" in out, out
    names = set(re.findall(r"PARLEY_[A-Z0-9_]+", out))
    assert len(names) >= 3, out
    for v in COMMON:
        assert v in names, "%s --help does not list %s" % (name, v)


@pytest.mark.parametrize("name", DAEMONS)
def test_print_config(name):
    r = run(name, "--print-config")
    assert r.returncode == 0, r.stderr
    lines = [l for l in r.stdout.splitlines() if l.strip()]
    pairs = [l for l in lines if re.match(r"^PARLEY_[A-Z0-9_]+=", l)]
    assert len(pairs) >= 3, r.stdout
    assert "PARLEY_LOG_LEVEL=" in r.stdout, r.stdout


@pytest.mark.parametrize("name", DAEMONS)
def test_print_config_follows_environment(name):
    env = {k: v for k, v in os.environ.items() if not k.startswith("PARLEY_")}
    env["PARLEY_LOG_LEVEL"] = "warn"
    r = subprocess.run([os.path.join(BIN, name), "--print-config"], capture_output=True,
                       text=True, timeout=20, env=env)
    assert r.returncode == 0, r.stderr
    assert "PARLEY_LOG_LEVEL=warn" in r.stdout, r.stdout


@pytest.mark.parametrize("name", DAEMONS)
def test_unknown_flag_refused(name):
    r = run(name, "--no-such-flag-xyz")
    assert r.returncode != 0
