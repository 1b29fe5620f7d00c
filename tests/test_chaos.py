"""test_chaos.py: the stack under `make run`'s supervisor (scripts/run.sh) survives repeated SIGKILLs and a
PostgreSQL restart under load without losing or doubling work (issue 8, "Chaos and fault suite").

For ROMA_CHAOS_SECONDS (default 40; `make chaos` runs 300) it drives continuous load: single-app export
jobs, REDIS datasource test-connects against a redis-server on 127.0.0.1 (ROMA_DS_DENY_CIDRS is set
explicitly so loopback is allowed for this stack only), and MQS produce plus two consumers of one group.
Every 2 s it SIGKILLs a random process of the next kind (API, broker, asset/datasource/topic worker, in a
shuffled round), and once, mid-way, restarts the throwaway PostgreSQL (scripts/pg.sh stop + start, i.e.
pg_ctl). run.sh restarts what was killed (backoff capped at 2 s here). Then it checks:
- every accepted export (200 with a job_id) reaches a terminal state and never leaves it (each poll after
  the first terminal one shows the same status, archive_id and end_time); a SUCCEEDED job's archive is a
  zip whose manifest lists exactly the exported app;
- no message whose produce was acknowledged (state "success") is lost: all are consumed and acked;
- no message was delivered to a second consumer while an earlier delivery's lease (ack_wait) was still
  running and not acked, nor delivered again after a successful ack ("doubled");
- every kind is running again and the API serves (recovery_s: from the end of the chaos to that point).
It prints one summary line: `chaos: jobs=N kills=N lost=0 doubled=0 recovery_s=X.X produced=N acked=N ...`.
"""
import glob
import io
import json
import os
import random
import signal
import subprocess
import threading
import time
import zipfile

import requests

from conftest import ROOT, wait_for
from mqs_helpers import DataClient, create_topic, decode, make_app, uniq
from run_stack import RunSh, alive
from servers import redis_srv, REDIS_PASS  # noqa: F401 - session fixture

CHAOS_S = float(os.environ.get("ROMA_CHAOS_SECONDS", "40"))
KILL_EVERY_S = 2.0
ACK_WAIT_S = 5
SLACK_S = 0.5  # clock and scheduling slack when comparing a delivery with an earlier lease
KINDS = ("api", "broker", "asset-worker", "datasource-worker", "topic-worker")
TERMINAL = ("SUCCEEDED", "FAILED")


def kind_of(name):
    return name.rsplit("-", 1)[0] if "-worker-" in name else name


class Load:
    """The load threads' shared record. Every list is appended under self.lock."""

    def __init__(self, run, app, topic, ds_id, apps):
        self.run, self.app, self.topic, self.ds_id, self.apps = run, app, topic, ds_id, apps
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.jobs = {}            # job_id -> exported app id
        self.submit_errors = 0
        self.next_seq = 0
        self.produced = set()     # seqs whose produce was acknowledged
        self.deliveries = {}      # seq -> [(t_request, t_response, consumer)]
        self.acked = {}           # seq -> t of the first fully successful ack
        # seqs whose ack got no clean answer (reply lost when the API or PostgreSQL was killed, a
        # partial success): applied or not, we cannot tell from the reply. If it was not applied the
        # message is delivered again after ack_wait (the drain waits longer than that) and acked then.
        self.ack_unknown = set()
        self.checks = {"ok": 0, "other": 0}
        self.errors = []          # unexpected exceptions in load threads

    def loop(self, fn):
        def body():
            while not self.stop.is_set():
                try:
                    fn()
                except (requests.RequestException, ValueError):
                    time.sleep(0.1)  # the API or a worker is down: try again
                except Exception as e:  # noqa: BLE001 - reported by the test
                    self.errors.append(repr(e))
                    time.sleep(0.1)
        t = threading.Thread(target=body, daemon=True)
        t.start()
        return t


def submitter(load):
    c = load.run.client(timeout=10)

    def step():
        app_id = random.choice(load.apps)
        r = c.post(load.run.inst("/assets/export"), json={"apps": [{"id": app_id}]})
        if r.status_code == 200 and "job_id" in r.json():
            with load.lock:
                load.jobs[r.json()["job_id"]] = app_id
        else:
            load.submit_errors += 1
        time.sleep(0.25)
    return step


