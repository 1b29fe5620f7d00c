"""bench_jobs.py: the asset-job pipeline end to end (HTTP submit -> PostgreSQL row -> bus -> asset worker ->
fenced finish), against the database's own ceiling for the claim step.

  jobs-Nw            single-app exports per second with N asset workers (concurrency 2 each): a burst of
                     ROMA_BENCH_JOBS_PER_WORKER * N jobs submitted by 8 threads; rate = jobs /
                     (last end_time - first created_at), database timestamps
  submit->start/done latency p50/p99 of jobs submitted one at a time (closed loop, 1 worker), from
                     created_at / begin_time / end_time of the job rows (no polling error)
  baseline           pgbench running the claim query UPDATE ... WHERE id = (SELECT id ... FOR UPDATE SKIP
                     LOCKED LIMIT 1) on a scratch table of PENDING rows, 8 clients, -M prepared
  export-10k         one export of 10,000 apps: duration and peak RSS (VmHWM) of the worker, API, broker
"""
import os
import sys
import threading
import time

from common import create_database, make_stack, note, pgbench, psql, result, run_tag

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from asset_helpers import create_apps, create_apps_sql, wait_job  # noqa: E402

PER_WORKER = int(os.environ.get("ROMA_BENCH_JOBS_PER_WORKER", "150"))
LATENCY_JOBS = int(os.environ.get("ROMA_BENCH_LATENCY_JOBS", "60"))

CLAIM_SETUP = """
CREATE TABLE jobs (id bigserial PRIMARY KEY, status text NOT NULL DEFAULT 'PENDING', attempt int NOT NULL DEFAULT 0,
                   lease_owner text, lease_expires_at timestamptz, payload jsonb);
CREATE INDEX jobs_pending_idx ON jobs (id) WHERE status = 'PENDING';
INSERT INTO jobs (payload) SELECT jsonb_build_object('job_id', md5(g::text)) FROM generate_series(1, 300000) g;
"""
CLAIM_SQL = """UPDATE jobs SET status = 'RUNNING', attempt = attempt + 1, lease_owner = 'bench',
  lease_expires_at = now() + interval '3 s'
  WHERE id = (SELECT id FROM jobs WHERE status = 'PENDING' ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING id;
"""


def pct(values, p):
    v = sorted(values)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))]


