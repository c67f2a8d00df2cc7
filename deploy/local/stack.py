#!/usr/bin/python3
"""stack.py - how Parley starts locally: one implementation for `make run`
and for the integration tests.

    Stack(base, fixed_ports=True|False, shards=2, gateways=N).start()

starts, in order and each waited for: redis-server, PostgreSQL (a cluster
under <base>/pg, run as the postgres user), devkafka, the message-svc shards,
presence-svc, notify-svc, search-indexer and the gateway process(es), which
share one HTTP port with SO_REUSEPORT. stop() stops them in reverse order and
leaves nothing running. State of a previous run that was killed (pid files,
postmaster.pid, ipc sockets, processes recorded in <base>/run/*.pid) is
cleaned up before the next start.

Layout of <base>:
    secret          PARLEY_TOKEN_SECRET (0600), generated once
    admin-token     PARLEY_ADMIN_TOKEN (0600) unless given in the environment
    seed.json       demo ids and tokens (make run only, see seed())
    stack.json      the running stack: ports, urls (ops: every daemon's and every
                    gateway process's ops url), pids (for tools)
    pg/             the PostgreSQL cluster (owned by postgres)
    pgsock/         its unix socket directory
    redis/          redis-server's working directory (no persistence)
    run/            pid files, port files (gateway-<k>.port the shared client port,
                    gateway-<k>.ops.port that process's ops port), nng ipc
                    sockets (0600), kafka bootstrap file
    log/            one log per process (<name>.log)

Command line (make run uses `run`):
    stack.py run  [--base DIR] [--gateways N] [--free-ports] [--no-seed]
    stack.py stop [--base DIR]      stop whatever a killed run left behind
    stack.py seed [--base DIR]      (re)seed a running stack

Only the standard library is needed, except psycopg (python3-psycopg) for
creating the shard databases.
"""

import argparse
import ctypes
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import lb  # noqa: E402  (PARLEY_LB=haproxy)
import supervise  # noqa: E402  (make run restarts what dies)

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PG_BIN = "/usr/lib/postgresql/15/bin"
REDIS_BIN = shutil.which("redis-server") or "/usr/bin/redis-server"

DAEMONS = ["devkafka", "message-svc", "presence-svc", "notify-svc", "search-indexer",
           "gateway"]

# the make-run port plan (docs/internals.md)
FIXED = {
    "redis": 6390,
    "postgres": 5433,
    "gateway": 8080,
    "message-svc": 9110,   # + shard index
    "presence-svc": 9120,
    "notify-svc": 9130,
    "search-indexer": 9140,
    "devkafka": 9150,
    "gateway-ops": 9160,   # + gateway process index: each process's own ops port
}

NOTIFY_DB = "parley_notify"     # notify-svc's own database (never a shard's)
READY_TIMEOUT = float(os.environ.get("PARLEY_STACK_READY_TIMEOUT", "60"))


class StackError(Exception):
    pass


def log(msg):
    sys.stderr.write("stack: %s\n" % msg)
    sys.stderr.flush()


def free_port():
    """a port nobody listens on right now (there is a small race; callers retry)"""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(cond, timeout, what, interval=0.05):
    """call cond() until it returns a true value or timeout seconds pass"""
    deadline = time.monotonic() + timeout
    while True:
        v = cond()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise StackError("timed out after %.0fs waiting for %s" % (timeout, what))
        time.sleep(interval)


def http_get(url, timeout=2.0, headers=None):
    """(status, body) or (None, error text) when nothing answered"""
    req = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError) as e:
        return None, str(e)


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie is not alive for our purposes
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def pid_exe(pid):
    try:
        return os.readlink("/proc/%d/exe" % pid)
    except OSError:
        return ""


def tail(path, lines=40):
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            data = f.read().decode("utf-8", "replace")
    except OSError as e:
        return "(no log: %s)" % e
    return "\n".join(data.splitlines()[-lines:])


def read_int_file(path):
    try:
        with open(path) as f:
            return int(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def write_private(path, text):
    tmp = path + ".tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)


def secret_file(path, nbytes=32):
    """the value in path, or a new random hex value written there once (0600)"""
    try:
        with open(path) as f:
            v = f.read().strip()
        if v:
            return v
    except FileNotFoundError:
        pass
    v = secrets.token_hex(nbytes)
    write_private(path, v + "\n")
    return v


def _deathsig():
    """child side of Popen: own session; SIGTERM when stack.py dies"""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM, 0, 0, 0)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def make_traversable(path):
    """chmod o+x path and every parent, so the postgres user can reach it"""
    p = os.path.abspath(path)
    while True:
        st = os.stat(p)
        if not st.st_mode & 0o001:
            os.chmod(p, st.st_mode | 0o001)
        if p == "/":
            break
        p = os.path.dirname(p)