def producer(load):
    dc = DataClient(load.run, load.app, timeout=10)

    def step():
        with load.lock:  # seqs are unique across producer threads
            base = load.next_seq
            load.next_seq += 5
        batch = [{"content": {"seq": base + i}, "id": str(base + i)} for i in range(5)]
        r = dc.produce(load.topic, batch)
        if r.status_code == 200:
            ok = {int(x["id"]) for x in r.json() if x.get("state") == "success"}
            with load.lock:
                load.produced |= ok
        time.sleep(0.1)
    return step


def consume_once(load, dc, who, time_wait=1):
    """One consume + ack; returns the number of messages delivered."""
    t0 = time.time()
    r = dc.consume(load.topic, "cg", ack_wait=ACK_WAIT_S, time_wait=time_wait, max_msgs=10)
    t1 = time.time()
    if r.status_code != 200:
        time.sleep(0.1)
        return 0
    got = r.json()
    seqs = [decode(m)["seq"] for m in got]
    with load.lock:
        for s in seqs:
            load.deliveries.setdefault(s, []).append((t0, t1, who))
    if got:
        try:
            a = dc.ack(load.topic, "cg", [{"handler": m["handler"], "status": "success"} for m in got])
            clean = a.status_code == 200 and a.json() == {"success": len(got), "fail": 0}
        except (requests.RequestException, ValueError):
            clean = False
        t2 = time.time()
        with load.lock:
            for s in seqs:
                if clean:
                    load.acked.setdefault(s, t2)
                else:
                    load.ack_unknown.add(s)
    return len(got)


def consumer(load, who):
    dc = DataClient(load.run, load.app, timeout=10)
    return lambda: consume_once(load, dc, who)


def checker(load):
    c = load.run.client(timeout=10)
    path = f"/v2/{load.run.project_id}/fdi/instances/{load.run.instance_id}/datasources/{load.ds_id}/test-connect"

    def step():
        r = c.post(path)
        ok = r.status_code == 200 and r.json().get("result") is True
        with load.lock:
            load.checks["ok" if ok else "other"] += 1
        time.sleep(0.3)
    return step


def poll_jobs(load, history, only_open=True):
    """Polls the jobs (the open ones, or all); history[job_id] collects (status, archive_id, end_time)."""
    c = load.run.client(timeout=10)
    with load.lock:
        ids = list(load.jobs)
    for jid in ids:
        h = history.setdefault(jid, [])
        if only_open and h and h[-1][0] in TERMINAL:
            continue
        try:
            r = c.get(load.run.inst(f"/assets/jobs/{jid}"))
        except requests.RequestException:
            continue
        if r.status_code == 200:
            j = r.json()
            h.append((j["status"], j.get("archive_id"), j.get("end_time")))


def kill_one(run, kind, rnd):
    names = [n for n in run.names() if kind_of(n) == kind]
    if not names:
        return None
    name = rnd.choice(names)
    pid = run.pid(name)
    if not pid or not alive(pid):
        return None
    try:
        os.kill(pid, signal.SIGKILL)
    except ProcessLookupError:
        return None
    return name, pid


