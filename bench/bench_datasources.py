"""bench_datasources.py: datasource connectivity checks per second through the whole pipeline, beside the
raw rate of the client library.

  ours      POST .../datasources/{id}/test-connect (no body: the stored config) with wrk -t1 -c16, through
            civetweb -> PostgreSQL (row read) -> broker -> roma-datasource-worker (check thread: TCP probe
            + connect + authenticate + close) -> PostgreSQL (outcome recorded) -> 200; with 1 and 2
            datasource workers (ROMA_DS_CONCURRENCY 4 each)
  baseline  bench/ds_baseline.c: the same client library (libmariadb / libpq) doing connect +
            authenticate + close in a loop on one thread, nothing else
Targets: a MariaDB started here (tests/servers.py recipe) and the bench's PostgreSQL with a scram
password role (tests/servers.setup_pg_checks). Figures are medians of nothing: one run each, same
invocation, DURATION seconds (ROMA_BENCH_DURATION).
"""
import os
import subprocess
import sys

from common import (RELEASE, ROOT, check_wrk, free_port, make_stack, note, pg_url, result, run_tag,
                    wrk)

sys.path.insert(0, os.path.join(ROOT, "tests"))
import servers  # noqa: E402

DURATION = int(os.environ.get("ROMA_BENCH_DURATION", "10"))
VAR = os.path.join(ROOT, "build", "bench-var")
# the bench's PostgreSQL directory (bench/run.sh: build/bench-var/pg); its socket directory is the same
PG_DIR = os.environ.get("ROMA_BENCH_PG_DIR", os.path.join(VAR, "pg"))


def build_baseline():
    subprocess.run(["make", "--no-print-directory", "-s", "MODE=release", "build/release/bench/ds_baseline"], cwd=ROOT,
                   check=True)
    return os.path.join(RELEASE, "bench", "ds_baseline")


def baseline(binary, kind, t, threads):
    argv = [binary, kind, t["host"], str(t["port"]), t["user"], t["password"], t["db"], str(DURATION), str(threads)]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=DURATION + 60)
    if r.returncode != 0:
        raise RuntimeError(f"ds_baseline {kind} failed: {r.stdout}{r.stderr}")
    # "<n> connects in <s> s: <rate> connects/s, <f> failures"
    return float(r.stdout.split(": ")[1].split()[0])


def through_api(dtype, content, workers):
    # the bench's servers are on loopback, the PostgreSQL one is the platform's own: a lab setup, so the
    # worker's network policy is opened explicitly (README, Datasources: network policy)
    stack = make_stack(workers={"datasource": workers}, name=f"bds_{dtype.lower()}_{workers}_{run_tag()}",
                       extra_env={"ROMA_DS_DENY_CIDRS": "169.254.0.0/16", "ROMA_DS_DENY_PLATFORM": "false"})
    try:
        c = stack.client()
        app = c.post(stack.inst("/apps"), json={"name": f"{run_tag()}app"})
        assert app.status_code == 201, app.text
        path = f"/v2/{stack.project_id}/fdi/instances/{stack.instance_id}/datasources"
        ds = c.post(path, json={"datasource_name": "bench", "datasource_type": dtype, "app_id": app.json()["id"],
                                "content": content})
        assert ds.status_code == 201, ds.text
        test = f"{path}/{ds.json()['datasource_id']}/test-connect"
        warm = c.post(test)
        assert warm.status_code == 200, warm.text
        res = wrk(f"{stack.base}{test}", script="wrk_post_empty.lua", script_args=(stack.token,), conns=16)
        check_wrk(f"{dtype} test-connect", res)
        note(f"{dtype} test-connect, {workers} worker(s): {res['rps']:.0f} checks/s, p50 {res['p50_ms']:.2f} ms, "
             f"p99 {res['p99_ms']:.2f} ms")
        return res["rps"]
    finally:
        stack.stop()


def main():
    pg_url()  # exits when not run through bench/run.sh
    binary = build_baseline()
    my, stop_my = servers.start_mariadb(os.path.join(VAR, f"ds-mariadb-{os.getpid()}"), free_port())
    try:
        pg_sock = PG_DIR
        port = int(pg_url().rsplit(":", 1)[1].split("/")[0])
        pgt = servers.setup_pg_checks(pg_sock, port)

        my_raw = baseline(binary, "mysql", my, 1)
        my_raw4 = baseline(binary, "mysql", my, 4)
        note(f"raw libmariadb connect+auth+close: {my_raw:.0f}/s on 1 thread, {my_raw4:.0f}/s on 4 threads")
        pg_raw = baseline(binary, "pg", pgt, 1)
        pg_raw4 = baseline(binary, "pg", pgt, 4)
        note(f"raw libpq connect+auth(scram)+close: {pg_raw:.0f}/s on 1 thread, {pg_raw4:.0f}/s on 4 threads")

        myc = {"mode": "default", "host": my["host"], "port": str(my["port"]), "database_name": my["db"],
               "user_name": my["user"], "password": my["password"]}
        pgc = {"mode": "default", "host": pgt["host"], "port": str(pgt["port"]), "database_name": pgt["db"],
               "user_name": pgt["user"], "password": pgt["password"]}
        figures = {}
        for dtype, content in (("MYSQL", myc), ("POSTGRESQL", pgc)):
            for n in (1, 2):
                figures[(dtype, n)] = through_api(dtype, content, n)
    finally:
        stop_my()
        subprocess.run(["rm", "-rf", os.path.join(VAR, f"ds-mariadb-{os.getpid()}")], check=False)

    result("mysql-check-1w/raw-connect", figures[("MYSQL", 1)], my_raw, unit="checks/s", baseline_unit="connects/s")
    result("mysql-check-2w/raw-connect", figures[("MYSQL", 2)], my_raw, unit="checks/s", baseline_unit="connects/s")
    result("pg-check-1w/raw-connect", figures[("POSTGRESQL", 1)], pg_raw, unit="checks/s", baseline_unit="connects/s")
    result("pg-check-2w/raw-connect", figures[("POSTGRESQL", 2)], pg_raw, unit="checks/s", baseline_unit="connects/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
