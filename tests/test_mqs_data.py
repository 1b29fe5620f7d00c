"""test_mqs_data.py: the MQS data-plane REST API (spec §5.6) against a real stack.

Produce -> consume -> ack with apps created through the apps API, authenticated with the app key/secret
both as an SDK-HMAC-SHA256 signature and as HTTP Basic; access-policy enforcement (owner policy, granted
and revoked policies, 403s); bad input everywhere (400 with E-MQS bodies, never 500); redelivery after
ack_wait and after a failed ack; two consumers of one group never holding the same message at the same
time (threads); two groups each getting every message; long-polls that wake on produce and hold no
database connection while waiting; retention in the background.
"""
import base64
import concurrent.futures
import json
import threading
import time

import pytest

from conftest import wait_for
from mqs_helpers import (app, cli,  # noqa: F401 (fixtures)
                         DataClient, assert_mqs_err, create_topic, decode, make_app, mqs_path, uniq)

BAD = "MQS.00400002"


@pytest.fixture
def topic(stack, cli, app):
    name = create_topic(stack, cli, app)
    yield name
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def produce_n(dc, topic, n, prefix="m", size=None):
    ids = []
    for start in range(0, n, 10):
        batch = [{"content": (f"{prefix}{i}" if size is None else {"i": i, "pad": "x" * size}), "id": f"{prefix}{i}"}
                 for i in range(start, min(n, start + 10))]
        r = dc.produce(topic, batch)
        assert r.status_code == 200, r.text
        assert [x["state"] for x in r.json()] == ["success"] * len(batch)
        ids += [b["id"] for b in batch]
    return ids


def drain(dc, topic, group, ack=True, **params):
    """Consumes until an empty answer; returns the decoded contents in delivery order."""
    out = []
    while True:
        r = dc.consume(topic, group, time_wait=1, **params)
        assert r.status_code == 200, r.text
        got = r.json()
        if not got:
            return out
        out += [decode(m) for m in got]
        if ack:
            assert dc.ack_all(topic, group, got) == {"success": len(got), "fail": 0}


# ---- the basic flow, with both authentication forms ----

@pytest.mark.parametrize("mode", ["hmac", "basic"])
def test_produce_consume_ack(stack, app, topic, mode):
    dc = DataClient(stack, app, mode)
    msgs = [{"content": "hello roma-1", "id": "1"}, {"content": {"k": [1, 2, {"x": None}]}, "id": "2"},
            {"content": 42, "id": "3"}]
    r = dc.produce(topic, msgs)
    assert r.status_code == 200, r.text
    assert r.json() == [{"state": "success", "id": "1"}, {"state": "success", "id": "2"}, {"state": "success", "id": "3"}]
    r = dc.consume(topic, "g1")
    assert r.status_code == 200, r.text
    got = r.json()
    assert all(set(m) == {"handler", "message"} and set(m["message"]) == {"content"} for m in got)
    # content is base64 of the JSON text, as ROMA returns it
    assert sorted(json.dumps(decode(m)) for m in got) == sorted(json.dumps(m["content"]) for m in msgs)
    hello = next(m for m in got if decode(m) == "hello roma-1")
    assert base64.b64decode(hello["message"]["content"]) == b'"hello roma-1"'
    # handler decodes to partition#offset#delivery#topic, like ROMA's "NCMxMDAjMTgjMA==" -> "4#100#18#0"
    assert base64.b64decode(hello["handler"]).decode().count("#") == 3
    assert dc.ack_all(topic, "g1", got) == {"success": 3, "fail": 0}
    assert dc.consume(topic, "g1", time_wait=1).json() == []
    # acking twice: the handler is no longer valid
    assert dc.ack_all(topic, "g1", got) == {"success": 0, "fail": 3}


def test_content_roundtrip_unicode(stack, app, topic):
    dc = DataClient(stack, app)
    content = {"text": "数据集成 \u00e9\u00e8 \U0001F600", "n": 1.5, "b": True, "l": []}
    assert dc.produce(topic, [{"content": content, "id": "u"}]).status_code == 200
    got = dc.consume(topic, "u").json()
    assert [decode(m) for m in got] == [content]


# ---- authentication ----