def test_chaos(redis_srv, capsys):  # noqa: F811 - the fixture
    run = RunSh("chaos", build_dir=os.environ.get("ROMA_BUILD_DIR", "build/release"), extra_env={
        "ROMA_BACKOFF_MAX": "2",
        # the contract with the datasource policy: an explicit deny list replaces the default one
        # (which denies loopback), so this stack may reach the redis-server on 127.0.0.1
        "ROMA_DS_DENY_CIDRS": "169.254.0.0/16",
    })
    passed = False
    try:
        run.start()
        assert {kind_of(n) for n in run.names()} == set(KINDS), run.names()
        c = run.client()
        apps = []
        for i in range(8):
            r = c.post(run.inst("/apps"), json={"name": uniq(f"chaos{i}")})
            assert r.status_code == 201, r.text
            apps.append(r.json()["id"])
        app = make_app(run, c)
        topic = create_topic(run, c, app)
        r = c.post(f"/v2/{run.project_id}/fdi/instances/{run.instance_id}/datasources",
                   json={"datasource_name": uniq("chaosds"), "datasource_type": "REDIS", "app_id": apps[0],
                         "content": {"address": f"127.0.0.1:{redis_srv['port']}", "password": REDIS_PASS,
                                     "mode": "default"}})
        assert r.status_code == 201, r.text
        load = Load(run, app, topic, r.json()["datasource_id"], apps)
        r = c.post(f"/v2/{run.project_id}/fdi/instances/{run.instance_id}/datasources/{load.ds_id}/test-connect")
        assert r.status_code == 200 and r.json()["result"] is True, r.text

        threads = [load.loop(submitter(load)), load.loop(submitter(load)), load.loop(producer(load)),
                   load.loop(producer(load)), load.loop(checker(load)),
                   load.loop(consumer(load, "c1")), load.loop(consumer(load, "c2"))]
        history = {}
        poll_stop = threading.Event()

        def poller():
            while not poll_stop.is_set():
                poll_jobs(load, history)
                time.sleep(0.3)
        pt = threading.Thread(target=poller, daemon=True)
        pt.start()

        rnd = random.Random()
        kills, round_ = [], []
        pg_restarted = None
        t_start = time.time()
        next_kill = t_start + KILL_EVERY_S
        pg_at = t_start + CHAOS_S / 2
        pg_dir = os.path.join(run.var, "pg")
        while time.time() < t_start + CHAOS_S:
            now = time.time()
            if pg_restarted is None and now >= pg_at:
                t = time.time()
                subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", pg_dir], check=True,
                               capture_output=True)
                time.sleep(1)
                subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start", pg_dir, run.env["ROMA_PG_PORT"]],
                               check=True, capture_output=True)
                pg_restarted = time.time() - t
            if now >= next_kill:
                if not round_:
                    round_ = rnd.sample(KINDS, len(KINDS))
                k = kill_one(run, round_.pop(), rnd)
                if k:
                    kills.append(k)
                next_kill += KILL_EVERY_S
            time.sleep(0.05)
        t_end = time.time()

        # recovery: every supervised process alive (and not one we killed), the API ready
        def recovered():
            names = run.names()
            pids = {n: run.pid(n) for n in names}
            if {kind_of(n) for n in names} != set(KINDS):
                return False
            if not all(p and alive(p) and (n, p) not in kills for n, p in pids.items()):
                return False
            return requests.get(run.base + "/readyz", timeout=2).status_code == 200
        try:
            wait_for(recovered, 30, interval=0.1, what="every kind running again after the chaos")
        except AssertionError:
            state = {n: (run.pid(n), alive(run.pid(n) or 0)) for n in run.names()}
            raise AssertionError(f"not recovered: {state}\n{run.output()[-3000:]}") from None
        recovery_s = time.time() - t_end

        # a little more load on the recovered stack, then stop it and drain
        time.sleep(2)
        load.stop.set()
        for t in threads:
            t.join(15)
        dc = DataClient(run, app, timeout=10)
        deadline = time.time() + 3 * ACK_WAIT_S + 10
        idle_since = None
        while time.time() < deadline:
            with load.lock:
                missing = load.produced - set(load.acked)
            n = consume_once(load, dc, "drain", time_wait=1)
            if n == 0 and not missing:
                break
            if n == 0:
                idle_since = idle_since or time.time()
                if time.time() - idle_since > ACK_WAIT_S + 3:
                    break  # nothing came back even after a lease would have expired
            else:
                idle_since = None

        def all_terminal():
            poll_jobs(load, history)
            return all(h and h[-1][0] in TERMINAL for h in history.values()) and len(history) == len(load.jobs)
        wait_for(all_terminal, 90, interval=0.5, what="every accepted job to finish")
        poll_stop.set()
        pt.join(10)
        poll_jobs(load, history, only_open=False)  # once more: a terminal job must not have moved

        # ---- checks ----
        moved = {}
        for jid, h in history.items():
            first = next(i for i, x in enumerate(h) if x[0] in TERMINAL)
            if len(set(h[first:])) != 1:
                moved[jid] = h
        bad_archives = {}
        succeeded = failed = 0
        for jid, h in history.items():
            status, archive_id, _ = h[-1]
            if status == "FAILED":
                failed += 1
                continue
            succeeded += 1
            d = c.get(run.inst(f"/assets/archives/{archive_id}"))
            try:
                z = zipfile.ZipFile(io.BytesIO(d.content))
                listed = [a["id"] for a in json.loads(z.read("manifest.json"))["apps"]]
                names = set(z.namelist())
                ok = listed == [load.jobs[jid]] and f"apps/{load.jobs[jid]}.json" in names
            except (zipfile.BadZipFile, KeyError, ValueError):
                ok = False
            if not ok:
                bad_archives[jid] = (d.status_code, d.content[:200])
        # lost: acknowledged by produce, then never handed out and acked. A message whose ack got no clean
        # answer and that did not come back in the drain was acked on the server (it was delivered).
        unacked = load.produced - set(load.acked)
        lost = sorted(unacked - load.ack_unknown)
        ack_unknown = len(unacked & load.ack_unknown)
        doubled = {}
        for s, ds in load.deliveries.items():
            ds = sorted(ds)
            for i in range(1, len(ds)):
                t_req = ds[i][0]
                ack = load.acked.get(s)
                if ack is not None and t_req > ack + SLACK_S:
                    doubled[s] = ds  # delivered again after a successful ack
                for j in range(i):
                    # an earlier delivery's lease runs from before its request returned to ack_wait
                    # after its request was sent, or to the ack
                    lease_end = ds[j][0] + ACK_WAIT_S
                    if ack is not None:
                        lease_end = min(lease_end, ack)
                    if ds[i][1] < lease_end - SLACK_S:
                        doubled[s] = ds
        summary = (f"chaos: jobs={len(history)} kills={len(kills)} lost={len(lost)} doubled={len(doubled)} "
              f"recovery_s={recovery_s:.1f} produced={len(load.produced)} acked={len(load.acked)} "
              f"ack_reply_lost={ack_unknown} "
              f"succeeded={succeeded} failed={failed} checks_ok={load.checks['ok']} "
              f"checks_other={load.checks['other']} pg_restart_s={pg_restarted:.1f} seconds={CHAOS_S:.0f}")
        with capsys.disabled():  # shown by `make test` too, not only on failure
            print("\n" + summary)
        assert not load.errors, load.errors[:5]
        assert {kind_of(n) for n, _ in kills} == set(KINDS), kills
        assert len(history) >= 10 and load.produced and load.checks["ok"] > 0, \
            (len(history), len(load.produced), load.checks)
        assert not moved, f"jobs left their terminal state: {list(moved.items())[:5]}"
        assert not bad_archives, f"wrong archives: {list(bad_archives.items())[:5]}"
        assert failed == 0, [(j, h[-1]) for j, h in history.items() if h[-1][0] == "FAILED"][:5]
        assert not lost, f"{len(lost)} acknowledged messages lost, e.g. {lost[:10]}"
        assert not doubled, f"doubled deliveries: {list(doubled.items())[:5]}"
        assert recovered(), "a process died again after the recovery"
        # nothing died on its own (a crash, an exit on a lost connection): every exit is one of our kills
        exits = sorted((e["name"], e["pid"], e["exit_code"]) for e in run.events() if e["event"] == "process.exited")
        assert exits == sorted((n, p, 137) for n, p in kills), (exits, kills)
        reports = [f for f in glob.glob(os.path.join(run.var, "log", "*.log"))
                   if b"Sanitizer" in open(f, "rb").read() or b"runtime error:" in open(f, "rb").read()]
        assert not reports, f"sanitizer reports in {reports}"

        rc = run.stop()
        assert rc == 0, f"run.sh exited {rc} after SIGTERM:\n{run.output()[-4000:]}"
        passed = True
    finally:
        run.cleanup(remove=passed)
