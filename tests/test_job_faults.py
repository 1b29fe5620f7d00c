"""test_job_faults.py: asset jobs survive what happens to the processes around them, with real processes on
private stacks: an asset worker killed with SIGKILL mid-job, a broker restart, commands dropped while no
worker runs, a frozen worker whose stale attempt is fenced out, SIGTERM handing a job back, attempts
running out. Every job must finish exactly once (one archive, deletions applied once, no duplicate
reasons).

Jobs are slowed down with the test-only ROMA_ASSET_TEST_DELAY_MS (sleep between steps) and small
batches so the faults land mid-job; leases are shortened to keep each test well under 30 s."""
import io
import json
import os
import re
import signal
import time
import zipfile

from asset_helpers import create_apps, create_apps_sql, job, submit, wait_job
from conftest import wait_for

SLOW = {"ROMA_ASSET_TEST_DELAY_MS": "150", "ROMA_ASSET_BATCH_SIZE": "5", "ROMA_JOB_LEASE_MS": "2000",
        "ROMA_JOB_HEARTBEAT_MS": "400"}


def seed_apps(stack, n, prefix):
    first = create_apps(stack, 1, prefix=prefix + "api")
    return [first[0]["id"]] + create_apps_sql(stack, n - 1, prefix)


def holder(stack, job_id, min_progress=0.1, min_attempt=1, timeout=15):
    """Waits until a worker holds job_id (attempt >= min_attempt) with some progress; returns (Proc, attempt)."""
    def held():
        row = stack.sql(f"SELECT lease_owner, attempt, progress FROM asset_jobs WHERE id = '{job_id}'"
                        " AND status = 'RUNNING'")
        if not row:
            return None
        owner, attempt, progress = row.split("|")
        ok = owner and float(progress) >= min_progress and int(attempt) >= min_attempt
        return (owner, int(attempt)) if ok else None
    owner, attempt = wait_for(held, timeout, what=f"job {job_id} running")
    pid = int(owner.split(":")[1])
    procs = [p for p in stack.procs.values() if p.p.pid == pid]
    assert procs, f"no process with pid {pid} ({owner})"
    return procs[0], attempt


def archive_count(stack, job_id):
    return int(stack.sql(f"SELECT count(*) FROM asset_archives WHERE job_id = '{job_id}'"))


def test_sigkill_mid_export_is_recovered_by_the_other_worker(make_stack):
    s = make_stack(workers={"asset": 2}, extra_env=SLOW)
    ids = seed_apps(s, 40, "k9e")
    job_id = submit(s, "export", body={"apps": []}).json()["job_id"]
    victim, attempt = holder(s, job_id)
    victim.kill9()
    t_kill = time.time()
    final = wait_job(s, job_id, timeout=10)
    recovery = time.time() - t_kill
    print(f"\nrecovery after SIGKILL (export, lease 2000 ms): {recovery:.2f} s")
    assert final["status"] == "SUCCEEDED", final
    assert recovery < 5.0
    assert int(s.sql(f"SELECT attempt FROM asset_jobs WHERE id = '{job_id}'")) == attempt + 1
    assert archive_count(s, job_id) == 1
    package = s.client().get(s.inst(f"/assets/archives/{final['archive_id']}")).content
    manifest = json.loads(zipfile.ZipFile(io.BytesIO(package)).read("manifest.json"))
    assert sorted(a["id"] for a in manifest["apps"]) == sorted(ids)


def test_sigkill_mid_delete_applies_deletions_once(make_stack):
    s = make_stack(workers={"asset": 2}, extra_env=SLOW)
    ids = seed_apps(s, 30, "k9d")
    job_id = submit(s, "delete", ids, ["no-such-task"]).json()["job_id"]
    victim, _ = holder(s, job_id)
    victim.kill9()
    t_kill = time.time()
    final = wait_job(s, job_id, timeout=10)
    print(f"\nrecovery after SIGKILL (delete): {time.time() - t_kill:.2f} s")
    assert time.time() - t_kill < 5.0
    # deleted once: every app gone, and only the one task reason (no duplicates from the dead attempt)
    assert final["status"] == "FAILED" and len(final["reasons"]) == 1, final
    assert final["reasons"][0]["resource_name"] == "no-such-task"
    assert s.sql("SELECT count(*) FROM apps WHERE name LIKE 'k9d%'") == "0"


def test_broker_restart_mid_jobs_every_job_finishes_once(make_stack):
    s = make_stack(workers={"asset": 2}, extra_env=dict(SLOW, ROMA_JOB_DISPATCH_GRACE_MS="500",
                                                         ROMA_JOB_RETRY_MAX_MS="1000"))
    seed_apps(s, 20, "brk")
    jobs = [submit(s, "export", body={"apps": []}).json()["job_id"] for _ in range(6)]
    holder(s, jobs[0])
    s.procs["broker"].stop()
    # submitted while the broker is down: the doorbell is lost, the row is not
    jobs += [submit(s, "export", body={"apps": []}).json()["job_id"] for _ in range(2)]
    time.sleep(0.5)
    s.start_broker()
    finals = [wait_job(s, j, timeout=25) for j in jobs]
    assert [f["status"] for f in finals] == ["SUCCEEDED"] * len(jobs), finals
    assert all(archive_count(s, j) == 1 for j in jobs)
    assert int(s.sql("SELECT count(*) FROM asset_archives")) == len(jobs)


