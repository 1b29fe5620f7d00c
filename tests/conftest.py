"""conftest.py: fixtures that run the real thing.

- `pg`: a throwaway PostgreSQL started once per test session (scripts/pg.sh) in
  build/test-var/run-<pid>/pg (ROMA_TEST_VAR overrides) on a free port (ROMA_TEST_PG_PORT overrides);
  its URL carries the generated password of the role roma (TCP never trusts).
- `Stack`: one OpenROMA deployment on its own database and free ports: roma-broker, roma-api and the
  workers, real processes built in ROMA_BUILD_DIR (build/release by default; `make test` uses
  build/asan). Bootstrapped through `roma-admin bootstrap`, so it also tests the admin tool.
- `stack`: a session-wide Stack shared by the tests that do not break things; fault tests build their
  own with `make_stack()`.
"""
import itertools
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest
import requests

sys.path.insert(0, os.path.dirname(__file__))
from roma_client import RomaClient  # noqa: E402
import pg_log  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("ROMA_BUILD_DIR", "build/release"))
BIN = os.path.join(BUILD, "bin")
# Each pytest run gets its own directory and PostgreSQL port, so two runs (two developers, or a run
# beside `make run`) never share or stop each other's server.
VAR = os.environ.get("ROMA_TEST_VAR") or os.path.join(ROOT, "build", "test-var", f"run-{os.getpid()}")
PG_PORT = int(os.environ.get("ROMA_TEST_PG_PORT", "0"))
SECRET_KEY = "6f" * 32
WORKER_BINS = {"asset": "roma-asset-worker", "datasource": "roma-datasource-worker", "topic": "roma-topic-worker"}

_used_ports = set()


