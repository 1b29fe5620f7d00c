"""test_auth_hardening.py: issue 8, findings 12, 13 and 15.

- 15: concurrent polls of asset jobs, apps and other reads on one API (32 threads, 16 pooled connections)
  leave no `prepared statement ... already exists / does not exist` line in PostgreSQL's log (the
  per-connection statement cache of common/db.c). tests/helpers/db_stress drives the cache directly with
  hundreds of statements per connection, resets and re-opened connections, which the old global table
  (slots keyed by PGconn address, replaced on collision) could not survive without such errors.
"""
import concurrent.futures
import os
import subprocess

import pg_log
from asset_helpers import create_apps, submit, wait_job
from conftest import BUILD, PG_LOG


# ---- 15: the prepared-statement cache under concurrency ------------------------------------------------

def _read_paths(s, app_ids, job_ids):
    """Distinct read routes (so many distinct statements land on every pooled connection)."""
    paths = []
    for a in app_ids:
        paths += [s.inst(f"/apps/{a}"), s.inst(f"/apps/{a}/secret"), s.inst(f"/apps/{a}/users"),
                  s.inst(f"/apps/{a}/candidates")]
    for j in job_ids:
        paths.append(s.inst(f"/assets/jobs/{j}"))
    paths += [s.inst("/apps"), s.inst("/apps?name=poll&limit=5"), s.inst("/apps?offset=1&limit=2"),
              f"/v2/{s.project_id}/fdi/instances/{s.instance_id}/datasources",
              f"/v2/{s.project_id}/mqs/instances/{s.instance_id}", f"/v2/{s.project_id}/mqs/instances?include_internal=true",
              f"/v2/{s.project_id}/mqs/instances/{s.instance_id}/topics", "/readyz"]
    return paths


def test_statement_cache_is_exact_per_connection(pg):
    """8 threads x 400 distinct statements x 9 rounds, with PQreset and re-opened connections between
    rounds: every answer right and not one failed PREPARE / EXECUTE in the server log."""
    start = pg_log.offset(PG_LOG)
    r = subprocess.run([os.path.join(BUILD, "tests", "helpers", "db_stress"), pg, "8", "400", "9"],
                       capture_output=True, text=True, timeout=240)
    assert r.returncode == 0, r.stdout + r.stderr
    bugs = pg_log.bug_lines(PG_LOG, start)
    assert not bugs, "\n".join(bugs)


def test_concurrent_polls_leave_no_prepared_statement_errors(make_stack):
    s = make_stack(workers={"asset": 1}, extra_env={"ROMA_DB_POOL_SIZE": "16", "ROMA_HTTP_THREADS": "32"})
    apps = [a["id"] for a in create_apps(s, 4, prefix="poll")]
    jobs = []
    for a in apps[:2]:
        r = submit(s, "export", apps=[a])
        assert r.status_code == 200, r.text
        jobs.append(r.json()["job_id"])
    for j in jobs:
        assert wait_job(s, j)["status"] == "SUCCEEDED"
    paths = _read_paths(s, apps, jobs)
    start = pg_log.offset(PG_LOG)

    def worker(k):
        c = s.client()  # one keep-alive session per thread
        bad = []
        for i in range(40):
            p = paths[(k * 7 + i) % len(paths)]
            r = c.get(p)
            if r.status_code != 200:
                bad.append((p, r.status_code, r.text[:200]))
        return bad

    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        failures = [b for bad in ex.map(worker, range(32)) for b in bad]
    assert not failures, failures[:5]
    bugs = pg_log.bug_lines(PG_LOG, start)
    assert not bugs, "\n".join(bugs)
    assert os.path.exists(PG_LOG), "the pg fixture's server log moved: pg_log cannot check it"
