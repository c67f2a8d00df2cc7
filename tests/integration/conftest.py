"""conftest.py - the integration test harness.

The session-scoped `stack` fixture starts the real thing through
deploy/local/stack.py (the same code as `make run`): Redis, PostgreSQL,
devkafka, 2 message-svc shards, presence-svc, notify-svc, search-indexer and 2
gateway processes sharing one port, all on free ports in a temporary
directory. The binaries must already be built (build/bin, `make`).

Other fixtures: `api` (Web API client), `team` (a fresh provisioned team with
alice, bob and carol in one channel), `new_stack` (a factory for a private
stack, stopped at the end of the test).

When a test fails, the tails of the daemons' logs are attached to its report.
PARLEY_TEST_KEEP=1 keeps the temporary directory for a look afterwards.
"""

import os
import shutil
import sys
import tempfile

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(REPO, "deploy", "local"))
sys.path.insert(0, HERE)

import stack as stackmod  # noqa: E402
import parley  # noqa: E402

BIN = os.environ.get("PARLEY_BIN_DIR", os.path.join(REPO, "build", "bin"))
DAEMONS = ["gateway", "message-svc", "presence-svc", "notify-svc", "search-indexer",
           "devkafka"]

# every stack started by a fixture, for the failure report
_live_stacks = []

# settings for tests that are not about the limits they set
TEST_ENV = {
    "PARLEY_RATE_LIMITS": "0",
    "PARLEY_DRAIN_MS": "2000",
}


def _tmpdir(prefix):
    d = tempfile.mkdtemp(prefix=prefix, dir=os.environ.get("PARLEY_TEST_TMP", "/tmp"))
    os.chmod(d, 0o755)          # the postgres user must traverse it
    return d


def start_stack(prefix="parley-it-", **kw):
    base = _tmpdir(prefix)
    opts = dict(fixed_ports=False, shards=2, gateways=2, bin_dir=BIN,
                admin_token="test-admin-" + os.path.basename(base),
                log_level=os.environ.get("PARLEY_TEST_LOG_LEVEL", "info"),
                extra_env=dict(TEST_ENV), pg_durable=False)
    opts.update(kw)
    st = stackmod.Stack(base, **opts)
    _live_stacks.append(st)
    try:
        st.start()
    except BaseException:
        _live_stacks.remove(st)
        _remove(st)
        raise
    return st


def stop_stack(st):
    try:
        st.stop()
    finally:
        if st in _live_stacks:
            _live_stacks.remove(st)
        _remove(st)


def _remove(st):
    if os.environ.get("PARLEY_TEST_KEEP") == "1":
        sys.stderr.write("\nkept %s\n" % st.base)
        return
    shutil.rmtree(st.base, ignore_errors=True)


@pytest.fixture(scope="session")
def stack():
    missing = [d for d in DAEMONS if not os.access(os.path.join(BIN, d), os.X_OK)]
    if missing:
        pytest.fail("binaries missing in %s: %s (run make first)" % (BIN, ", ".join(missing)),
                    pytrace=False)
    try:
        st = start_stack()
    except stackmod.StackError as e:
        pytest.fail("the stack did not start:\n%s" % e, pytrace=False)
    yield st
    stop_stack(st)


@pytest.fixture
def new_stack():
    """factory: new_stack(**Stack options) -> a started private stack"""
    started = []

    def make(**kw):
        st = start_stack(prefix="parley-it-own-", **kw)
        started.append(st)
        return st
    yield make
    for st in started:
        stop_stack(st)


@pytest.fixture
def api(stack):
    return parley.Api(stack.http_url)


@pytest.fixture
def team(stack, api):
    return parley.provision(stack, api=api)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if not rep.failed or not _live_stacks:
        return
    lines = int(os.environ.get("PARLEY_TEST_LOG_LINES", "30"))
    for st in list(_live_stacks):
        state = ["%-16s pid %-7s %s" % (c.name, c.pid, "running" if c.alive() else
                                        "EXITED status %s" % c.proc.returncode)
                 for c in st.children]
        rep.sections.append(("stack processes (%s)" % st.base, "\n".join(state)))
        for name, path in sorted(st.log_paths().items()):
            rep.sections.append(("log tail %s (%s)" % (name, path),
                                 stackmod.tail(path, lines)))
