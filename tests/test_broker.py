"""Black-box tests of roma-broker with real processes: the broker binary, tests/helpers/echo_worker
(a roma_worker of kind "echo") and tests/helpers/bus_cli (services/api/bus.c on real threads).

Binaries come from $ROMA_BUILD_DIR (default build/release). Every test picks its own free ports in the
15555+ range and bounds every wait; processes are killed at teardown and the stderr of those that exited
on their own is checked for sanitizer reports (ASan build).
"""
import json
import os
import signal
import socket
import subprocess
import tempfile
import time

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.path.join(ROOT, os.environ.get("ROMA_BUILD_DIR", "build/release"))
BROKER = os.path.join(BUILD, "bin", "roma-broker")
ECHO_WORKER = os.path.join(BUILD, "tests", "helpers", "echo_worker")
BUS_CLI = os.path.join(BUILD, "tests", "helpers", "bus_cli")
RAW_PEER = os.path.join(BUILD, "tests", "helpers", "raw_peer")

ROMA_EINVAL = -2
ROMA_ETIMEDOUT = -4
ROMA_EUNAVAIL = -7

_next_port = [15555 + (os.getpid() % 200) * 10]


def _port_free(port):
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
            return True
        except OSError:
            return False


def free_port_pair():
    """Two consecutive free TCP ports from the 15555+ range (frontend, backend)."""
    for _ in range(2000):
        p = _next_port[0]
        _next_port[0] += 2
        if _next_port[0] > 29990:
            _next_port[0] = 15555
        if _port_free(p) and _port_free(p + 1):
            return p, p + 1
    raise RuntimeError("no free ports")


def wait_for(pred, timeout, step=0.05):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Proc:
    def __init__(self, argv, env=None, name="proc"):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="roma-test-")
        self.out_path = os.path.join(self.dir, name + ".out")
        self.err_path = os.path.join(self.dir, name + ".err")
        self.killed = False
        e = dict(os.environ)
        e.update(env or {})
        e.setdefault("ASAN_OPTIONS", "detect_leaks=1")
        self.p = subprocess.Popen(argv, env=e, stdout=open(self.out_path, "w"), stderr=open(self.err_path, "w"))

    def out(self):
        with open(self.out_path) as f:
            return f.read()

    def err(self):
        with open(self.err_path) as f:
            return f.read()

    def out_json(self):
        return [json.loads(l) for l in self.out().splitlines() if l.startswith("{")]

    def kill9(self):
        self.killed = True
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGKILL)
        self.p.wait(5)

    def term(self, timeout=10):
        if self.p.poll() is None:
            self.p.send_signal(signal.SIGTERM)
        return self.p.wait(timeout)


class Cluster:
    """Owns every process a test starts; at teardown kills them and checks sanitizer output."""

    def __init__(self):
        self.front_port, self.back_port = free_port_pair()
        self.front = "tcp://127.0.0.1:%d" % self.front_port
        self.back = "tcp://127.0.0.1:%d" % self.back_port
        self.procs = []
        self.broker = None

    def start_broker(self, env=None):
        e = {"ROMA_BROKER_FRONTEND": self.front, "ROMA_BROKER_BACKEND": self.back, "ROMA_BROKER_STATS_MS": "1000"}
        e.update(env or {})
        self.broker = Proc([BROKER], e, "broker")
        self.procs.append(self.broker)
        assert wait_for(lambda: self.ping() == 0, 5), "broker did not answer PING:\n" + self.broker.err()
        return self.broker

    def start_worker(self, kind="echo", concurrency=2, env=None):
        w = Proc([ECHO_WORKER, self.back, kind, str(concurrency)], env, "worker-%s" % kind)
        self.procs.append(w)
        return w

    def ping(self):
        return subprocess.run([BROKER, "--ping", self.front], capture_output=True, timeout=10).returncode

    def cli(self, cmd, *args, timeout=60):
        r = subprocess.run([BUS_CLI, self.front, cmd] + [str(a) for a in args], capture_output=True, text=True,
                           timeout=timeout)
        _check_sanitizers("bus_cli", r.stderr)
        lines = [json.loads(l) for l in r.stdout.splitlines() if l.startswith("{")]
        return r.returncode, lines

    def cli_async(self, cmd, *args):
        p = Proc([BUS_CLI, self.front, cmd] + [str(a) for a in args], None, "bus_cli")
        self.procs.append(p)
        return p

    def stats(self):
        rc, lines = self.cli("stats", "--timeout", 2000)
        assert rc == 0, lines
        return lines[0]["stats"]

    def live(self, kind="echo"):
        try:
            return self.stats()["kinds"].get(kind, {}).get("workers", 0)
        except AssertionError:
            return -1

    def wait_live(self, n, kind="echo", timeout=5):
        return wait_for(lambda: self.live(kind) == n, timeout, 0.1)

    def teardown(self):
        for p in self.procs:
            if p.p.poll() is None:
                p.killed = True
                p.p.kill()
                p.p.wait(5)
        for p in self.procs:
            if not p.killed:
                _check_sanitizers(p.name, p.err())