def burst(stack, app_id, n, threads=8):
    """Submits n single-app exports from `threads` threads; returns the job ids."""
    ids, lock = [], threading.Lock()
    per = [n // threads + (1 if i < n % threads else 0) for i in range(threads)]

    def run(k):
        c = stack.client()
        for _ in range(k):
            r = c.post(stack.inst("/assets/export"), json={"apps": [{"id": app_id}]})
            assert r.status_code == 200, r.text
            with lock:
                ids.append(r.json()["job_id"])
    ts = [threading.Thread(target=run, args=(k,)) for k in per]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return ids


def wait_all(stack, n, timeout=300):
    end = time.time() + timeout
    while time.time() < end:
        left = int(stack.sql("SELECT count(*) FROM asset_jobs WHERE status IN ('PENDING', 'RUNNING')"))
        if left == 0:
            break
        time.sleep(0.2)
    done = stack.sql("SELECT count(*) FILTER (WHERE status = 'SUCCEEDED'), count(*) FROM asset_jobs")
    ok, total = map(int, done.split("|"))
    assert ok == total == n, f"{ok} of {total} jobs SUCCEEDED (expected {n})"


def throughput(workers):
    stack = make_stack(workers={"asset": workers}, name=f"bench_jobs{workers}_{run_tag()}")
    try:
        [app] = create_apps(stack, 1)
        n = PER_WORKER * workers
        t0 = time.time()
        burst(stack, app["id"], n)
        submit_s = time.time() - t0
        wait_all(stack, n)
        span = float(stack.sql("SELECT extract(epoch FROM max(end_time) - min(created_at)) FROM asset_jobs"))
        dup = stack.sql("SELECT count(*) FROM asset_jobs WHERE attempt > 1")
        note(f"{workers} worker(s): {n} jobs in {span:.2f} s (submitted in {submit_s:.2f} s), "
             f"{n / span:.0f} jobs/s, {dup} jobs needed more than one attempt")
        return n / span
    finally:
        stack.stop()


def latency():
    stack = make_stack(workers={"asset": 1}, name=f"bench_joblat_{run_tag()}")
    try:
        [app] = create_apps(stack, 1)
        c = stack.client()
        for _ in range(LATENCY_JOBS):
            r = c.post(stack.inst("/assets/export"), json={"apps": [{"id": app["id"]}]})
            assert wait_job(stack, r.json()["job_id"], timeout=10)["status"] == "SUCCEEDED"
        rows = stack.sql("SELECT extract(epoch FROM begin_time - created_at) * 1000 || '|' ||"
                         " extract(epoch FROM end_time - created_at) * 1000 FROM asset_jobs").split()
        start = [float(x.split("|")[0]) for x in rows]
        done = [float(x.split("|")[1]) for x in rows]
        return start, done
    finally:
        stack.stop()


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def export_10k():
    stack = make_stack(workers={"asset": 1}, name=f"bench_job10k_{run_tag()}")
    try:
        create_apps(stack, 1, prefix="seed")
        create_apps_sql(stack, 9999, "big")
        t0 = time.time()
        r = stack.client().post(stack.inst("/assets/export"), json={"apps": []})
        final = wait_job(stack, r.json()["job_id"], timeout=300)
        secs = time.time() - t0
        assert final["status"] == "SUCCEEDED", final
        body = stack.client().get(stack.inst(f"/assets/archives/{final['archive_id']}")).content
        rss = {k: rss_mb(p.p.pid) for k, p in stack.procs.items() if p.alive()}
        note(f"export of 10000 apps: {secs:.2f} s, zip {len(body) / 1e6:.1f} MB; peak RSS (VmHWM) " +
             ", ".join(f"{k} {v:.1f} MB" for k, v in sorted(rss.items())))
        return rss
    finally:
        stack.stop()


def main():
    url = create_database("bench_pg_claim")
    psql(url, CLAIM_SETUP)
    psql(url, "VACUUM ANALYZE jobs")  # its own statement: VACUUM cannot run in psql -c's transaction
    base = pgbench(url, CLAIM_SQL, clients=8, threads=2)
    note(f"pg-claim: {base['tps']:.0f} tx/s, latency avg {base['latency_ms']:.2f} ms (pgbench -c8 -j2 -M prepared)")

    one = throughput(1)
    three = throughput(3)
    start, done = latency()
    note(f"submit->worker start: p50 {pct(start, 50):.1f} ms, p99 {pct(start, 99):.1f} ms; "
         f"submit->SUCCEEDED: p50 {pct(done, 50):.1f} ms, p99 {pct(done, 99):.1f} ms ({len(done)} jobs, closed loop)")
    rss = export_10k()

    result("jobs-1w/pg-claim", one, base["tps"], unit="jobs/s", baseline_unit="tx/s")
    result("jobs-3w/pg-claim", three, base["tps"], unit="jobs/s", baseline_unit="tx/s")
    print(f"job-start-p50/pg-claim-latency: ours {pct(start, 50):.2f} ms | baseline {base['latency_ms']:.2f} ms | "
          f"ratio {pct(start, 50) / base['latency_ms']:.2f}", flush=True)
    print(f"job-done-p99/pg-claim-latency: ours {pct(done, 99):.2f} ms | baseline {base['latency_ms']:.2f} ms | "
          f"ratio {pct(done, 99) / base['latency_ms']:.2f}", flush=True)
    worst = max(rss.values())
    print(f"export-10k-peak-rss/limit: ours {worst:.1f} MB | baseline 64 MB | ratio {worst / 64:.2f}", flush=True)
    return 0 if worst < 64 else 1


if __name__ == "__main__":
    sys.exit(main())