def free_port():
    """A TCP port free on 127.0.0.1 now and not handed out before in this session."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            p = s.getsockname()[1]
        if p not in _used_ports:
            _used_ports.add(p)
            return p


def wait_for(pred, timeout=10.0, interval=0.05, what="condition"):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = pred()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling through transient errors
            last = e
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what} (last: {last!r})")


class Proc:
    """A child process whose stderr (JSON log lines) goes to a file under build/test-var/logs."""

    def __init__(self, name, argv, env):
        os.makedirs(os.path.join(VAR, "logs"), exist_ok=True)
        self.name = name
        self.log_path = os.path.join(VAR, "logs", f"{name}.log")
        self.log = open(self.log_path, "ab")
        self.p = subprocess.Popen(argv, env=env, stdout=self.log, stderr=self.log, cwd=ROOT)

    def alive(self):
        return self.p.poll() is None

    def stop(self, timeout=10):
        """SIGTERM and wait; returns the exit code (asserting a clean exit is the caller's choice)."""
        if self.alive():
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(timeout)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()
        return self.p.returncode

    def kill9(self):
        if self.alive():
            self.p.kill()
            self.p.wait()
        self.log.close()

    def log_text(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode(errors="replace")


_db_counter = itertools.count(1)

SANITIZER_MARKERS = (b"ERROR: AddressSanitizer", b"ERROR: LeakSanitizer", b"runtime error:")


def _has_sanitizer_report(path):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return False
    return any(m in data for m in SANITIZER_MARKERS)


class Stack:
    def __init__(self, pg_url, workers=None, extra_env=None, name=None):
        self.name = name or f"s{next(_db_counter)}_{os.getpid()}"
        self.db = f"roma_{self.name}"
        admin = subprocess.run(["psql", "-X", "-q", pg_url.rsplit("/", 1)[0] + "/postgres", "-c",
                                f'CREATE DATABASE "{self.db}" OWNER roma'], capture_output=True, text=True)
        assert admin.returncode == 0, admin.stderr
        self.db_url = pg_url.rsplit("/", 1)[0] + "/" + self.db
        self.http_port = free_port()
        self.front = f"tcp://127.0.0.1:{free_port()}"
        self.back = f"tcp://127.0.0.1:{free_port()}"
        self.env = dict(os.environ)
        self.env.update({
            "ROMA_DATABASE_URL": self.db_url,
            "ROMA_SECRET_KEY": SECRET_KEY,
            "ROMA_HTTP_PORT": str(self.http_port),
            "ROMA_BROKER_FRONTEND": self.front,
            "ROMA_BROKER_BACKEND": self.back,
            "ROMA_MIGRATIONS_DIR": os.path.join(ROOT, "migrations"),
            "ROMA_LOG_LEVEL": "info",
            "ASAN_OPTIONS": os.environ.get("ASAN_OPTIONS", "detect_leaks=0:abort_on_error=0"),
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
            # 600,000 PBKDF2 rounds (the default) cost ~0.3 s per hash; the suite logs in and bootstraps
            # often. test_auth_hardening.py checks the default with this removed (extra_env value None).
            "ROMA_PASSWORD_ITERATIONS": "1000",
        })
        for k, v in (extra_env or {}).items():
            if v is None:
                self.env.pop(k, None)
            else:
                self.env[k] = v
        self.procs = {}
        self.base = f"http://127.0.0.1:{self.http_port}"
        self.admin("migrate")
        creds = self.admin("bootstrap", "--project-name", f"p-{self.name}", "--instance-name", "default",
                           "--user-name", "admin", "--password", "admin-pass-1")
        kv = dict(line.split("=", 1) for line in creds.splitlines() if "=" in line)
        self.project_id, self.instance_id = kv["ROMA_PROJECT_ID"], kv["ROMA_INSTANCE_ID"]
        self.token, self.ak, self.sk = kv["ROMA_TOKEN"], kv["ROMA_AK"], kv["ROMA_SK"]
        self.user_id = kv.get("ROMA_USER_ID")
        self.start_broker()
        self.start_api()
        for kind, n in (workers if workers is not None else {"asset": 2, "datasource": 1, "topic": 1}).items():
            for _ in range(n):
                self.start_worker(kind)

    # ---- processes ----
    def admin(self, *args, check=True):
        r = subprocess.run([os.path.join(BIN, "roma-admin"), *args], env=self.env, capture_output=True,
                           text=True, cwd=ROOT, timeout=60)
        if check:
            assert r.returncode == 0, f"roma-admin {args}: {r.returncode} {r.stderr}"
        return r.stdout

    def _start(self, key, binary, env=None):
        e = dict(self.env)
        e.update(env or {})
        p = Proc(f"{self.name}-{key}", [os.path.join(BIN, binary)], e)
        self.procs[key] = p
        return p

    def start_broker(self):
        if not os.path.exists(os.path.join(BIN, "roma-broker")):
            return None
        return self._start("broker", "roma-broker")

    def start_api(self, key="api", port=None):
        env = {"ROMA_HTTP_PORT": str(port or self.http_port)}
        p = self._start(key, "roma-api", env)
        url = f"http://127.0.0.1:{port or self.http_port}/healthz"
        wait_for(lambda: p.alive() and requests.get(url, timeout=1).status_code == 200, 20,
                 what=f"{key} health ({p.log_path})")
        return p

    def start_worker(self, kind):
        binary = WORKER_BINS[kind]
        if not os.path.exists(os.path.join(BIN, binary)):
            return None
        n = sum(1 for k in self.procs if k.startswith(kind + "-"))
        return self._start(f"{kind}-{n}", binary)

    def workers(self, kind):
        return [p for k, p in self.procs.items() if k.startswith(kind + "-") and p.alive()]

    def stop(self):
        codes = {}
        for key, p in reversed(list(self.procs.items())):
            codes[key] = p.stop()
        return codes

    def sanitizer_reports(self):
        """Names of this stack's processes whose log holds an ASan/UBSan/LSan report."""
        return [k for k, p in self.procs.items() if _has_sanitizer_report(p.log_path)]

    # ---- clients ----
    def client(self, **kw):
        if not kw:
            kw = {"token": self.token}
        return RomaClient(self.base, **kw)

    def ak_client(self):
        return RomaClient(self.base, ak=self.ak, sk=self.sk, project_id=self.project_id)

    def inst(self, suffix=""):
        """Path prefix /v2/{project_id}/instances/{instance_id} + suffix."""
        return f"/v2/{self.project_id}/instances/{self.instance_id}{suffix}"

    def sql(self, query):
        r = subprocess.run(["psql", "-X", "-A", "-t", "-q", self.db_url, "-c", query], capture_output=True,
                           text=True, timeout=30)
        assert r.returncode == 0, r.stderr
        return r.stdout.strip()


@pytest.fixture(scope="session")
def pg():
    d = os.path.join(VAR, "pg")
    port = PG_PORT or free_port()
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start", d, str(port)], check=True)
    # the role's generated password (scripts/pg.sh: TCP is scram-sha-256, no trust)
    url = subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "url", d, str(port)], check=True,
                         capture_output=True, text=True).stdout.strip()
    yield url
    subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", d, str(port)], check=False)
    bugs = pg_log.bug_lines(PG_LOG)  # the whole session's log, before it is removed
    shutil.rmtree(d, ignore_errors=True)  # ~40 MB a run; the process logs beside it are kept
    assert not bugs, "PostgreSQL logged errors that are always bugs:\n" + "\n".join(bugs)


PG_LOG = os.path.join(VAR, "pg", "server.log")


@pytest.fixture(autouse=True)
def _pg_log_guard(request):
    """Fails the test (at teardown) during which PostgreSQL logged an ERROR from pg_log.BUG_PATTERNS."""
    if "pg" not in request.fixturenames:
        yield
        return
    start = pg_log.offset(PG_LOG)
    yield
    bugs = pg_log.bug_lines(PG_LOG, start)
    assert not bugs, "PostgreSQL logged errors that are always bugs:\n" + "\n".join(bugs)


@pytest.fixture(scope="session")
def stack(pg):
    s = Stack(pg, name="shared")
    yield s
    s.stop()
    # a sanitizer report anywhere in the shared stack fails the session (shown as a teardown error)
    assert not s.sanitizer_reports(), f"sanitizer reports in {s.sanitizer_reports()} (logs under {VAR}/logs)"


def _stack_factory(pg):
    """Yields a factory of private stacks; stops them all afterwards and fails on sanitizer reports."""
    made = []

    def make(**kw):
        s = Stack(pg, **kw)
        made.append(s)
        return s

    yield make
    for s in made:
        s.stop()
    bad = [k for s in made for k in s.sanitizer_reports()]
    assert not bad, f"sanitizer reports in {bad} (logs under {VAR}/logs)"


@pytest.fixture
def make_stack(pg):
    """Factory for private stacks (fault tests); all are stopped at the end of the test."""
    yield from _stack_factory(pg)


@pytest.fixture(scope="module")
def make_stack_module(pg):
    """The same, shared by the tests of one module (stopped at the end of the module)."""
    yield from _stack_factory(pg)