def _check_sanitizers(name, text):
    for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:"):
        assert marker not in text, "%s: sanitizer report:\n%s" % (name, text[-4000:])


@pytest.fixture
def cluster():
    for b in (BROKER, ECHO_WORKER, BUS_CLI, RAW_PEER):
        if not os.access(b, os.X_OK):
            pytest.fail("%s not built (make MODE=... all)" % b)
    c = Cluster()
    yield c
    c.teardown()


# ------------------------------------------------------------------------------------------------
# health, configuration


def test_ping_help_config_and_dead_endpoint(cluster):
    r = subprocess.run([BROKER, "--help-config"], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0
    for var in ("ROMA_BROKER_FRONTEND", "ROMA_BROKER_BACKEND", "ROMA_HEARTBEAT_MS", "ROMA_HEARTBEAT_LIVENESS",
                "ROMA_BROKER_QUEUE_MAX"):
        assert var in r.stdout
    # nobody listening: fails, and fast
    t0 = time.monotonic()
    assert cluster.ping() != 0
    assert time.monotonic() - t0 < 2.5
    cluster.start_broker()
    r = subprocess.run([BROKER, "--ping", cluster.front], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0 and "PONG" in r.stdout
    rc, lines = cluster.cli("ping", "--count", 3)
    assert rc == 0 and all(l["rc"] == 0 for l in lines)


def test_sigterm_clean_exit(cluster):
    b = cluster.start_broker()
    w = cluster.start_worker()
    assert cluster.wait_live(1)
    assert w.term() == 0
    assert wait_for(lambda: "left" in b.err(), 3), b.err()
    assert b.term() == 0
    err = b.err()
    assert '"event":"broker.stop"' in err and "clean shutdown" in err
    for line in err.splitlines():
        json.loads(line)  # every log line is JSON


# ------------------------------------------------------------------------------------------------
# routing


def test_request_reply_roundtrip(cluster):
    cluster.start_broker()
    cluster.start_worker()
    assert cluster.wait_live(1)
    body = {"s": "h\u00e9llo", "n": [1, 2.5, -3, True, False, None], "o": {"k": {}}}
    rc, lines = cluster.cli("call", "--body", json.dumps(body), "--rid", "test-rid-1", "--type", "echo.run")
    assert rc == 0, lines
    r = lines[0]
    assert r["rc"] == 0 and r["status"] == 0
    assert r["body"]["echo"] == body
    assert r["body"]["type"] == "echo.run"
    # handler status travels back as the reply status (the call itself succeeds)
    rc, lines = cluster.cli("call", "--body", json.dumps({"status": -5}))
    assert rc == 0 and lines[0]["status"] == -5


def test_many_threads_share_the_bus(cluster):
    cluster.start_broker()
    cluster.start_worker(concurrency=4)
    assert cluster.wait_live(1)
    rc, lines = cluster.cli("call", "--threads", 8, "--count", 25, "--timeout", 5000)
    assert rc == 0
    assert len(lines) == 200 and all(l["rc"] == 0 and l["status"] == 0 for l in lines)


def test_two_workers_share_the_load(cluster):
    cluster.start_broker()
    w1 = cluster.start_worker(concurrency=1)
    w2 = cluster.start_worker(concurrency=1)
    assert cluster.wait_live(2)
    rc, lines = cluster.cli("call", "--threads", 4, "--count", 10, "--timeout", 5000)
    assert rc == 0
    pids = [l["body"]["pid"] for l in lines]
    assert set(pids) == {w1.p.pid, w2.p.pid}
    assert min(pids.count(w1.p.pid), pids.count(w2.p.pid)) >= 10, pids


def test_credit_is_respected(cluster):
    cluster.start_broker()
    cluster.start_worker(concurrency=2)
    assert cluster.wait_live(1)
    t0 = time.monotonic()
    rc, lines = cluster.cli("call", "--threads", 6, "--body", '{"sleep_ms":400}', "--timeout", 10000)
    elapsed = time.monotonic() - t0
    assert rc == 0 and len(lines) == 6
    assert max(l["body"]["running"] for l in lines) <= 2
    assert elapsed >= 1.1  # 6 requests, 2 at a time, 0.4 s each


def test_publish_is_fire_and_forget(cluster):
    cluster.start_broker()
    w = cluster.start_worker()
    assert cluster.wait_live(1)
    rc, lines = cluster.cli("publish", "--count", 5, "--type", "job.run")
    assert rc == 0 and all(l["rc"] == 0 for l in lines)
    assert wait_for(lambda: len([e for e in w.out_json() if e["noreply"] == 1]) == 5, 5), w.out()
    assert wait_for(lambda: cluster.stats()["kinds"]["echo"]["done"] == 5, 3)


# ------------------------------------------------------------------------------------------------
# deadlines and queueing


def test_no_worker_call_times_out_at_deadline(cluster):
    cluster.start_broker()
    rc, lines = cluster.cli("call", "--kind", "nobody", "--timeout", 1000)
    assert rc != 0
    assert lines[0]["rc"] == ROMA_ETIMEDOUT
    assert 900 <= lines[0]["elapsed_ms"] <= 2000
    # the broker expired it too, and counted it
    assert wait_for(lambda: cluster.stats()["kinds"]["nobody"]["expired"] == 1, 2)


def test_queued_call_waits_for_a_late_worker(cluster):
    cluster.start_broker()
    p = cluster.cli_async("call", "--timeout", 6000)
    time.sleep(1.0)
    assert cluster.stats()["kinds"]["echo"]["queued"] == 1
    cluster.start_worker()
    assert p.p.wait(10) == 0
    r = p.out_json()[0]
    assert r["rc"] == 0 and r["elapsed_ms"] >= 900


def test_queue_bound_refuses_extra_calls(cluster):
    cluster.start_broker({"ROMA_BROKER_QUEUE_MAX": "2"})
    rc, lines = cluster.cli("call", "--kind", "nobody", "--threads", 3, "--timeout", 1500)
    codes = sorted(l["rc"] for l in lines)
    assert codes == [ROMA_EUNAVAIL, ROMA_ETIMEDOUT, ROMA_ETIMEDOUT], lines
    refused = [l for l in lines if l["rc"] == ROMA_EUNAVAIL][0]
    assert refused["elapsed_ms"] < 1000  # answered at once, not at the deadline
    assert cluster.stats()["kinds"]["nobody"]["dropped"] == 1


# ------------------------------------------------------------------------------------------------
# failures: worker death, long handlers, broker restart


def test_killed_worker_fails_inflight_calls_fast(cluster):
    b = cluster.start_broker()
    w = cluster.start_worker(concurrency=1)
    assert cluster.wait_live(1)
    p = cluster.cli_async("call", "--body", '{"sleep_ms":15000}', "--timeout", 20000)
    assert wait_for(lambda: cluster.stats()["kinds"]["echo"]["inflight"] == 1, 5)
    t_kill = time.monotonic()
    w.kill9()
    assert p.p.wait(10) != 0
    waited = time.monotonic() - t_kill
    r = p.out_json()[0]
    assert r["rc"] == ROMA_EUNAVAIL, r
    assert waited < 4.5, waited
    assert cluster.live() == 0
    assert wait_for(lambda: "live workers 1 -> 0" in b.err(), 2), b.err()
    assert cluster.stats()["kinds"]["echo"]["lost"] == 1


def test_worker_heartbeats_while_a_handler_blocks(cluster):
    b = cluster.start_broker()
    cluster.start_worker(concurrency=1)
    assert cluster.wait_live(1)
    # 4.5 s handler: longer than liveness (3 x 1000 ms); the I/O thread keeps heartbeating
    rc, lines = cluster.cli("call", "--body", '{"sleep_ms":4500}', "--timeout", 10000)
    assert rc == 0 and lines[0]["rc"] == 0
    assert "missed heartbeats" not in b.err()
    assert cluster.live() == 1


def test_stats_lists_live_workers_per_kind(cluster):
    cluster.start_broker()
    cluster.start_worker("echo")
    cluster.start_worker("echo")
    cluster.start_worker("other", concurrency=3)
    assert cluster.wait_live(2, "echo") and cluster.wait_live(1, "other")
    s = cluster.stats()
    assert s["workers"] == 3
    assert s["kinds"]["echo"]["workers"] == 2 and s["kinds"]["echo"]["credit"] == 4
    assert s["kinds"]["other"]["workers"] == 1 and s["kinds"]["other"]["credit"] == 3
    assert sorted(w["kind"] for w in s["worker_list"]) == ["echo", "echo", "other"]
    for key in ("queued", "requests", "dispatched", "replies", "expired", "lost", "dropped"):
        assert key in s["kinds"]["echo"]


def test_broker_restart_workers_reregister(cluster):
    b = cluster.start_broker()
    cluster.start_worker()
    assert cluster.wait_live(1)
    rc, _ = cluster.cli("call")
    assert rc == 0
    b.kill9()
    # while the broker is down calls fail fast with EUNAVAIL instead of hanging
    rc, lines = cluster.cli("call", "--timeout", 3000)
    assert lines[0]["rc"] == ROMA_EUNAVAIL and lines[0]["elapsed_ms"] < 1000
    time.sleep(0.5)
    b2 = cluster.start_broker()
    t0 = time.monotonic()
    ok = wait_for(lambda: cluster.cli("call", "--timeout", 500)[0] == 0, 8, 0.2)
    assert ok, b2.err()
    assert time.monotonic() - t0 < 5
    assert cluster.live() == 1


def test_worker_survives_long_broker_outage(cluster):
    b = cluster.start_broker()
    w = cluster.start_worker()
    assert cluster.wait_live(1)
    b.kill9()
    # longer than liveness (3 s): the worker notices the silence and recreates its socket with backoff
    assert wait_for(lambda: "worker.broker_lost" in w.err(), 6), w.err()
    assert wait_for(lambda: "worker.reconnect" in w.err(), 4), w.err()
    cluster.start_broker()
    assert cluster.wait_live(1, timeout=6)
    rc, lines = cluster.cli("call")
    assert rc == 0 and lines[0]["body"]["pid"] == w.p.pid


def test_worker_sigterm_drains_inflight_call(cluster):
    b = cluster.start_broker()
    w = cluster.start_worker(concurrency=1)
    assert cluster.wait_live(1)
    p = cluster.cli_async("call", "--body", '{"sleep_ms":1500}', "--timeout", 8000)
    assert wait_for(lambda: cluster.stats()["kinds"]["echo"]["inflight"] == 1, 5)
    w.p.send_signal(signal.SIGTERM)
    assert p.p.wait(10) == 0  # the running handler finished and its answer was delivered
    assert p.out_json()[0]["rc"] == 0
    assert w.p.wait(10) == 0
    err = b.err()
    assert "is draining" in err and "left" in err


def test_stale_reply_from_timed_out_call_is_discarded(cluster):
    cluster.start_broker()
    cluster.start_worker(concurrency=2)
    assert cluster.wait_live(1)
    # call 1 times out at 400 ms; its answer arrives at ~700 ms while the client pauses; call 2 must
    # get its own answer (seq 2), not the stale one (seq 1)
    rc, lines = cluster.cli("call", "--count", 2, "--timeout", 400, "--pause-ms", 600,
                            "--body", '{"sleep_once_ms":700}')
    assert lines[0]["rc"] == ROMA_ETIMEDOUT
    assert lines[1]["rc"] == 0 and lines[1]["body"]["seq"] == 2, lines


def test_malformed_messages_are_dropped(cluster):
    b = cluster.start_broker()
    cluster.start_worker()
    assert cluster.wait_live(1)
    r = subprocess.run([RAW_PEER, cluster.front, "front"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    answers = [json.loads(l)["frames"] for l in r.stdout.splitlines()]
    # only the well-framed request is answered: by the worker, which could not decode the payload
    assert answers == [["ROMA1", "REPLY", "garbage-cid", "status:%d" % ROMA_EINVAL]], answers
    r = subprocess.run([RAW_PEER, cluster.back, "back"], capture_output=True, text=True, timeout=20)
    assert r.returncode == 0, r.stderr
    answers = [json.loads(l)["frames"] for l in r.stdout.splitlines()]
    assert ["ROMA1", "DISCONNECT"] in answers  # unregistered worker told to register
    s = cluster.stats()
    assert s["malformed"] == 16, s
    assert s["unknown_peers"] == 2, s
    assert wait_for(lambda: "kind raw: live workers 1 -> 0" in b.err(), 2), b.err()
    assert cluster.ping() == 0
    rc, _ = cluster.cli("call")
    assert rc == 0