class Child:
    """one process of the stack"""

    def __init__(self, name, argv, env, stack, ops_url=None, port_file=None):
        self.name = name
        self.argv = argv
        self.env = env
        self.stack = stack
        self.log_path = os.path.join(stack.log_dir, name + ".log")
        self.pid_path = os.path.join(stack.run_dir, name + ".pid")
        self.port_file = port_file
        self.ops_url = ops_url
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid if self.proc else None

    def start(self):
        if self.port_file:
            try:
                os.unlink(self.port_file)
            except FileNotFoundError:
                pass
        logf = open(self.log_path, "ab")
        logf.write(("=== %s start %s: %s\n" % (
            time.strftime("%Y-%m-%dT%H:%M:%S"), self.name, " ".join(self.argv))).encode())
        logf.flush()
        try:
            self.proc = subprocess.Popen(
                self.argv, env=self.env, stdin=subprocess.DEVNULL, stdout=logf,
                stderr=subprocess.STDOUT, cwd=self.stack.repo, start_new_session=True,
                preexec_fn=_deathsig, close_fds=True)
        finally:
            logf.close()
        with open(self.pid_path, "w") as f:
            f.write("%d\n" % self.proc.pid)

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def check_alive(self):
        if not self.alive():
            raise StackError("%s exited (status %s)\n--- %s (tail) ---\n%s" % (
                self.name, self.proc.returncode if self.proc else "?", self.log_path,
                tail(self.log_path)))

    def bound_port(self, timeout):
        """the port the process wrote to its port file"""
        def ready():
            self.check_alive()
            return read_int_file(self.port_file)
        return wait_until(ready, timeout, "%s to write %s" % (self.name, self.port_file))

    def wait_ready(self, timeout, consecutive=1, url=None):
        """until /readyz (of url, default the ops url) answers 200
        consecutive times in a row"""
        state = {"ok": 0, "last": None}

        def ready():
            self.check_alive()
            status, body = http_get((url or self.ops_url) + "/readyz", timeout=1.0)
            state["last"] = (status, body.strip()[:300])
            state["ok"] = state["ok"] + 1 if status == 200 else 0
            return state["ok"] >= consecutive
        try:
            wait_until(ready, timeout, "%s /readyz" % self.name, interval=0.1)
        except StackError as e:
            raise StackError("%s; last answer %r\n--- %s (tail) ---\n%s" % (
                e, state["last"], self.log_path, tail(self.log_path)))

    def signal(self, sig):
        if self.alive():
            try:
                os.kill(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def reap(self, timeout):
        if self.proc is None:
            return True
        try:
            self.proc.wait(timeout=max(0.0, timeout))
            return True
        except subprocess.TimeoutExpired:
            return False

    def forget(self):
        try:
            os.unlink(self.pid_path)
        except FileNotFoundError:
            pass


class Stack:
    """the local Parley stack under one base directory"""

    def __init__(self, base, fixed_ports=False, shards=2, gateways=2, bin_dir=None,
                 repo=REPO, admin_token=None, log_level="info", extra_env=None,
                 inherit_parley_env=False, pg_durable=None, ready_timeout=READY_TIMEOUT,
                 reset_db=False, lb=None):
        self.repo = repo
        self.base = os.path.abspath(base)
        self.bin_dir = bin_dir or os.path.join(repo, "build", "bin")
        self.fixed_ports = fixed_ports
        self.shards = shards
        self.gateways = gateways
        self.log_level = log_level
        self.extra_env = dict(extra_env or {})
        self.inherit_parley_env = inherit_parley_env
        self.pg_durable = fixed_ports if pg_durable is None else pg_durable
        self.ready_timeout = ready_timeout
        self.reset_db = reset_db    # drop the shard databases before the daemons start
        self.lb = lb                # "haproxy": gateways on their own ports behind it (lb.py)
        self.restarts = {}          # name -> restarts by the supervisor (supervise.py)
        self.run_dir = os.path.join(self.base, "run")
        self.log_dir = os.path.join(self.base, "log")
        self.pg_dir = os.path.join(self.base, "pg")
        self.pg_sock = os.path.join(self.base, "pgsock")
        self.redis_dir = os.path.join(self.base, "redis")
        self.brokers_file = os.path.join(self.run_dir, "kafka.brokers")
        self._admin_token_arg = admin_token
        self.children = []        # started, in start order
        self.pg_started = False
        self.pg_pid = None
        self.redis_port = None
        self.pg_port = None
        self.http_port = None
        self.ops = {}             # name -> ops base url
        self.admin_token = None
        self.token_secret = None

    # ---- paths and addresses

    @property
    def http_url(self):
        return "http://127.0.0.1:%d" % self.http_port

    @property
    def ws_url(self):
        return "ws://127.0.0.1:%d/ws" % self.http_port

    @property
    def redis_addr(self):
        return "127.0.0.1:%d" % self.redis_port

    def notify_dsn(self):
        return "host=127.0.0.1 port=%d user=postgres dbname=%s" % (self.pg_port, NOTIFY_DB)

    def dsn(self, shard):
        return "host=127.0.0.1 port=%d user=postgres dbname=parley_shard_%d" % (
            self.pg_port, shard)

    def binary(self, name):
        return os.path.join(self.bin_dir, name)

    def pids(self):
        """every pid the stack started (including the postmaster)"""
        p = {c.name: c.pid for c in self.children if c.pid}
        if self.pg_pid:
            p["postgres"] = self.pg_pid
        return p

    def log_paths(self):
        paths = {c.name: c.log_path for c in self.children}
        paths["postgres"] = os.path.join(self.log_dir, "postgres.log")
        return paths

    # ---- start

    def start(self):
        for d in (self.base, self.run_dir, self.log_dir, self.redis_dir):
            os.makedirs(d, exist_ok=True)
        missing = [n for n in DAEMONS if not os.access(self.binary(n), os.X_OK)]
        if missing:
            raise StackError("missing binaries in %s: %s (run make)" % (
                self.bin_dir, ", ".join(missing)))
        self.cleanup_stale()
        self.token_secret = secret_file(os.path.join(self.base, "secret"))
        self.admin_token = (self._admin_token_arg or os.environ.get("PARLEY_ADMIN_TOKEN")
                            or secret_file(os.path.join(self.base, "admin-token")))
        try:
            t0 = time.monotonic()
            self._start_redis()
            self._start_postgres()
            self._start_daemons()
            self._write_state()
            log("all %d processes ready in %.1fs" % (
                len(self.children) + 1, time.monotonic() - t0))
        except BaseException:
            self.stop()
            raise
        return self

    def _retry_port(self, what, fn):
        """fn(port) with a fixed port, or up to 3 free ports in a row"""
        if self.fixed_ports:
            return fn(FIXED[what])
        err = None
        for _ in range(3):
            try:
                return fn(free_port())
            except StackError as e:
                err = e
                log("%s failed to start, trying another port" % what)
        raise err

    def _start_redis(self):
        def attempt(port):
            c = Child("redis", [REDIS_BIN, "--bind", "127.0.0.1", "--port", str(port),
                                "--save", "", "--appendonly", "no", "--dir", self.redis_dir,
                                "--protected-mode", "yes", "--daemonize", "no",
                                "--logfile", ""], self._base_env(), self)
            c.start()
            self.children.append(c)
            try:
                wait_until(lambda: c.check_alive() or self._redis_ping(port), 15,
                           "redis PING on port %d" % port)
            except StackError:
                c.signal(signal.SIGKILL)
                c.reap(5)
                c.forget()
                self.children.remove(c)
                raise StackError("redis did not start:\n" + tail(c.log_path))
            self.redis_port = port
        self._retry_port("redis", attempt)

    @staticmethod
    def _redis_ping(port):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
                s.sendall(b"PING\r\n")
                return s.recv(64).startswith(b"+PONG")
        except OSError:
            return False

    def _pg(self, *args, check=True):
        return subprocess.run(["runuser", "-u", "postgres", "--"] + list(args),
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=120, check=check)

    def _start_postgres(self):
        make_traversable(self.base)
        for d in (self.pg_sock,):
            os.makedirs(d, exist_ok=True)
            shutil.chown(d, "postgres", "postgres")
        logpath = os.path.join(self.log_dir, "postgres.log")
        if not os.path.exists(logpath):
            open(logpath, "a").close()
        shutil.chown(logpath, "postgres", "postgres")
        if not os.path.exists(os.path.join(self.pg_dir, "PG_VERSION")):
            if os.path.isdir(self.pg_dir):
                shutil.rmtree(self.pg_dir)   # a half-made cluster from a killed initdb
            os.makedirs(self.pg_dir, mode=0o700)
            shutil.chown(self.pg_dir, "postgres", "postgres")
            log("initdb %s" % self.pg_dir)
            r = self._pg(PG_BIN + "/initdb", "-D", self.pg_dir, "-A", "trust", "-U",
                         "postgres", "-E", "UTF8", "--locale=C", "--no-sync", check=False)
            if r.returncode != 0:
                raise StackError("initdb failed:\n%s%s" % (r.stdout, r.stderr))

        def attempt(port):
            opts = ["-c listen_addresses=127.0.0.1", "-c port=%d" % port,
                    "-c unix_socket_directories=%s" % self.pg_sock,
                    "-c max_connections=200", "-c shared_buffers=256MB",
                    # message-svc's persisters write ~1 KB of heap, index and
                    # WAL per message: with 64 MB the backends evicted dirty
                    # pages themselves (perf: a tenth of their time in write())
                    "-c wal_buffers=16MB"]
            if not self.pg_durable:
                opts += ["-c fsync=off", "-c synchronous_commit=off",
                         "-c full_page_writes=off"]
            r = self._pg(PG_BIN + "/pg_ctl", "-D", self.pg_dir, "-l", logpath, "-w",
                         "-t", "60", "-o", " ".join(opts), "start", check=False)
            if r.returncode != 0:
                raise StackError("pg_ctl start failed (port %d):\n%s%s\n--- %s ---\n%s" % (
                    port, r.stdout, r.stderr, logpath, tail(logpath)))
            self.pg_port = port
        self._retry_port("postgres", attempt)
        self.pg_started = True
        self.pg_pid = read_int_file(os.path.join(self.pg_dir, "postmaster.pid"))
        self._create_databases()

    def _create_databases(self):
        import psycopg
        with psycopg.connect("host=127.0.0.1 port=%d user=postgres dbname=postgres" %
                             self.pg_port, autocommit=True, connect_timeout=10) as conn:
            for i in range(self.shards):
                name = "parley_shard_%d" % i
                if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                                (name,)).fetchone() is None:
                    conn.execute("CREATE DATABASE %s" % name)
            # search-indexer's own database (its index and offsets)
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = 'parley_search'"
                            ).fetchone() is None:
                conn.execute("CREATE DATABASE parley_search")
            # notify-svc's own database (counts, markers, push queue, offsets)
            if conn.execute("SELECT 1 FROM pg_database WHERE datname = %s",
                            (NOTIFY_DB,)).fetchone() is None:
                conn.execute("CREATE DATABASE %s" % NOTIFY_DB)
        if self.reset_db:
            log("PARLEY_RESET=1: dropping the shard databases and seed.json")
            reset(self)

    def _base_env(self):
        env = {k: v for k, v in os.environ.items()
               if self.inherit_parley_env or not k.startswith("PARLEY_")}
        return env

    def _daemon_env(self, name, ops_port):
        env = self._base_env()
        env.setdefault("PARLEY_LOG_LEVEL", self.log_level)
        env.update(self.extra_env)
        env.update({
            "PARLEY_OPS_ADDR": "127.0.0.1:%d" % ops_port,
            "PARLEY_OPS_PORT_FILE": os.path.join(self.run_dir, name + ".port"),
            "PARLEY_RUN_DIR": self.run_dir,
            "PARLEY_KAFKA_BROKERS_FILE": self.brokers_file,
            "PARLEY_REDIS_ADDR": self.redis_addr,
            "PARLEY_PG_DIRECTORY_DSN": self.dsn(0),
            "PARLEY_SHARD_COUNT": str(self.shards),
            "PARLEY_TOKEN_SECRET": self.token_secret,
            "PARLEY_ADMIN_TOKEN": self.admin_token,
            "PARLEY_WEB_DIR": os.path.join(self.repo, "web"),
        })
        # PARLEY_KAFKA_BROKERS would override the file, the *_FILE secrets the
        # values above: never inherit them
        for k in ("PARLEY_KAFKA_BROKERS", "PARLEY_TOKEN_SECRET_FILE",
                  "PARLEY_ADMIN_TOKEN_FILE"):
            env.pop(k, None)
        return env

    def _ops_port(self, name, shard=0):
        return FIXED[name] + shard if self.fixed_ports else 0

    def _start_ops_daemon(self, name, binary, env_more=None, shard=None):
        env = self._daemon_env(name, self._ops_port(binary, shard or 0))
        env.update(env_more or {})
        c = Child(name, [self.binary(binary)], env, self,
                  port_file=env["PARLEY_OPS_PORT_FILE"])
        c.start()
        self.children.append(c)
        port = c.bound_port(self.ready_timeout)
        c.ops_url = "http://127.0.0.1:%d" % port
        self.ops[name] = c.ops_url
        c.wait_ready(self.ready_timeout)
        return c

    def _start_daemons(self):
        try:
            os.unlink(self.brokers_file)
        except FileNotFoundError:
            pass
        kafka = self._start_ops_daemon("devkafka", "devkafka")
        wait_until(lambda: kafka.check_alive() or
                   (os.path.exists(self.brokers_file) and
                    open(self.brokers_file).read().strip()),
                   self.ready_timeout, "devkafka bootstrap file %s" % self.brokers_file)
        for i in range(self.shards):
            self._start_ops_daemon("message-svc-%d" % i, "message-svc", {
                "PARLEY_SHARD_INDEX": str(i),
                "PARLEY_PG_DSN": self.dsn(i),
            }, shard=i)
        for name in ("presence-svc", "notify-svc"):
            self._start_ops_daemon(name, name, {"PARLEY_PG_DSN": self.dsn(0),
                                                "PARLEY_NOTIFY_PG_DSN": self.notify_dsn()})
        self._start_ops_daemon("search-indexer", "search-indexer", {
            "PARLEY_PG_DSN": self.dsn(0).replace("parley_shard_0", "parley_search")})
        self._start_gateways()

    def _start_gateways(self):
        """gateway-0 binds (port 0 in tests), the others share its port
        (SO_REUSEPORT). Each process also has its own ops port (/metrics,
        /healthz, /readyz of that process: FIXED["gateway-ops"] + k, or a
        free one) in run/gateway-<k>.ops.port, recorded in self.ops. Through
        the shared port a request reaches any of them, so after each new one,
        the shared port's /readyz must answer 200 several times in a row on
        fresh connections (spread over all listeners by the kernel's hash)."""
        port = FIXED["gateway"] if self.fixed_ports else 0
        own_ports = []             # PARLEY_LB: each gateway on its own port
        for k in range(self.gateways):
            name = "gateway-%d" % k
            if self.lb:
                port = lb.gateway_port(self, k)
            env = self._daemon_env(name, FIXED["gateway-ops"] + k if self.fixed_ports else 0)
            env["PARLEY_OPS_PORT_FILE"] = os.path.join(self.run_dir, name + ".ops.port")
            env["PARLEY_HTTP_ADDR"] = "127.0.0.1:%d" % port
            env["PARLEY_HTTP_PORT_FILE"] = os.path.join(self.run_dir, name + ".port")
            env["PARLEY_GATEWAY_ID"] = name
            if self.lb:
                env.update(lb.GATEWAY_ENV)     # haproxy's PROXY header (lb.py)
            c = Child(name, [self.binary("gateway")], env, self,
                      port_file=env["PARLEY_OPS_PORT_FILE"])
            c.start()
            self.children.append(c)
            # the ops port file is written after the client port is bound
            ops_port = c.bound_port(self.ready_timeout)
            port = read_int_file(env["PARLEY_HTTP_PORT_FILE"])
            c.ops_url = "http://127.0.0.1:%d" % ops_port
            self.ops[name] = c.ops_url
            own_ports.append(port)
            c.wait_ready(self.ready_timeout)
            c.wait_ready(self.ready_timeout, consecutive=1 if k == 0 or self.lb else 12,
                         url="http://127.0.0.1:%d" % port)
        self.http_port = lb.start(self, own_ports, sys.modules[__name__]) if self.lb else port

    def _write_state(self):
        state = {
            "base": self.base, "http_url": self.http_url, "ws_url": self.ws_url,
            "redis_addr": self.redis_addr, "pg_port": self.pg_port,
            "dsn": [self.dsn(i) for i in range(self.shards)],
            "ops": self.ops, "pids": self.pids(), "logs": self.log_paths(),
            "restarts": self.restarts, "lb": self.lb,
        }
        tmp = os.path.join(self.base, "stack.json.tmp")
        with open(tmp, "w") as f:
            json.dump(state, f, indent=2)
        os.replace(tmp, os.path.join(self.base, "stack.json"))

    # ---- health while running

    def dead_children(self):
        return [c for c in self.children if not c.alive()]

    # ---- stop

    def stop(self, timeout=15.0):
        """SIGTERM in reverse start order (each given its share of the time),
        SIGKILL what is left, then stop PostgreSQL. Idempotent."""
        for c in reversed(self.children):
            if c.alive():
                c.signal(signal.SIGTERM)
                if not c.reap(timeout):
                    log("%s did not stop in %.0fs: SIGKILL" % (c.name, timeout))
                    c.signal(signal.SIGKILL)
                    c.reap(5)
            c.reap(0)
            c.forget()
        if self.pg_started:
            r = self._pg(PG_BIN + "/pg_ctl", "-D", self.pg_dir, "stop", "-m", "fast",
                         "-w", "-t", "30", check=False)
            if r.returncode != 0 and self.pg_pid and pid_alive(self.pg_pid):
                log("pg_ctl stop failed: SIGKILL postmaster %d" % self.pg_pid)
                os.kill(self.pg_pid, signal.SIGKILL)
            self.pg_started = False
        try:
            os.unlink(os.path.join(self.base, "stack.json"))
        except FileNotFoundError:
            pass

    def cleanup_stale(self):
        """stop what a killed earlier run left behind: processes named in
        run/*.pid that still run one of our binaries, a postmaster of our
        cluster, and the ipc sockets and port files they left"""
        ours = {os.path.realpath(self.binary(n)) for n in DAEMONS}
        ours.add(os.path.realpath(REDIS_BIN))
        victims = []
        if os.path.isdir(self.run_dir):
            for fn in os.listdir(self.run_dir):
                if not fn.endswith(".pid"):
                    continue
                pid = read_int_file(os.path.join(self.run_dir, fn))
                # a rebuilt binary shows as "<path> (deleted)"; a pid reused
                # by some other program is left alone
                exe = pid_exe(pid).replace(" (deleted)", "") if pid else ""
                if pid and pid_alive(pid) and os.path.realpath(exe) in ours:
                    victims.append((fn[:-4], pid))
                os.unlink(os.path.join(self.run_dir, fn))
        for name, pid in victims:
            log("stopping %s (pid %d) left by an earlier run" % (name, pid))
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 10
        for name, pid in victims:
            while pid_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)
            if pid_alive(pid):
                os.kill(pid, signal.SIGKILL)
        pm = os.path.join(self.pg_dir, "postmaster.pid")
        pid = read_int_file(pm)
        if pid:
            if pid_alive(pid) and os.path.basename(pid_exe(pid)) == "postgres":
                log("stopping PostgreSQL (pid %d) left by an earlier run" % pid)
                self._pg(PG_BIN + "/pg_ctl", "-D", self.pg_dir, "stop", "-m", "fast",
                         "-w", "-t", "30", check=False)
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
            elif os.path.exists(pm):
                os.unlink(pm)      # stale: postgres would refuse a reused pid
        for d in (self.run_dir, self.pg_sock):
            if not os.path.isdir(d):
                continue
            for fn in os.listdir(d):
                if fn.endswith((".ipc", ".port", ".tmp")) or fn.startswith(".s.PGSQL"):
                    try:
                        os.unlink(os.path.join(d, fn))
                    except OSError:
                        pass


