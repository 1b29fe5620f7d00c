"""common.py: helpers shared by bench/bench_*.py (run by bench/run.sh, or alone once a PostgreSQL is up).

Conventions for a bench_<topic>.py:
  - import this module first (it points tests/conftest.py at build/release before importing it);
  - build stacks with make_stack() (tests/conftest.Stack on the bench's PostgreSQL, ROMA_BENCH_PG_URL);
  - measure with wrk() / pgbench() for DURATION seconds, one run per figure, ours and baseline in the
    same invocation;
  - print each comparison with result(), one line `name: ours X unit | baseline Y unit | ratio R`
    (bench/run.sh collects those lines into its summary table), anything else as free text;
  - stop what it started (stack.stop(), Server.stop()) and exit non-zero on failure.
"""
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
os.environ.setdefault("ROMA_BUILD_DIR", "build/release")
sys.path.insert(0, os.path.join(ROOT, "tests"))

import conftest  # noqa: E402
from conftest import Stack, free_port, wait_for  # noqa: E402,F401

DURATION = int(os.environ.get("ROMA_BENCH_DURATION", "10"))
BENCH_DIR = os.path.join(ROOT, "bench")
RELEASE = os.path.join(ROOT, "build", "release")


def pg_url():
    url = os.environ.get("ROMA_BENCH_PG_URL")
    if not url:
        sys.exit("ROMA_BENCH_PG_URL is not set: run the benches through bench/run.sh (make bench)")
    return url


def make_stack(**kw):
    """A roma deployment (release binaries) on its own database of the bench's PostgreSQL."""
    kw.setdefault("extra_env", {})
    return Stack(pg_url(), **kw)


# ---- wrk ----------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0}


def _ms(text):
    m = re.match(r"([\d.]+)(us|ms|s)$", text)
    return float(m.group(1)) * _UNITS[m.group(2)] if m else None


def wrk(url, script=None, script_args=(), threads=1, conns=32, duration=None, headers=()):
    """Runs wrk --latency; returns {rps, requests, non2xx, socket_errors, p50_ms, p99_ms, output}.
    script: a file under bench/ (e.g. "wrk_get.lua"); script_args go after `--` to its init(args)."""
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{duration or DURATION}s", "--latency"]
    for h in headers:
        argv += ["-H", h]
    if script:
        argv += ["-s", os.path.join(BENCH_DIR, script)]
    argv.append(url)
    if script_args:
        argv += ["--", *script_args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=(duration or DURATION) + 60)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed ({r.returncode}):\n{out}")
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    total = re.search(r"(\d+) requests in", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    sock = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    if not rps:
        raise RuntimeError(f"cannot parse wrk output:\n{out}")
    return {
        "rps": float(rps.group(1)),
        "requests": int(total.group(1)) if total else 0,
        "non2xx": int(non2xx.group(1)) if non2xx else 0,
        "socket_errors": sum(int(x) for x in sock.groups()) if sock else 0,
        "p50_ms": _ms(p50.group(1)) if p50 else None,
        "p99_ms": _ms(p99.group(1)) if p99 else None,
        "output": out,
    }


def check_wrk(name, res, max_bad_fraction=0.0):
    """Raises when more responses than allowed were errors (a fast 4xx is not a throughput figure)."""
    bad = res["non2xx"] + res["socket_errors"]
    if res["requests"] == 0 or bad > max_bad_fraction * res["requests"]:
        raise RuntimeError(f"{name}: {bad} bad responses out of {res['requests']}:\n{res['output']}")


# ---- pgbench ------------------------------------------------------------------------------------

def pgbench_path():
    found = sorted(p for p in (os.path.join(d, "pgbench") for d in _pg_bins()) if os.access(p, os.X_OK))
    if not found:
        raise RuntimeError("pgbench not found under /usr/lib/postgresql/*/bin")
    return found[-1]


def _pg_bins():
    base = "/usr/lib/postgresql"
    return [os.path.join(base, v, "bin") for v in sorted(os.listdir(base), key=lambda v: [int(x) for x in
                                                                                          re.findall(r"\d+", v)])]


def psql(url, sql):
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", url, "-c", sql], capture_output=True,
                       text=True, timeout=60)
    if r.returncode != 0:
        raise RuntimeError(f"psql: {r.stderr}")
    return r.stdout


def create_database(name):
    """A fresh database on the bench's PostgreSQL; returns its URL."""
    url = pg_url()
    # the role roma (CREATEDB) on the same server's maintenance database (scripts/pg.sh: TCP needs the password)
    admin = url.rsplit("/", 1)[0] + "/postgres"
    psql(admin, f'DROP DATABASE IF EXISTS "{name}"')
    psql(admin, f'CREATE DATABASE "{name}" OWNER roma')
    return url.rsplit("/", 1)[0] + "/" + name


def pgbench(url, script_sql, clients=8, threads=2, duration=None, mode="prepared"):
    """Runs pgbench with a custom script; returns {tps, latency_ms, output}."""
    with tempfile.NamedTemporaryFile("w", suffix=".sql", delete=False) as f:
        f.write(script_sql)
        path = f.name
    try:
        argv = [pgbench_path(), "-n", f"-c{clients}", f"-j{threads}", f"-T{duration or DURATION}", f"-M{mode}",
                "-f", path, url]
        r = subprocess.run(argv, capture_output=True, text=True, timeout=(duration or DURATION) + 60)
    finally:
        os.unlink(path)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise RuntimeError(f"pgbench failed ({r.returncode}):\n{out}")
    tps = re.search(r"tps = ([\d.]+) \(without initial connection time\)", out) or re.search(r"tps = ([\d.]+)", out)
    lat = re.search(r"latency average = ([\d.]+) ms", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    if failed and int(failed.group(1)):
        raise RuntimeError(f"pgbench: failed transactions:\n{out}")
    return {"tps": float(tps.group(1)), "latency_ms": float(lat.group(1)) if lat else None, "output": out}


# ---- processes ----------------------------------------------------------------------------------

class Server:
    """A baseline server process (e.g. build/release/bench/hello PORT), stopped with SIGTERM."""

    def __init__(self, argv, ready_url=None, timeout=10):
        self.log = tempfile.TemporaryFile()
        self.p = subprocess.Popen(argv, stdout=self.log, stderr=self.log, stdin=subprocess.DEVNULL)
        if ready_url:
            import requests
            wait_for(lambda: self.p.poll() is None and requests.get(ready_url, timeout=1).status_code < 500,
                     timeout, what=f"{argv[0]} to answer")

    def stop(self):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
            try:
                self.p.wait(10)
            except subprocess.TimeoutExpired:
                self.p.kill()
                self.p.wait()
        self.log.close()


def build_hello():
    """build/release/bench/hello, built through its Makefile rule (cheap when up to date)."""
    subprocess.run(["make", "--no-print-directory", "-s", "MODE=release", "build/release/bench/hello"], cwd=ROOT,
                   check=True)
    return os.path.join(RELEASE, "bench", "hello")


# ---- output -------------------------------------------------------------------------------------

def result(name, ours, baseline, unit="req/s", baseline_unit=None):
    """Prints `name: ours X unit | baseline Y unit | ratio R` (bench/run.sh's summary parses it)."""
    ratio = ours / baseline if baseline else float("nan")
    print(f"{name}: ours {ours:.0f} {unit} | baseline {baseline:.0f} {baseline_unit or unit} | ratio {ratio:.2f}",
          flush=True)


def note(text):
    print(f"  {text}", flush=True)


def run_tag():
    """Letters and digits unique to this run (app names must start with a letter)."""
    return f"b{int(time.time())}{os.getpid()}"
