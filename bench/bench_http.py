"""bench_http.py: API throughput against the machine's own ceilings, each figure one run, same invocation.

  create-app   POST .../apps (unique name per request, 201)   vs  pgbench single-row INSERT, 8 clients,
                                                                  -M prepared, same PostgreSQL server
  show-app     GET .../apps/{app_id} (200)                     vs  civetweb hello world (bench/hello.c)
All HTTP figures: wrk -t1 -c32 -d${ROMA_BENCH_DURATION:-10}s with keep-alive and an X-Auth-Token.
"""
import sys

from common import (Server, build_hello, check_wrk, create_database, free_port, make_stack, note, pgbench,
                    psql, result, run_tag, wrk)

INSERT_SQL = """\\set k random(1, 1000000000)
INSERT INTO bench_apps (name, remark, props) VALUES ('app_' || :k, 'bench', jsonb_build_object('k', (:k)::int));
"""


def main():
    # 1. baseline: civetweb alone
    hello = Server([build_hello(), str(port := free_port())], ready_url=f"http://127.0.0.1:{port}/")
    try:
        h = wrk(f"http://127.0.0.1:{port}/")
        check_wrk("hello", h)
    finally:
        hello.stop()
    note(f"hello: {h['rps']:.0f} req/s, p50 {h['p50_ms']:.2f} ms, p99 {h['p99_ms']:.2f} ms")

    # 2. baseline: one durable single-row INSERT per transaction, straight into the same PostgreSQL
    url = create_database("bench_pg_insert")
    psql(url, "CREATE TABLE bench_apps (id bigserial PRIMARY KEY, name text NOT NULL, remark text, props jsonb, "
              "created_at timestamptz NOT NULL DEFAULT now())")
    pg = pgbench(url, INSERT_SQL, clients=8, threads=2)
    note(f"pg-insert: {pg['tps']:.0f} tx/s, latency avg {pg['latency_ms']:.2f} ms (pgbench -c8 -j2 -M prepared)")

    # 3. the API
    stack = make_stack(workers={}, name=f"bench_http_{run_tag()}")
    try:
        apps = f"{stack.base}{stack.inst('/apps')}"
        c = wrk(apps, script="wrk_create_app.lua", script_args=(stack.token, run_tag()))
        check_wrk("create-app", c)
        made = int(stack.sql("SELECT count(*) FROM apps"))
        note(f"create-app: {c['rps']:.0f} req/s, p50 {c['p50_ms']:.2f} ms, p99 {c['p99_ms']:.2f} ms, "
             f"{made} apps in the database after {c['requests']} responses")

        r = stack.client().post(stack.inst("/apps"), json={"name": f"{run_tag()}_show"})
        assert r.status_code == 201, (r.status_code, r.text)
        app_id = r.json()["id"]
        s = wrk(f"{apps}/{app_id}", script="wrk_get.lua", script_args=(stack.token,))
        check_wrk("show-app", s)
        note(f"show-app: {s['rps']:.0f} req/s, p50 {s['p50_ms']:.2f} ms, p99 {s['p99_ms']:.2f} ms")
    finally:
        stack.stop()

    result("create-app/pg-insert", c["rps"], pg["tps"], unit="req/s", baseline_unit="tx/s")
    result("show-app/hello", s["rps"], h["rps"], unit="req/s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