# ---- seeding (make run)

class SeedError(StackError):
    pass


def api(base_url, method, token, timeout=10, **params):
    """call /api/<method> (form POST) and return the decoded JSON answer"""
    data = urllib.parse.urlencode(params).encode()
    req = urllib.request.Request("%s/api/%s" % (base_url, method), data=data, headers={
        "Authorization": "Bearer " + token,
        "Content-Type": "application/x-www-form-urlencoded"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        body = e.read()
        if e.code != 200:
            raise SeedError("%s: HTTP %d %s" % (method, e.code, body[:200]))
    try:
        return json.loads(body)
    except ValueError:
        raise SeedError("%s: not JSON: %r" % (method, body[:200]))


DEMO_USERS = ["alice", "bob", "carol"]
DEMO_CHANNELS = ["general", "random"]


def seed(stack_url, admin_token, path):
    """create team acme (which comes with #general, joined by every new user),
    users alice (a team admin)/bob/carol and #random (created by alice,
    everyone a member), or verify what seed.json says.
    seed.json is written after every step, so an interrupted seed resumes."""
    try:
        with open(path) as f:
            s = json.load(f)
    except FileNotFoundError:
        s = {}
    except ValueError:
        raise SeedError("%s is not valid JSON; fix or delete it" % path)

    def save():
        write_private(path, json.dumps(s, indent=2) + "\n")

    def lost(what):
        return SeedError(
            "%s already exists in the directory but %s has no record of it, and its "
            "token cannot be recovered. Restore %s, or start from scratch with "
            "`make run PARLEY_RESET=1` (drops the demo databases). See "
            "docs/operations.md." % (what, path, path))

    team = s.get("team")
    if not team:
        r = api(stack_url, "admin.teams.create", admin_token, name="acme")
        if not r.get("ok"):
            if r.get("error") == "name_taken":
                raise lost("team acme")
            raise SeedError("admin.teams.create: %s" % r)
        team = s["team"] = {"id": r["team"]["id"], "name": r["team"]["name"]}
        if r.get("general_channel"):
            s.setdefault("channels", {})["general"] = {"id": r["general_channel"]}
        save()
    users = s.setdefault("users", {})
    for name in DEMO_USERS:
        u = users.get(name)
        if u:
            r = api(stack_url, "auth.test", u["token"])
            if r.get("ok") and r.get("user_id") == u["id"]:
                continue
            raise SeedError("the token of %s in %s no longer authenticates (%s); the "
                            "directory or var/secret changed. Use `make run "
                            "PARLEY_RESET=1`." % (name, path, r.get("error", r)))
        r = api(stack_url, "admin.users.create", admin_token, team_id=team["id"], name=name,
                is_admin="true" if name == "alice" else "false")
        if not r.get("ok"):
            if r.get("error") == "name_taken":
                raise lost("user %s" % name)
            raise SeedError("admin.users.create %s: %s" % (name, r))
        users[name] = {"id": r["user"]["id"], "token": r["token"]}
        save()
    alice = users["alice"]["token"]
    chans = s.setdefault("channels", {})
    for name in DEMO_CHANNELS:
        if name not in chans:
            r = api(stack_url, "conversations.create", alice, name=name)
            if r.get("ok"):
                chans[name] = {"id": r["channel"]["id"]}
            elif r.get("error") == "name_taken":
                # created by an interrupted seed: alice created it, so she sees it
                found = _find_channel(stack_url, alice, name)
                if not found:
                    raise SeedError("#%s exists but alice cannot find it" % name)
                chans[name] = {"id": found}
            else:
                raise SeedError("conversations.create #%s: %s" % (name, r))
            save()
        cid = chans[name]["id"]
        others = ",".join(users[n]["id"] for n in DEMO_USERS if n != "alice")
        r = api(stack_url, "conversations.invite", alice, channel=cid, users=others)
        if not r.get("ok") and r.get("error") != "already_in_channel":
            raise SeedError("conversations.invite #%s: %s" % (name, r))
    return s


def _find_channel(stack_url, token, name):
    cursor = ""
    for _ in range(100):
        r = api(stack_url, "conversations.list", token, limit=200, cursor=cursor)
        if not r.get("ok"):
            return None
        for ch in r.get("channels", []):
            if ch.get("name") == name:
                return ch["id"]
        cursor = (r.get("response_metadata") or {}).get("next_cursor") or ""
        if not cursor:
            return None
    return None


def banner(stack, s):
    u = s["users"]
    gen = s["channels"]["general"]["id"]
    lines = [
        "",
        "Parley is running (%d gateway process%s, %d message-svc shards)." % (
            stack.gateways, "" if stack.gateways == 1 else "es", stack.shards),
        "",
        "  open        %s/" % stack.http_url,
        "  websocket   %s?token=<token>" % stack.ws_url,
        "  web api     %s/api/<method>" % stack.http_url,
        "  admin token %s   (var/admin-token or PARLEY_ADMIN_TOKEN)" % stack.admin_token,
        "",
        "  team acme %s   #general %s   #random %s" % (
            s["team"]["id"], gen, s["channels"]["random"]["id"]),
    ]
    for name in DEMO_USERS:
        lines.append("  %-6s %-12s token %s" % (name, u[name]["id"], u[name]["token"]))
    lines += ["", "Open the web client signed in as:"]
    for name in DEMO_USERS:
        lines.append("  %-6s %s/?token=%s" % (name, stack.http_url, u[name]["token"]))
    lines += [
        "",
        "Try it:",
        "  curl -s -H 'Authorization: Bearer %s' %s/api/auth.test" % (
            u["alice"]["token"], stack.http_url),
        "  curl -s -H 'Authorization: Bearer %s' -d channel=%s -d text=hello %s/api/chat.postMessage" % (
            u["alice"]["token"], gen, stack.http_url),
        "  /usr/bin/python3 deploy/local/wsclient.py '%s?token=%s'" % (
            stack.ws_url, u["bob"]["token"]),
        "      then type: {\"id\":1,\"type\":\"message\",\"channel\":\"%s\",\"text\":\"hi\"}" % gen,
        "",
        "Logs in %s/, ops (/metrics, /healthz, /readyz): %s" % (stack.log_dir, ", ".join(
            "%s %s" % (k, v) for k, v in stack.ops.items())),
        "Ctrl-C stops everything.",
        "",
    ]
    print("\n".join(lines), flush=True)


def reset(stack):
    """PARLEY_RESET=1: drop the shard databases and seed.json before seeding"""
    import psycopg
    with psycopg.connect("host=127.0.0.1 port=%d user=postgres dbname=postgres" %
                         stack.pg_port, autocommit=True) as conn:
        for i in range(stack.shards):
            conn.execute("DROP DATABASE IF EXISTS parley_shard_%d WITH (FORCE)" % i)
            conn.execute("CREATE DATABASE parley_shard_%d" % i)
        conn.execute("DROP DATABASE IF EXISTS parley_search WITH (FORCE)")
        conn.execute("CREATE DATABASE parley_search")
        conn.execute("DROP DATABASE IF EXISTS %s WITH (FORCE)" % NOTIFY_DB)
        conn.execute("CREATE DATABASE %s" % NOTIFY_DB)
    try:
        os.unlink(os.path.join(stack.base, "seed.json"))
    except FileNotFoundError:
        pass


# ---- command line

class Terminated(Exception):
    pass


def _on_term(signum, frame):
    raise Terminated()


def cmd_run(args):
    lb_mode = os.environ.get("PARLEY_LB") or None
    if lb_mode not in (None, "haproxy"):
        log("ERROR: PARLEY_LB=%s: the only load balancer is haproxy" % lb_mode)
        return 1
    gateways = args.gateways or int(os.environ.get("PARLEY_GATEWAY_PROCS") or 0) \
        or (lb.GATEWAYS if lb_mode else os.cpu_count() or 1)
    st = Stack(args.base, fixed_ports=not args.free_ports, shards=args.shards,
               gateways=gateways, inherit_parley_env=True, bin_dir=args.bin_dir,
               log_level=os.environ.get("PARLEY_LOG_LEVEL", "info"),
               reset_db=os.environ.get("PARLEY_RESET") == "1", lb=lb_mode)
    # SIGINT explicitly: a shell starts background jobs with SIGINT ignored
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, _on_term)
    rc = 0
    try:
        st.start()
        if not args.no_seed:
            s = seed(st.http_url, st.admin_token, os.path.join(st.base, "seed.json"))
            banner(st, s)
        sup = supervise.Supervisor(st, log=log)
        while True:
            for c in st.dead_children():
                if c.name not in sup.pending:
                    log("WARNING: %s exited (status %s); restarting it\n%s" % (
                        c.name, c.proc.returncode, tail(c.log_path, 20)))
            sup.poll()
            time.sleep(0.2)
    except (KeyboardInterrupt, Terminated):
        log("stopping")
    except StackError as e:
        log("ERROR: %s" % e)
        rc = 1
    finally:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        pids = st.pids()
        st.stop()
        left = {n: p for n, p in pids.items() if pid_alive(p)}
        if left:
            log("ERROR: still running after stop: %s" % left)
            rc = 1
        else:
            log("stopped; nothing left running")
    return rc


def cmd_stop(args):
    st = Stack(args.base, fixed_ports=True)
    st.cleanup_stale()
    return 0


def cmd_seed(args):
    with open(os.path.join(os.path.abspath(args.base), "stack.json")) as f:
        state = json.load(f)
    admin = os.environ.get("PARLEY_ADMIN_TOKEN") or open(
        os.path.join(args.base, "admin-token")).read().strip()
    s = seed(state["http_url"], admin, os.path.join(args.base, "seed.json"))
    print(json.dumps(s, indent=2))
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(description="the local Parley stack")
    p.add_argument("command", choices=["run", "stop", "seed"])
    p.add_argument("--base", default=os.path.join(REPO, "var"))
    p.add_argument("--gateways", type=int, default=0,
                   help="gateway processes (default PARLEY_GATEWAY_PROCS or one per core)")
    p.add_argument("--shards", type=int, default=2)
    p.add_argument("--free-ports", action="store_true",
                   help="use free ports instead of the make-run port plan")
    p.add_argument("--no-seed", action="store_true")
    p.add_argument("--bin-dir", default=os.environ.get("PARLEY_BIN_DIR"),
                   help="where the binaries are (default build/bin; build/asan/bin "
                        "for the sanitizer build)")
    args = p.parse_args(argv)
    return {"run": cmd_run, "stop": cmd_stop, "seed": cmd_seed}[args.command](args)


if __name__ == "__main__":
    sys.exit(main())
