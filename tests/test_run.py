"""test_run.py: black-box test of scripts/run.sh, the script behind `make run`.

Runs it with release binaries, private ports and a private ROMA_VAR_DIR, then checks: credentials.env
is written (0600) and its token lists apps; a worker killed with SIGKILL is restarted by the supervisor
(new pid, JSON log line); SIGTERM to the supervisor stops every process it started, PostgreSQL included,
and exits 0. "Every process" = every live process whose environment carries our ROMA_VAR_DIR, so a
child the test does not know about would be caught too.
"""
import glob
import json
import os
import shutil
import signal
import stat
import subprocess
import time

import requests

from conftest import ROOT, free_port, wait_for

BUDGET_S = 60


def _procs_with_env(marker):
    """Live (non-zombie) pids whose environment contains marker (bytes)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            if state == b"Z":
                continue
            with open(f"/proc/{d}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    with open(f"/proc/{d}/cmdline", "rb") as f2:
                        found.append((int(d), f2.read().replace(b"\0", b" ").decode(errors="replace")))
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return found


def _read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().strip())  # postmaster.pid: the pid is the first line
    except (FileNotFoundError, ValueError):
        return None


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


def test_make_run_script():
    t0 = time.time()
    # leftovers of earlier sessions (kept for diagnosis when they failed)
    # (its own prefix: run-<pid> directories belong to live pytest sessions and their PostgreSQL)
    for old_var in glob.glob(os.path.join(ROOT, "build", "test-var", "makerun-*")):
        subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", os.path.join(old_var, "pg")],
                       capture_output=True)
        shutil.rmtree(old_var, ignore_errors=True)
    var = os.path.join(ROOT, "build", "test-var", f"makerun-{os.getpid()}")
    os.makedirs(var)
    env = {k: v for k, v in os.environ.items() if not k.startswith("ROMA_")}
    env.update({
        "ROMA_VAR_DIR": var,
        "ROMA_BUILD_DIR": "build/release",
        "ROMA_HTTP_PORT": str(free_port()),
        "ROMA_PG_PORT": str(free_port()),
        "ROMA_BROKER_FRONTEND": f"tcp://127.0.0.1:{free_port()}",
        "ROMA_BROKER_BACKEND": f"tcp://127.0.0.1:{free_port()}",
        "ROMA_ASSET_WORKERS": "2",
        "ROMA_READY_TIMEOUT": "30",
    })
    out_path = os.path.join(var, "supervisor.out")
    out = open(out_path, "wb")
    sup = subprocess.Popen([os.path.join(ROOT, "scripts", "run.sh")], cwd=ROOT, env=env, stdout=out,
                           stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def output():
        with open(out_path, "rb") as f:
            return f.read().decode(errors="replace")

    marker = f"ROMA_VAR_DIR={var}".encode()
    passed = False
    try:
        creds_path = os.path.join(var, "credentials.env")
        wait_for(lambda: "Press Ctrl-C" in output() or sup.poll() is not None, 40, interval=0.1,
                 what="run.sh to start the stack")
        assert sup.poll() is None, f"run.sh exited with {sup.returncode}:\n{output()[-4000:]}"
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
        if sup.poll() is None:
            os.killpg(sup.pid, signal.SIGKILL)
            sup.wait()
        for pid, _ in _procs_with_env(marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", os.path.join(var, "pg")],
                       capture_output=True)
        out.close()
        if passed:
            shutil.rmtree(var, ignore_errors=True)