def test_authentication_failures(stack, app, topic):
    import requests
    url = f"{stack.base}/v1/topic/{topic}/messages"
    body = json.dumps({"messages": [{"content": "x", "id": "1"}]})
    assert_mqs_err(requests.post(url, data=body), 401, "MQS.00401001")
    for authz in ("Basic !!!", "Basic " + base64.b64encode(b"nocolon").decode(),
                  "Basic " + base64.b64encode(f"{app.key}:wrong".encode()).decode(),
                  "Basic " + base64.b64encode(b"unknown-key:secret").decode(), "Bearer x", "SDK-HMAC-SHA256 junk"):
        assert_mqs_err(requests.post(url, data=body, headers={"Authorization": authz}), 401, "MQS.00401001")
    wrong = DataClient(stack, type(app)(app.id, app.name, app.key, app.secret + "x"))
    assert_mqs_err(wrong.produce(topic, [{"content": "x", "id": "1"}]), 401, "MQS.00401001")
    stale = DataClient(stack, app)
    from roma_client import sign
    h = sign("POST", url, {"Content-Type": "application/json"}, body.encode(), app.key, app.secret,
             date="20200101T000000Z")
    assert_mqs_err(stale.s.post(url, data=body, headers=h), 401, "MQS.00401001")
    # a valid signature over a different body does not verify
    h = sign("POST", url, {"Content-Type": "application/json"}, b"{}", app.key, app.secret)
    assert_mqs_err(stale.s.post(url, data=body, headers=h), 401, "MQS.00401001")
    # the user's own AK/SK is not an app credential
    h = sign("POST", url, {"Content-Type": "application/json"}, body.encode(), stack.ak, stack.sk)
    assert_mqs_err(stale.s.post(url, data=body, headers=h), 401, "MQS.00401001")


# ---- access policies ----

def set_policies(stack, cli, topic, policies):
    r = cli.post(mqs_path(stack, "/topics/accesspolicy"),
                 json={"topics": [{"name": topic, "policies": policies}]})
    assert r.status_code == 204, r.text


def test_access_policy_enforcement(stack, cli):
    owner, other, third = make_app(stack, cli), make_app(stack, cli), make_app(stack, cli)
    name = create_topic(stack, cli, owner, access_policy="pub")
    do, dx, d3 = DataClient(stack, owner), DataClient(stack, other, "basic"), DataClient(stack, third)
    msg = [{"content": "x", "id": "1"}]
    assert do.produce(name, msg).status_code == 200
    assert_mqs_err(do.consume(name, "g"), 403, "MQS.00403002")
    assert_mqs_err(do.ack(name, "g", [{"handler": "MCMwIzEjMQ==", "status": "success"}]), 403, "MQS.00403002")
    assert_mqs_err(dx.produce(name, msg), 403, "MQS.00403001")
    assert_mqs_err(dx.consume(name, "g"), 403, "MQS.00403002")
    set_policies(stack, cli, name, [{"app_id": other.id, "app_name": other.name, "access_policy": "sub"}])
    assert_mqs_err(dx.produce(name, msg), 403, "MQS.00403001")
    assert [decode(m) for m in dx.consume(name, "g").json()] == ["x"]
    r = cli.post(mqs_path(stack, f"/topics/{name}/access-policies/batch-add"),
                 json={"policies": [{"user_name": third.key, "app_name": third.name, "access_policy": "all"}]})
    assert r.status_code == 204
    assert d3.produce(name, msg).status_code == 200
    assert d3.consume(name, "g3").status_code == 200
    # the set replaces the other apps' policies: third is revoked, other keeps sub
    set_policies(stack, cli, name, [{"app_id": other.id, "app_name": other.name, "access_policy": "sub"}])
    assert_mqs_err(d3.produce(name, msg), 403, "MQS.00403001")
    assert_mqs_err(d3.consume(name, "g3"), 403, "MQS.00403002")
    # the owner's own policy changes through the set too
    set_policies(stack, cli, name, [{"app_id": owner.id, "app_name": owner.name, "access_policy": "sub", "owner": True}])
    assert_mqs_err(do.produce(name, msg), 403, "MQS.00403001")
    assert do.consume(name, "go").status_code == 200
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_other_instance_app_cannot_see_topic(stack, cli, app, topic):
    """Topics are looked up in the authenticated app's instance: an app of another instance with the
    same topic name elsewhere gets 404, never this instance's topic."""
    inst2 = stack.admin("instance-create", "--project", stack.project_id, "--name", uniq("inst"), check=False).strip()
    if not inst2:
        pytest.skip("roma-admin has no instance-create")
    # the same app key in the other instance: the secret decides which app (and instance) is meant
    r = cli.post(f"/v2/{stack.project_id}/instances/{inst2}/apps", json={"name": uniq("app"), "key": app.key})
    assert r.status_code == 201, r.text
    a2 = r.json()
    sec = cli.get(f"/v2/{stack.project_id}/instances/{inst2}/apps/{a2['id']}/secret").json()["secret"]
    assert sec != app.secret
    for mode in ("hmac", "basic"):
        d2 = DataClient(stack, type(app)(a2["id"], a2["name"], a2["key"], sec), mode)
        assert_mqs_err(d2.produce(topic, [{"content": "x", "id": "1"}]), 404, "MQS.00404001")
        assert DataClient(stack, app, mode).produce(topic, [{"content": "x", "id": "1"}]).status_code == 200
    # X-Instance-Id narrows the search to one instance
    r = DataClient(stack, app).produce(topic, [{"content": "x", "id": "1"}], headers={"X-Instance-Id": inst2})
    assert_mqs_err(r, 401, "MQS.00401001")


