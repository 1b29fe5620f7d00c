"""bench_topics.py: MQS messages through the REST data plane (HTTP -> API -> bus -> topic manager ->
openroma-pg engine -> PostgreSQL), against raw PostgreSQL moving rows of the same shape.

  produce-1KBx10           messages/s: wrk, 16 connections, POST /v1/topic/T/messages with batches of 10
                           messages of 1 KB (HTTP Basic app credentials), topic with sync_message_flush
                           false (ROMA's default: commit without waiting for fsync); each request is one
                           mqs_append() transaction
                           baseline: pgbench, 8 clients, one transaction inserting 10 rows of the
                           mqs_messages shape (1 KB content), synchronous_commit off = rows/s
  produce-1KBx10-syncflush the same on a topic with sync_message_flush true (every append waits for fsync)
                           baseline: the same pgbench insert with synchronous_commit on
  consume+ack-1KBx10       messages/s consumed AND acknowledged: wrk, 16 connections alternating GET
                           (max_msgs=10, leases) and POST ack of what came back, one consumer group, over
                           the messages produced above
                           baseline: pgbench, 8 clients, SELECT of 10 consecutive rows by primary key =
                           rows/s (a lower bound of the work: our fetch also writes a lease per message
                           and the ack deletes it)
"""
import base64
import os
import re
import subprocess

from common import (BENCH_DIR, DURATION, create_database, make_stack, note, pgbench, psql, result, run_tag)

sys_path_tests = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests")
import sys  # noqa: E402

sys.path.insert(0, sys_path_tests)
from mqs_helpers import create_topic, make_app  # noqa: E402

BATCH = 10
SIZE = 1024
CONNS = int(os.environ.get("ROMA_BENCH_MQS_CONNS", "16"))

TABLE = """
CREATE TABLE m (topic_id bigint NOT NULL, partition int NOT NULL, "offset" bigint NOT NULL, ts bigint NOT NULL,
                msg_id text NOT NULL DEFAULT '', content text NOT NULL, PRIMARY KEY (topic_id, partition, "offset"));
CREATE INDEX m_ts_idx ON m (topic_id, ts);
CREATE SEQUENCE m_seq;
"""
INSERT_SQL = f"""\\set p random(0, 2)
INSERT INTO m SELECT 1, :p, nextval('m_seq'), (extract(epoch FROM clock_timestamp()) * 1000)::bigint, 'm' || g,
  repeat('x', {SIZE}) FROM generate_series(1, {BATCH}) g;
"""
SELECT_SQL = f"""\\set o random(1, 200000)
SELECT "offset", ts, msg_id, content FROM m WHERE topic_id = 1 AND partition = 0 AND "offset" >= :o
  ORDER BY "offset" LIMIT {BATCH};
"""


def wrk_lua(url, script, args, conns=CONNS):
    argv = ["wrk", "-t1", f"-c{conns}", f"-d{DURATION}s", "--latency", "-s", os.path.join(BENCH_DIR, script), url,
            "--", *args]
    r = subprocess.run(argv, capture_output=True, text=True, timeout=DURATION + 60)
    out = r.stdout + r.stderr
    if r.returncode != 0:
        raise RuntimeError(f"wrk failed:\n{out}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    total = int(re.search(r"(\d+) requests in", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    p50 = re.search(r"^\s+50%\s+(\S+)", out, re.M)
    p99 = re.search(r"^\s+99%\s+(\S+)", out, re.M)
    secs = float(re.search(r"requests in ([\d.]+)(m?s)", out).group(1))
    if re.search(r"requests in [\d.]+ms", out):
        secs /= 1000.0
    return {"rps": rps, "requests": total, "non2xx": int(non2xx.group(1)) if non2xx else 0, "secs": secs,
            "p50": p50.group(1) if p50 else "?", "p99": p99.group(1) if p99 else "?", "output": out}


def main():
    stack = make_stack(workers={"topic": 1}, extra_env={"ROMA_LOG_LEVEL": "warn"})
    try:
        cli = stack.client()
        app = make_app(stack, cli, name=run_tag())
        topic = create_topic(stack, cli, app, name=run_tag() + "t", partition=3)
        synct = create_topic(stack, cli, app, name=run_tag() + "s", partition=3, sync_message_flush=True)
        basic = base64.b64encode(f"{app.key}:{app.secret}".encode()).decode()
        rates = {}
        for name, t in (("sync", synct), ("async", topic)):
            prod = wrk_lua(f"{stack.base}/v1/topic/{t}/messages", "wrk_mqs_produce.lua", [basic, str(BATCH), str(SIZE)])
            if prod["non2xx"]:
                raise RuntimeError(f"produce: {prod['non2xx']} non-2xx answers\n{prod['output']}")
            stored = int(stack.sql(f"SELECT count(*) FROM mqs_messages m JOIN mqs_topics x ON x.id = m.topic_id"
                                   f" WHERE x.name = '{t}'"))
            rates[name] = stored / prod["secs"]
            note(f"produce ({name} commit): {prod['requests']} requests ({prod['rps']:.0f} req/s, p50 {prod['p50']},"
                 f" p99 {prod['p99']}), {stored} messages stored")

        cons = wrk_lua(f"{stack.base}/v1/topic/{topic}/group/bench/messages", "wrk_mqs_consume.lua", [basic])
        m = re.search(r"CONSUMED (\d+) ACKED (\d+)", cons["output"])
        consumed, acked = (int(m.group(1)), int(m.group(2))) if m else (0, 0)
        if cons["non2xx"] or not consumed:
            raise RuntimeError(f"consume: {cons['non2xx']} non-2xx answers, {consumed} consumed\n{cons['output']}")
        consume_rate = acked / cons["secs"]
        note(f"consume: {cons['requests']} requests (GET + ack, p50 {cons['p50']}, p99 {cons['p99']}),"
             f" {consumed} received, {acked} acknowledged" + (" (topic drained: rate is a lower bound)"
                                                               if consumed >= stored else ""))
        codes = stack.stop()
        if any(codes.values()):
            raise RuntimeError(f"unclean exit codes {codes}")
    except BaseException:
        stack.stop()
        raise

    url = create_database("bench_mqs_" + run_tag())
    psql(url, TABLE)
    ins_sync = pgbench(url, INSERT_SQL, clients=8, threads=2)
    psql(url, f"ALTER DATABASE \"{url.rsplit('/', 1)[1]}\" SET synchronous_commit = off")  # new sessions only
    ins = pgbench(url, INSERT_SQL, clients=8, threads=2)
    psql(url, f"INSERT INTO m SELECT 1, 0, g, 0, 'm', repeat('x', {SIZE}) FROM generate_series(1, 200100) g"
              " ON CONFLICT DO NOTHING")
    psql(url, "VACUUM ANALYZE m")
    sel = pgbench(url, SELECT_SQL, clients=8, threads=2)
    result("produce-1KBx10", rates["async"], ins["tps"] * BATCH, unit="msg/s", baseline_unit="rows/s")
    result("produce-1KBx10-syncflush", rates["sync"], ins_sync["tps"] * BATCH, unit="msg/s", baseline_unit="rows/s")
    result("consume+ack-1KBx10", consume_rate, sel["tps"] * BATCH, unit="msg/s", baseline_unit="rows/s")


if __name__ == "__main__":
    main()
