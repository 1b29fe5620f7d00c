"""test_run.py: black-box tests of scripts/run.sh, the script behind `make run`.

Runs it with release binaries, private ports and a private ROMA_VAR_DIR, then checks: credentials.env
is written (0600) and its token lists apps; a worker killed with SIGKILL is restarted by the supervisor
(new pid, JSON log line); SIGTERM to the supervisor stops every process it started, PostgreSQL included,
and exits 0. "Every process" = every live process whose environment carries our ROMA_VAR_DIR, so a
child the test does not know about would be caught too.
test_supervisor_survives_repeated_kills: issue 8 finding 3 (four SIGKILLs of asset workers 1.5 s apart
used to make the supervisor SIGTERM everything and loop on `run.exit`), then SIGKILLs of every kind,
repeated and close together: every kind comes back, the API serves, and SIGTERM still stops all, exit 0.
"""
import json
import os
import random
import signal
import stat
import time

import requests

from conftest import wait_for
from run_stack import RunSh
from run_stack import alive as _alive
from run_stack import procs_with_env as _procs_with_env
from run_stack import read_pid as _read_pid

BUDGET_S = 60


def test_make_run_script():
    t0 = time.time()
    # its own prefix: run-<pid> directories belong to live pytest sessions and their PostgreSQL
    run = RunSh("makerun-basic")
    var, env, output, marker = run.var, run.env, run.output, run.marker
    passed = False
    try:
        creds_path = os.path.join(var, "credentials.env")
        run.start(timeout=40)
        sup = run.sup
        for f in ("credentials.env", "secret.key", "admin.password"):
            mode = stat.S_IMODE(os.stat(os.path.join(var, f)).st_mode)
            assert mode == 0o600, f"{f} has mode {oct(mode)}"
        with open(os.path.join(var, "secret.key")) as f:
            key = f.read().strip()
        assert len(key) == 64 and all(c in "0123456789abcdefABCDEF" for c in key)
        creds = {}
        with open(creds_path) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                creds[k] = v
        assert set(creds) == {"ROMA_URL", "ROMA_PROJECT_ID", "ROMA_INSTANCE_ID", "ROMA_TOKEN", "ROMA_AK",
                              "ROMA_SK"}, creds.keys()
        assert creds["ROMA_URL"] == f"http://127.0.0.1:{env['ROMA_HTTP_PORT']}"

        url = f"{creds['ROMA_URL']}/v2/{creds['ROMA_PROJECT_ID']}/instances/{creds['ROMA_INSTANCE_ID']}/apps"
        r = requests.get(url, headers={"X-Auth-Token": creds["ROMA_TOKEN"]}, timeout=5)
        assert r.status_code == 200, f"GET apps: {r.status_code} {r.text[:500]}"

        # kill -9 a worker (the broker if no worker binary is built yet) and see it come back
        run_dir = os.path.join(var, "run")
        names = sorted(n[:-4] for n in os.listdir(run_dir) if n.endswith(".pid"))
        workers = [n for n in names if "-worker-" in n]
        victim = workers[0] if workers else "broker"
        assert victim in names, f"nothing to kill: supervised processes are {names}"
        pid_file = os.path.join(run_dir, f"{victim}.pid")
        old = _read_pid(pid_file)
        assert old and _alive(old)
        seen = {n: _read_pid(os.path.join(run_dir, f"{n}.pid")) for n in names}
        os.kill(old, signal.SIGKILL)
        new = wait_for(lambda: (p := _read_pid(pid_file)) and p != old and _alive(p) and p, 10,
                       what=f"{victim} to be restarted")
        seen[victim + "-restarted"] = new

        def events():
            return [json.loads(line) for line in output().splitlines() if line.startswith("{")]
        wait_for(lambda: any(e["event"] == "process.restarted" and e.get("name") == victim and e.get("pid") == new
                             for e in events()), 5, what="the process.restarted log line")
        assert any(e["event"] == "process.exited" and e.get("name") == victim and e.get("pid") == old
                   and e.get("exit_code") == 137 for e in events()), output()[-3000:]
        assert not _alive(old)

        pg_pid = _read_pid(os.path.join(var, "pg", "data", "postmaster.pid"))
        assert pg_pid and _alive(pg_pid), "the throwaway PostgreSQL is not running"
        before = _procs_with_env(marker)
        assert {p for p, _ in before} >= set(seen.values()) - {old}, (before, seen)

        sup.send_signal(signal.SIGTERM)
        rc = sup.wait(30)
        assert rc == 0, f"run.sh exited {rc} after SIGTERM:\n{output()[-4000:]}"
        assert output().rstrip().splitlines()[-1].find('"run.exit"') > 0, output()[-2000:]
        left = _procs_with_env(marker)
        assert not left, f"processes left running after run.sh exited: {left}"
        assert not _alive(pg_pid), "PostgreSQL still running"
        assert not os.path.exists(os.path.join(var, "pg", "data", "postmaster.pid"))
        assert time.time() - t0 < BUDGET_S, f"took {time.time() - t0:.1f}s"
        passed = True
    finally:
        run.cleanup(remove=passed)