# ---- bad input ----

@pytest.mark.parametrize("body", [
    {}, {"messages": []}, {"messages": "x"}, {"messages": [{"content": "x", "id": str(i)} for i in range(11)]},
    {"messages": [{"id": "1"}]}, {"messages": [{"content": None, "id": "1"}]}, {"messages": [{"content": "x"}]},
    {"messages": [{"content": "x", "id": 1}]}, {"messages": [{"content": "x", "id": ""}]}, {"messages": ["x"]},
    {"messages": [{"content": "x", "id": "i" * 129}]},
])
def test_produce_validation(stack, app, topic, body):
    assert_mqs_err(DataClient(stack, app).request("POST", f"/v1/topic/{topic}/messages", body), 400, BAD)


@pytest.mark.parametrize("raw", [b"", b"{", b"[]", b'{"messages":[{"content":"a\\u0000b","id":"1"}]}', b"\xff\xfe"])
def test_produce_malformed(stack, app, topic, raw):
    assert_mqs_err(DataClient(stack, app).request("POST", f"/v1/topic/{topic}/messages", raw=raw), 400, BAD)


def test_produce_size_limit(stack, app, topic):
    dc = DataClient(stack, app)
    big = "x" * (1024 * 1024)
    assert_mqs_err(dc.produce(topic, [{"content": big, "id": "1"}, {"content": big, "id": "2"}]), 400, BAD)
    r = dc.produce(topic, [{"content": "x" * (2 * 1024 * 1024 - 10), "id": "1"}])
    assert r.status_code == 200 and r.json()[0]["state"] == "success"
    got = dc.consume(topic, "big", max_bytes=2097152).json()
    assert len(decode(got[0])) == 2 * 1024 * 1024 - 10


def test_unknown_topic_and_bad_names(stack, app):
    dc = DataClient(stack, app)
    for t in (uniq("none"), "ab", "1abc", "a" * 201, "bad%20name"):
        assert_mqs_err(dc.produce(t, [{"content": "x", "id": "1"}]), 404, "MQS.00404001")
        assert_mqs_err(dc.consume(t, "g"), 404, "MQS.00404001")


@pytest.mark.parametrize("params", [
    {"ack_wait": "0"}, {"ack_wait": "301"}, {"time_wait": "0"}, {"time_wait": "31"}, {"max_msgs": "0"},
    {"max_msgs": "11"}, {"max_bytes": "0"}, {"max_bytes": "2097153"}, {"max_msgs": "abc"}, {"ack_wait": "1.5"},
    {"time_wait": "-1"}, {"max_bytes": "99999999999999999999"},
])
def test_consume_params(stack, app, topic, params):
    assert_mqs_err(DataClient(stack, app).consume(topic, "g", **params), 400, BAD)


@pytest.mark.parametrize("group", ["a b", "a" * 250, "grp.1", "%C3%A9"])
def test_bad_group_names(stack, app, topic, group):
    dc = DataClient(stack, app)
    assert_mqs_err(dc.request("GET", f"/v1/topic/{topic}/group/{group}/messages"), 400, BAD)
    assert_mqs_err(dc.request("POST", f"/v1/topic/{topic}/group/{group}/messages",
                              {"messages": [{"handler": "x", "status": "success"}]}), 400, BAD)