def test_command_dropped_without_workers_is_redispatched(make_stack):
    s = make_stack(workers={"asset": 0}, extra_env={"ROMA_JOB_DISPATCH_GRACE_MS": "300",
                                                     "ROMA_JOB_RETRY_MAX_MS": "1000"})
    [app] = create_apps(s, 1)
    job_id = submit(s, "export", [app["id"]]).json()["job_id"]
    wait_for(lambda: int(s.sql(f"SELECT dispatches FROM asset_jobs WHERE id = '{job_id}'")) >= 2, 10,
             what="sweeper re-dispatches")
    assert job(s, job_id)["status"] == "RUNNING"  # PENDING is shown as RUNNING
    s.start_worker("asset")
    t0 = time.time()
    final = wait_job(s, job_id, timeout=10)
    print(f"\nworker started -> SUCCEEDED: {time.time() - t0:.2f} s")
    assert final["status"] == "SUCCEEDED" and archive_count(s, job_id) == 1


def test_frozen_worker_is_fenced_out(make_stack):
    env = dict(SLOW, ROMA_JOB_LEASE_MS="1000", ROMA_JOB_HEARTBEAT_MS="200")
    s = make_stack(workers={"asset": 1}, extra_env=env)
    seed_apps(s, 40, "frz")
    job_id = submit(s, "export", body={"apps": []}).json()["job_id"]
    frozen, attempt = holder(s, job_id)
    os.kill(frozen.p.pid, signal.SIGSTOP)  # alive but silent: its lease expires
    try:
        s.start_worker("asset")
        final = wait_job(s, job_id, timeout=15)
        assert final["status"] == "SUCCEEDED"
    finally:
        os.kill(frozen.p.pid, signal.SIGCONT)
    # the stale attempt wakes up: every write it tries is fenced (attempt mismatch) and it stops
    wait_for(lambda: re.search(r'"job\.(fenced|lease_lost)"', frozen.log_text()), 10, what="stale attempt fenced")
    time.sleep(0.5)
    row = s.sql(f"SELECT status, attempt FROM asset_jobs WHERE id = '{job_id}'")
    assert row == f"SUCCEEDED|{attempt + 1}"
    assert archive_count(s, job_id) == 1
    assert frozen.alive()


def test_sigterm_gives_the_job_back(make_stack):
    s = make_stack(workers={"asset": 1}, extra_env=SLOW)
    seed_apps(s, 40, "trm")
    job_id = submit(s, "export", body={"apps": []}).json()["job_id"]
    leaving, _ = holder(s, job_id)
    s.start_worker("asset")
    assert leaving.stop() == 0  # clean exit
    final = wait_job(s, job_id, timeout=15)
    assert final["status"] == "SUCCEEDED" and archive_count(s, job_id) == 1
    assert '"job.released"' in leaving.log_text()
    # a graceful release does not spend the attempt budget
    assert s.sql(f"SELECT max_attempts - attempt FROM asset_jobs WHERE id = '{job_id}'") == "4"


def test_attempts_run_out(make_stack):
    s = make_stack(workers={"asset": 1}, extra_env=dict(SLOW, ROMA_JOB_MAX_ATTEMPTS="2", ROMA_JOB_LEASE_MS="1000",
                                                         ROMA_JOB_HEARTBEAT_MS="200"))
    seed_apps(s, 40, "out")
    job_id = submit(s, "export", body={"apps": []}).json()["job_id"]
    for expected in (1, 2):
        victim, attempt = holder(s, job_id, min_progress=0, min_attempt=expected)
        assert attempt == expected
        victim.kill9()
        if expected == 1:
            s.start_worker("asset")
    final = wait_job(s, job_id, timeout=10)
    assert final["status"] == "FAILED"
    assert [r["error_code"] for r in final["reasons"]] == ["ROMA.00015003"]
    assert archive_count(s, job_id) == 0


def test_two_api_replicas_share_the_sweep(make_stack):
    from conftest import free_port
    # small sweep batches: with the default of 100 one replica's sweep takes all 20 due jobs every round
    # and, depending on the phase of the two timers, the other may never find one left to re-dispatch
    s = make_stack(workers={"asset": 0}, extra_env={"ROMA_JOB_DISPATCH_GRACE_MS": "200", "ROMA_JOB_RETRY_BASE_MS": "200",
                                                     "ROMA_JOB_RETRY_MAX_MS": "400", "ROMA_SWEEP_BATCH": "3",
                                                     "ROMA_SWEEP_INTERVAL_MS": "100"})
    other = s.start_api("api2", port=free_port())
    [app] = create_apps(s, 1)
    jobs = [submit(s, "export", [app["id"]]).json()["job_id"] for _ in range(20)]
    wait_for(lambda: '"job.redispatch"' in other.log_text() and '"job.redispatch"' in s.procs["api"].log_text(), 10,
             what="both replicas re-dispatching")
    s.start_worker("asset")
    finals = [wait_job(s, j, timeout=15) for j in jobs]
    assert {f["status"] for f in finals} == {"SUCCEEDED"}
    assert s.sql("SELECT count(*), count(DISTINCT job_id), max(attempt) FROM asset_archives"
                 " JOIN asset_jobs j ON j.id = job_id") == "20|20|1"