def test_supervisor_survives_repeated_kills():
    t0 = time.time()
    # short backoff so repeated kills of one process do not wait 30 s for its restart
    run = RunSh("makerun-kills", extra_env={"ROMA_BACKOFF_MAX": "2"})
    passed = False
    try:
        run.start()
        names = run.names()
        kinds = {n.rsplit("-", 1)[0] if "-worker-" in n else n for n in names}
        assert kinds == {"broker", "api", "asset-worker", "datasource-worker", "topic-worker"}, names
        first = {n: run.pid(n) for n in names}
        killed = []

        def kill(name):
            pid = run.pid(name)
            if pid and _alive(pid):
                os.kill(pid, signal.SIGKILL)
                killed.append((name, pid))

        # the repro: a random asset worker every 1.5 s, four times
        rnd = random.Random(8)
        for _ in range(4):
            kill(rnd.choice(["asset-worker-1", "asset-worker-2"]))
            time.sleep(1.5)
        # then every kind, twice, 0.3 s apart, and one process killed again right after its restart
        for _ in range(2):
            for name in rnd.sample(names, len(names)):
                kill(name)
                time.sleep(0.3)
        victim = "asset-worker-1"
        old = run.pid(victim)
        wait_for(lambda: (p := run.pid(victim)) and p != old and _alive(p), 10, what="asset-worker-1 back")
        kill(victim)

        def all_back():
            cur = {n: run.pid(n) for n in names}
            return all(p and _alive(p) and (n, p) not in killed for n, p in cur.items()) and cur
        cur = wait_for(all_back, 20, interval=0.1, what="every process restarted after the kills")
        assert set(cur) == set(names)
        ev = run.events()
        assert not [e for e in ev if e["event"] in ("run.exit", "run.stopping", "postgres.stopped")], \
            run.output()[-3000:]
        # no process was stopped by anything but our SIGKILLs: every exit is a 137, one per kill
        exits = [(e["name"], e["pid"], e["exit_code"]) for e in ev if e["event"] == "process.exited"]
        assert sorted(exits) == sorted((n, p, 137) for n, p in killed), (exits, killed)
        assert not any(p == first[n] for n, p in cur.items() if (n, first[n]) in killed)

        def serves():
            r = requests.get(run.base + run.inst("/apps"), headers={"X-Auth-Token": run.creds["ROMA_TOKEN"]}, timeout=5)
            return r.status_code == 200
        wait_for(serves, 20, interval=0.2, what="the API to serve again")
        # the processes stay up (nothing stops them a moment later, as the broken supervisor did)
        time.sleep(2)
        assert all(_alive(p) for p in cur.values()), {n: (p, _alive(p)) for n, p in cur.items()}
        assert {n: run.pid(n) for n in names} == cur

        before = {p for p, _ in _procs_with_env(run.marker)}
        assert before >= set(cur.values())
        rc = run.stop()
        assert rc == 0, f"run.sh exited {rc} after SIGTERM:\n{run.output()[-4000:]}"
        ev = run.events()
        assert ev[-1]["event"] == "run.exit" and sum(e["event"] == "run.exit" for e in ev) == 1, run.output()[-3000:]
        left = _procs_with_env(run.marker)
        assert not left, f"processes left running after run.sh exited: {left}"
        assert time.time() - t0 < BUDGET_S + 30, f"took {time.time() - t0:.1f}s"
        passed = True
    finally:
        run.cleanup(remove=passed)