def test_ack_validation_and_foreign_handlers(stack, cli, app, topic):
    dc = DataClient(stack, app)
    for body in ({}, {"messages": []}, {"messages": [{"handler": "x"}]}, {"messages": [{"handler": "", "status": "fail"}]},
                 {"messages": [{"handler": "x", "status": "maybe"}]},
                 {"messages": [{"handler": "x", "status": "success"}] * 11}, {"messages": [{"status": "fail"}]}):
        assert_mqs_err(dc.request("POST", f"/v1/topic/{topic}/group/g/messages", body), 400, BAD)
    # undecodable handlers, and handlers of another topic, are failed acknowledgements, not errors
    other = create_topic(stack, cli, app)
    produce_n(dc, other, 1)
    h_other = dc.consume(other, "g").json()[0]["handler"]
    junk = ["x", "!!!!", base64.b64encode(b"1#2").decode(), base64.b64encode(b"99#0#1#1").decode(), "a" * 500]
    r = dc.ack(topic, "g", [{"handler": h, "status": "success"} for h in junk + [h_other]])
    assert r.status_code == 200 and r.json() == {"success": 0, "fail": 6}
    cli.delete(mqs_path(stack, "/topics"), params={"name": other})


# ---- delivery semantics ----

def test_redelivery_after_ack_wait(stack, app, topic):
    dc = DataClient(stack, app)
    produce_n(dc, topic, 1, "r")
    t0 = time.time()
    first = dc.consume(topic, "rg", ack_wait=3).json()
    assert [decode(m) for m in first] == ["r0"]
    assert dc.consume(topic, "rg", time_wait=1).json() == []  # leased, not visible
    time.sleep(max(0.0, t0 + 3.3 - time.time()))
    again = dc.consume(topic, "rg", time_wait=3, ack_wait=30).json()
    assert [decode(m) for m in again] == ["r0"] and again[0]["handler"] != first[0]["handler"]
    assert dc.ack_all(topic, "rg", first) == {"success": 0, "fail": 1}  # expired handler
    assert dc.ack_all(topic, "rg", again) == {"success": 1, "fail": 0}
    assert dc.consume(topic, "rg", time_wait=1).json() == []


def test_failed_ack_redelivers_at_once(stack, app, topic):
    dc = DataClient(stack, app)
    produce_n(dc, topic, 2, "f")
    got = dc.consume(topic, "fg", ack_wait=300).json()
    assert len(got) == 2
    r = dc.ack(topic, "fg", [{"handler": got[0]["handler"], "status": "fail"},
                             {"handler": got[1]["handler"], "status": "success"}])
    assert r.json() == {"success": 2, "fail": 0}
    again = dc.consume(topic, "fg", time_wait=2).json()
    assert [decode(m) for m in again] == [decode(got[0])]
    dc.ack_all(topic, "fg", again)


def test_max_msgs_and_max_bytes(stack, app, topic):
    dc = DataClient(stack, app)
    produce_n(dc, topic, 10, size=1000)
    assert len(dc.consume(topic, "mm", max_msgs=3).json()) == 3
    one = dc.consume(topic, "mb", max_bytes=1500).json()
    assert len(one) == 1  # 1 KB messages: a second would exceed max_bytes
    tiny = dc.consume(topic, "mb2", max_bytes=1).json()
    assert len(tiny) == 1  # always at least one message, or a large message would block the group


def test_two_consumers_one_group_never_share(stack, cli, app):
    name = create_topic(stack, cli, app, partition=3)
    dc = DataClient(stack, app)
    total = 90
    produce_n(dc, name, total, "c")
    seen = {}
    lock = threading.Lock()

    def consumer(idx):
        me = DataClient(stack, app)
        mine = []
        while True:
            r = me.consume(name, "shared", time_wait=1, max_msgs=4, ack_wait=120)
            assert r.status_code == 200, r.text
            got = r.json()
            if not got:
                return mine
            with lock:
                for m in got:
                    seen.setdefault(decode(m), []).append(idx)
            mine += got

    with concurrent.futures.ThreadPoolExecutor(4) as ex:
        results = list(ex.map(consumer, range(4)))
    # leases were live the whole time (ack_wait 120 s, nothing acked): each message went to exactly one
    assert sorted(seen) == sorted(f"c{i}" for i in range(total))
    assert all(len(v) == 1 for v in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    assert sum(1 for r in results if r) >= 2  # the work was actually shared
    for r in results:
        for i in range(0, len(r), 10):
            assert dc.ack_all(name, "shared", r[i:i + 10])["fail"] == 0
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_every_group_gets_every_message(stack, app, topic):
    dc = DataClient(stack, app)
    ids = produce_n(dc, topic, 25, "e")
    a = drain(dc, topic, "groupA")
    b = drain(dc, topic, "groupB", max_msgs=3)
    assert sorted(a) == sorted(ids) and sorted(b) == sorted(ids)
    produce_n(dc, topic, 3, "late")
    assert sorted(drain(dc, topic, "groupA")) == ["late0", "late1", "late2"]


def test_long_poll_wakes_on_produce(stack, app, topic):
    dc = DataClient(stack, app)
    out = {}

    def wait():
        t0 = time.time()
        out["r"] = dc.consume(topic, "lp", time_wait=15)
        out["dt"] = time.time() - t0

    th = threading.Thread(target=wait)
    th.start()
    time.sleep(1.0)
    DataClient(stack, app, "basic").produce(topic, [{"content": "wake", "id": "w"}])
    th.join(20)
    assert [decode(m) for m in out["r"].json()] == ["wake"]
    assert out["dt"] < 5, out["dt"]


def test_long_polls_hold_no_database_connection(make_stack):
    """More long-polls than the topic manager has engine connections (and than the API's pool) wait at
    once, and a producer still gets through: waiting consumers hold no database connection."""
    s = make_stack(workers={"topic": 1}, extra_env={"ROMA_TOPIC_DB_POOL_SIZE": "2", "ROMA_DB_POOL_SIZE": "4",
                                                    "ROMA_HTTP_THREADS": "40"})
    cli = s.client()
    a = make_app(s, cli)
    name = create_topic(s, cli, a)
    n = 24

    def poll(i):
        t0 = time.time()
        r = DataClient(s, a).consume(name, f"g{i}", time_wait=4)
        return r.status_code, r.json(), time.time() - t0

    with concurrent.futures.ThreadPoolExecutor(n) as ex:
        futs = [ex.submit(poll, i) for i in range(n)]
        time.sleep(1.5)
        t0 = time.time()
        r = DataClient(s, a).produce(name, [{"content": "now", "id": "1"}])
        assert r.status_code == 200 and time.time() - t0 < 3, (r.text, time.time() - t0)
        res = [f.result() for f in futs]
    assert all(code == 200 for code, _, _ in res), res
    # every group gets the message, well before its time_wait ran out
    assert all([decode(m) for m in body] == ["now"] for _, body, _ in res), res
    assert max(dt for _, _, dt in res) < 4 + 2.5
    assert s.stop()["topic-0"] == 0


def test_retention(make_stack):
    s = make_stack(workers={"topic": 1}, extra_env={"ROMA_TOPIC_RETENTION_UNIT_S": "1",
                                                    "ROMA_TOPIC_RETENTION_INTERVAL_MS": "200"})
    cli = s.client()
    a = make_app(s, cli)
    short = create_topic(s, cli, a, retention_time=2)  # 2 "hours" of 1 s each
    long_ = create_topic(s, cli, a, retention_time=720)
    dc = DataClient(s, a)
    produce_n(dc, short, 30)
    produce_n(dc, long_, 5)
    # leased messages are removed too; a consumer then sees nothing
    assert len(dc.consume(short, "g", ack_wait=300).json()) == 10
    wait_for(lambda: s.sql(f"SELECT count(*) FROM mqs_messages m JOIN mqs_topics t ON t.id = m.topic_id"
                           f" WHERE t.name = '{short}'") == "0", 15, 0.2, what="retention of the short topic")
    assert s.sql("SELECT count(*) FROM mqs_leases") == "0"
    assert dc.consume(short, "g", time_wait=1).json() == []
    assert len(drain(dc, long_, "g")) == 5
    # producing keeps working while retention runs, and new messages are consumable
    produce_n(dc, short, 3, "n")
    assert sorted(drain(dc, short, "g2")) == ["n0", "n1", "n2"]
    # messages of a deleted topic are purged in the background
    cli.delete(mqs_path(s, "/topics"), params={"name": long_})
    wait_for(lambda: s.sql("SELECT count(*) FROM mqs_dead_topics") == "0", 15, 0.2, what="purge")
    assert "retention.deleted" in s.procs["topic-0"].log_text()
    assert s.stop()["topic-0"] == 0
