"""test_topics.py: the MQS control plane (spec §5.1-5.5) against a real stack (API, broker, topic manager).

Covers MQS instances, the topic lifecycle (create, list with filters and string pagination, update,
delete by ?name=, batch delete with a mix of existing and missing names), every TopicCreate field rule at
its boundaries, the partition budget (also under concurrent creates), access policies, export/import,
message query and resend, AK/SK signing, and the topic manager killed (SIGKILL) in the middle of a
create: no half-created topic, a 503 within the API's deadline, and a retry that succeeds once a worker
is back. Every error asserts the status, the E-MQS body and its error_code.
"""
import concurrent.futures
import json
import threading
import time

import pytest

from conftest import wait_for
from mqs_helpers import (app, cli,  # noqa: F401 (fixtures)
                         DataClient, assert_mqs_err, create_topic, decode, make_app, mqs_path, uniq)

BAD = "MQS.00400002"


def list_topics(stack, cli, **params):
    r = cli.get(mqs_path(stack, "/topics"), params=params)
    assert r.status_code == 200, r.text
    return r.json()


# ---- MQS instances ----

def test_instances_list_and_show(stack, cli):
    base = f"/v2/{stack.project_id}/mqs/instances"
    assert_mqs_err(cli.get(base), 400, BAD)
    assert_mqs_err(cli.get(base, params={"include_internal": "false"}), 400, BAD)
    r = cli.get(base, params={"include_internal": "true"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["instance_num"] == len(body["instances"]) >= 1
    inst = next(i for i in body["instances"] if i["instance_id"] == stack.instance_id)
    assert inst["engine"] == "openroma-pg" and inst["status"] == "RUNNING" and inst["rest_enable"] is True
    assert inst["rest_connect_address"] == f"127.0.0.1:{stack.http_port}"
    assert isinstance(inst["partition_num"], str) and int(inst["partition_num"]) > 0
    assert isinstance(inst["created_at"], str) and inst["created_at"].isdigit()
    r = cli.get(mqs_path(stack))
    assert r.status_code == 200, r.text
    assert r.json()["instance_id"] == stack.instance_id and r.json()["type"] == "single"
    r = cli.get(f"/v2/{stack.project_id}/mqs/instances/00000000-0000-0000-0000-000000000000")
    assert r.status_code == 404


# ---- lifecycle ----

def test_topic_lifecycle(stack, cli, app):
    before = list_topics(stack, cli)
    name = create_topic(stack, cli, app, description="orders")
    lst = list_topics(stack, cli, name=name)
    assert lst["total"] == 1 and lst["size"] == 1
    t = lst["topics"][0]
    assert t["name"] == name and t["partition"] == 3 and t["replication"] == 3 and t["retention_time"] == 72
    assert t["sync_message_flush"] is False and t["sync_replication"] is False
    assert t["app_id"] == app.id and t["app_name"] == app.name and t["description"] == "orders"
    assert t["policiesOnly"] is False and t["topic_type"] == 0 and isinstance(t["external_configs"], dict)
    assert set(lst) == {"total", "size", "permissions", "topics", "remain_partitions", "max_partitions"}
    assert lst["remain_partitions"] == before["remain_partitions"] - 3
    assert lst["max_partitions"] == before["max_partitions"]

    r = cli.put(mqs_path(stack, "/topics"),
                json={"topics": [{"name": name, "retention_time": 24, "sync_replication": True, "description": "d2"}]})
    assert r.status_code == 204, r.text
    t = list_topics(stack, cli, name=name)["topics"][0]
    assert t["retention_time"] == 24 and t["sync_replication"] is True and t["description"] == "d2"
    assert t["partition"] == 3

    r = cli.delete(mqs_path(stack, "/topics"), params={"name": name})
    assert r.status_code == 200, r.text
    assert r.json() == {"topics": [{"id": name, "success": True}]}
    assert list_topics(stack, cli, name=name)["total"] == 0
    assert list_topics(stack, cli)["remain_partitions"] == before["remain_partitions"]


def test_list_filters_and_pagination(stack, cli):
    a1, a2 = make_app(stack, cli), make_app(stack, cli)
    tag = uniq("flt")
    names = [create_topic(stack, cli, a1, name=f"{tag}-{i}", access_policy="pub" if i % 2 else "all")
             for i in range(5)]
    create_topic(stack, cli, a2, name=f"{tag}-x", access_policy="sub")
    assert list_topics(stack, cli, name=tag)["total"] == 6
    assert list_topics(stack, cli, name=tag.upper())["total"] == 6  # name filter is a case-insensitive substring
    assert list_topics(stack, cli, name=tag, app_name=a2.name)["total"] == 1
    assert list_topics(stack, cli, name=tag, access_policy="pub")["total"] == 2
    page = list_topics(stack, cli, name=tag, limit="2", offset="1")
    assert page["total"] == 6 and page["size"] == 2 and len(page["topics"]) == 2
    everything = [t["name"] for t in list_topics(stack, cli, name=tag)["topics"]]
    assert [t["name"] for t in page["topics"]] == everything[1:3]
    assert list_topics(stack, cli, name=tag, offset="100")["size"] == 0
    for bad in ({"limit": "x"}, {"limit": "-1"}, {"offset": "1.5"}, {"access_policy": "read"}):
        assert_mqs_err(cli.get(mqs_path(stack, "/topics"), params=bad), 400, BAD)
    r = cli.post(mqs_path(stack, "/topics/delete"), json={"topics": names + [f"{tag}-x"]})
    assert all(x["success"] for x in r.json()["topics"])


# ---- validation ----

@pytest.mark.parametrize("patch", [
    {"name": "ab"}, {"name": "1abc"}, {"name": "a" * 201}, {"name": "ab c"}, {"name": "abc.d"}, {"name": 5},
    {"name": None}, {"partition": 0}, {"partition": 51}, {"partition": "3"}, {"partition": 2.5},
    {"replication": 0}, {"replication": 4}, {"retention_time": 0}, {"retention_time": 721},
    {"access_policy": "read"}, {"access_policy": None}, {"app_id": None}, {"app_id": ""},
    {"sync_message_flush": "yes"}, {"description": "d" * 1001}, {"tag": 3},
])
def test_create_validation(stack, cli, app, patch):
    body = {"name": uniq("v"), "app_id": app.id, "access_policy": "all"}
    body.update(patch)
    body = {k: v for k, v in body.items() if v is not None}
    assert_mqs_err(cli.post(mqs_path(stack, "/topics"), json=body), 400, BAD)


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b'"x"', b'{"name":"abc"} x', b'{"name":"a\\u0000bc"}'])
def test_create_malformed_bodies(stack, cli, raw):
    r = cli.post(mqs_path(stack, "/topics"), data=raw, headers={"Content-Type": "application/json"})
    assert_mqs_err(r, 400, BAD)


def test_create_boundaries_accepted(stack, cli, app):
    names = [create_topic(stack, cli, app, name="a" + uniq("b")[:2], partition=1, replication=1, retention_time=1),
             create_topic(stack, cli, app, name="Z" + "y" * 180 + uniq("")[-10:], partition=50, retention_time=720,
                          access_policy="sub", sync_message_flush=True, description="d" * 1000)]
    t = list_topics(stack, cli, name=names[1])["topics"][0]
    assert t["partition"] == 50 and t["retention_time"] == 720 and t["sync_message_flush"] is True
    r = cli.post(mqs_path(stack, "/topics/delete"), json={"topics": names})
    assert [x["success"] for x in r.json()["topics"]] == [True, True]


def test_create_duplicate_idempotent_and_unknown_app(stack, cli, app):
    name = create_topic(stack, cli, app, partition=2)
    # an identical create (a client retrying after a lost answer) succeeds again without a second topic
    r = cli.post(mqs_path(stack, "/topics"), json={"name": name, "app_id": app.id, "access_policy": "all", "partition": 2})
    assert r.status_code == 200 and r.json() == {"name": name}
    r = cli.post(mqs_path(stack, "/topics"), json={"name": name, "app_id": app.id, "access_policy": "pub"})
    assert_mqs_err(r, 400, "MQS.00400003")
    assert stack.sql(f"SELECT count(*) FROM mqs_topics WHERE name = '{name}'") == "1"
    r = cli.post(mqs_path(stack, "/topics"),
                 json={"name": uniq("t"), "app_id": "8e1e3ff1-7e0e-4d43-a8a8-7b8e2f6c6b77", "access_policy": "all"})
    assert_mqs_err(r, 400, "MQS.00400004")
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_update_validation_and_all_or_nothing(stack, cli, app):
    name = create_topic(stack, cli, app, retention_time=10)
    r = cli.put(mqs_path(stack, "/topics"),
                json={"topics": [{"name": name, "retention_time": 20}, {"name": uniq("missing")}]})
    assert_mqs_err(r, 400, "MQS.00404001")
    assert list_topics(stack, cli, name=name)["topics"][0]["retention_time"] == 10
    for bad in ({}, {"topics": []}, {"topics": "x"}, {"topics": [{"name": name, "retention_time": 0}]},
                {"topics": [{"retention_time": 5}]}, {"topics": [{"name": name, "sync_replication": 1}]}):
        assert_mqs_err(cli.put(mqs_path(stack, "/topics"), json=bad), 400, BAD)
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_batch_delete_mixed_existing_and_missing(stack, cli, app):
    a, b = create_topic(stack, cli, app), create_topic(stack, cli, app)
    missing = uniq("missing")
    r = cli.post(mqs_path(stack, "/topics/delete"), json={"topics": [a, missing, b, "not a name!"]})
    assert r.status_code == 200, r.text
    assert r.json() == {"topics": [{"id": a, "success": True}, {"id": missing, "success": False},
                                   {"id": b, "success": True}, {"id": "not a name!", "success": False}]}
    assert list_topics(stack, cli, name=a)["total"] == 0 and list_topics(stack, cli, name=b)["total"] == 0
    # DELETE ?name= with a comma list behaves the same
    c = create_topic(stack, cli, app)
    r = cli.delete(mqs_path(stack, "/topics"), params={"name": f"{c},{missing}"})
    assert r.json() == {"topics": [{"id": c, "success": True}, {"id": missing, "success": False}]}
    for bad in ({}, {"topics": []}, {"topics": "a"}, {"topics": [1]}, {"topics": [""]},
                {"topics": ["x"] * 101}):
        assert_mqs_err(cli.post(mqs_path(stack, "/topics/delete"), json=bad), 400, BAD)
    assert_mqs_err(cli.delete(mqs_path(stack, "/topics")), 400, BAD)
    assert_mqs_err(cli.delete(mqs_path(stack, "/topics"), params={"name": "a,,b"}), 400, BAD)


def test_partition_budget_under_concurrency(make_stack):
    s = make_stack(workers={"topic": 1}, extra_env={"ROMA_MQS_MAX_PARTITIONS": "10"})
    cli = s.client()
    a = make_app(s, cli)

    def create(i):
        return cli.post(mqs_path(s, "/topics"), json={"name": f"q{i}-{uniq('c')}", "app_id": a.id,
                                                      "access_policy": "all", "partition": 3})

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        res = list(ex.map(create, range(8)))
    ok = [r for r in res if r.status_code == 200]
    assert len(ok) == 3, [r.text for r in res]
    for r in res:
        if r.status_code != 200:
            assert_mqs_err(r, 400, "MQS.00400005")
    lst = list_topics(s, cli)
    assert lst["max_partitions"] == 10 and lst["remain_partitions"] == 1
    create_topic(s, cli, a, partition=1)
    assert list_topics(s, cli)["remain_partitions"] == 0
    codes = s.stop()
    assert codes["topic-0"] == 0, codes


# ---- access policies ----

def test_access_policies(stack, cli, app):
    a2, a3 = make_app(stack, cli), make_app(stack, cli)
    name = create_topic(stack, cli, app, access_policy="pub")
    r = cli.post(mqs_path(stack, "/topics/accesspolicy"),
                 json={"topics": [{"name": name, "policies": [
                     {"app_id": a2.id, "app_name": a2.name, "access_policy": "sub"}]}]})
    assert r.status_code == 204, r.text
    r = cli.post(mqs_path(stack, f"/topics/{name}/access-policies/batch-add"),
                 json={"policies": [{"user_name": a3.key, "app_name": a3.name, "access_policy": "all", "tag": "t_1"}]})
    assert r.status_code == 204, r.text
    r = cli.get(mqs_path(stack, f"/topics/{name}/accesspolicy"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["name"] == name and body["total"] == 3 and body["size"] == 3
    assert body["policies"][0] == {"owner": True, "user_name": app.key, "access_policy": "pub", "app_name": app.name,
                                   "tag": ""}
    others = {p["user_name"]: p for p in body["policies"][1:]}
    assert others[a2.key]["access_policy"] == "sub" and others[a2.key]["owner"] is False
    assert others[a3.key]["access_policy"] == "all" and others[a3.key]["tag"] == "t_1"
    page = cli.get(mqs_path(stack, f"/topics/{name}/accesspolicy"), params={"limit": "1", "offset": "1"}).json()
    assert page["total"] == 3 and page["size"] == 1 and page["policies"][0]["owner"] is False
    # the set replaces the non-owner policies; the owner's can be changed through it
    r = cli.post(mqs_path(stack, "/topics/accesspolicy"),
                 json={"topics": [{"name": name, "policies": [
                     {"app_id": app.id, "app_name": app.name, "access_policy": "all", "owner": True}]}]})
    assert r.status_code == 204
    body = cli.get(mqs_path(stack, f"/topics/{name}/accesspolicy")).json()
    assert body["total"] == 1 and body["policies"][0]["access_policy"] == "all"

    assert_mqs_err(cli.get(mqs_path(stack, f"/topics/{uniq('none')}/accesspolicy")), 404, "MQS.00404001")
    r = cli.post(mqs_path(stack, "/topics/accesspolicy"),
                 json={"topics": [{"name": name, "policies": [{"app_id": "nope", "access_policy": "all"}]}]})
    assert_mqs_err(r, 400, "MQS.00400004")
    r = cli.post(mqs_path(stack, "/topics/accesspolicy"),
                 json={"topics": [{"name": uniq("none"), "policies": []}]})
    assert_mqs_err(r, 400, "MQS.00404001")
    r = cli.post(mqs_path(stack, f"/topics/{name}/access-policies/batch-add"),
                 json={"policies": [{"user_name": "no-such-key", "access_policy": "all"}]})
    assert_mqs_err(r, 400, "MQS.00400004")
    assert_mqs_err(cli.post(mqs_path(stack, f"/topics/{uniq('none')}/access-policies/batch-add"),
                            json={"policies": [{"user_name": a2.key, "access_policy": "all"}]}), 404, "MQS.00404001")
    for bad in ({}, {"policies": []}, {"policies": [{"user_name": a2.key}]},
                {"policies": [{"user_name": a2.key, "access_policy": "pub", "tag": "bad tag"}]},
                {"policies": [{"user_name": a2.key, "access_policy": "pub", "tag": "x" * 49}]}):
        assert_mqs_err(cli.post(mqs_path(stack, f"/topics/{name}/access-policies/batch-add"), json=bad), 400, BAD)
    for bad in ({}, {"topics": [{"name": name}]}, {"topics": [{"name": name, "policies": [{"app_id": a2.id}]}]},
                {"topics": [{"name": name, "policies": [{"app_id": a2.id, "access_policy": "x"}]}]}):
        assert_mqs_err(cli.post(mqs_path(stack, "/topics/accesspolicy"), json=bad), 400, BAD)
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_app_deletion_and_topics(stack, cli):
    """An app that owns a topic cannot be deleted (apps' 400 ROMA.00014004); an app that only holds a
    policy can, and its policy goes with it."""
    owner, grantee = make_app(stack, cli), make_app(stack, cli)
    name = create_topic(stack, cli, owner)
    r = cli.post(mqs_path(stack, f"/topics/{name}/access-policies/batch-add"),
                 json={"policies": [{"user_name": grantee.key, "access_policy": "sub"}]})
    assert r.status_code == 204
    r = cli.delete(stack.inst(f"/apps/{owner.id}"))
    assert r.status_code == 400 and r.json()["error_code"] == "ROMA.00014004", r.text
    assert cli.delete(stack.inst(f"/apps/{grantee.id}")).status_code in (200, 204)
    assert cli.get(mqs_path(stack, f"/topics/{name}/accesspolicy")).json()["total"] == 1
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})
    assert cli.delete(stack.inst(f"/apps/{owner.id}")).status_code in (200, 204)


# ---- export / import ----

def upload(cli, stack, doc, **params):
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return cli.post(mqs_path(stack, "/topics/import"), params=params or None,
                    files={"upload_file_name": ("topics.json", data, "application/json")})


def test_export_import(stack, cli):
    owner, reader = make_app(stack, cli), make_app(stack, cli)
    tag = uniq("exp")
    n1 = create_topic(stack, cli, owner, name=f"{tag}-1", partition=2, retention_time=5, description="one")
    n2 = create_topic(stack, cli, owner, name=f"{tag}-2", access_policy="sub")
    cli.post(mqs_path(stack, f"/topics/{n1}/access-policies/batch-add"),
             json={"policies": [{"user_name": reader.key, "access_policy": "sub"}]})
    r = cli.get(mqs_path(stack, "/topics/export"), params={"name": f"{n1},{n2},{uniq('gone')}"})
    assert r.status_code == 200, r.text
    assert "attachment" in r.headers["Content-Disposition"]
    doc = r.json()
    assert doc["format_version"] == 1 and [t["name"] for t in doc["topics"]] == [n1, n2]
    t1 = doc["topics"][0]
    assert t1["app_name"] == owner.name and t1["partition"] == 2 and t1["retention_time"] == 5
    assert t1["policies"] == [{"app_name": reader.name, "access_policy": "sub", "tag": ""}]

    cli.post(mqs_path(stack, "/topics/delete"), json={"topics": [n1, n2]})
    r = upload(cli, stack, doc)
    assert r.status_code == 204, r.text
    t = list_topics(stack, cli, name=tag)
    assert t["total"] == 2
    pol = cli.get(mqs_path(stack, f"/topics/{n1}/accesspolicy")).json()
    assert {p["user_name"] for p in pol["policies"]} == {owner.key, reader.key}

    # AddNew refuses an existing topic and imports nothing; Merge updates
    doc["topics"][0]["retention_time"] = 9
    doc["topics"].append(dict(doc["topics"][1], name=f"{tag}-3"))
    assert_mqs_err(upload(cli, stack, doc, mode="AddNew"), 400, "MQS.00400003")
    assert list_topics(stack, cli, name=tag)["total"] == 2
    r = upload(cli, stack, doc, mode="Merge")
    assert r.status_code == 204, r.text
    lst = {x["name"]: x for x in list_topics(stack, cli, name=tag)["topics"]}
    assert len(lst) == 3 and lst[n1]["retention_time"] == 9

    # prefix: app names are resolved as prefix + name in this instance
    pfx = make_app(stack, cli, name="pf-" + owner.name)
    doc2 = {"format_version": 1, "topics": [dict(doc["topics"][1], name=f"{tag}-4", policies=[])]}
    assert_mqs_err(upload(cli, stack, doc2, prefix="zz-"), 400, "MQS.00400004")
    assert upload(cli, stack, doc2, prefix="pf-").status_code == 204
    assert list_topics(stack, cli, name=f"{tag}-4")["topics"][0]["app_id"] == pfx.id

    assert_mqs_err(upload(cli, stack, b"not json"), 400, "MQS.00400006")
    assert_mqs_err(upload(cli, stack, {"topics": []}), 400, "MQS.00400006")
    assert_mqs_err(upload(cli, stack, {"format_version": 1, "topics": [{"name": "x"}]}), 400, "MQS.00400006")
    assert_mqs_err(upload(cli, stack, doc, mode="Replace"), 400, BAD)
    r = cli.post(mqs_path(stack, "/topics/import"), files={"other": ("a.json", b"{}", "application/json")})
    assert_mqs_err(r, 400, BAD)
    assert_mqs_err(cli.post(mqs_path(stack, "/topics/import"), json=doc), 400, BAD)
    cli.post(mqs_path(stack, "/topics/delete"), json={"topics": [n1, n2, f"{tag}-3", f"{tag}-4"]})


# ---- messages ----

def test_message_query_and_resend(stack, cli, app):
    name = create_topic(stack, cli, app, partition=1)
    dc = DataClient(stack, app)
    t0 = int(time.time() * 1000) - 1000
    r = dc.produce(name, [{"content": f"m{i}", "id": f"id{i}"} for i in range(5)])
    assert r.status_code == 200 and all(x["state"] == "success" for x in r.json())
    t1 = int(time.time() * 1000) + 1000
    path = mqs_path(stack, "/messages")
    r = cli.get(path, params={"topic": name, "start_time": t0, "end_time": t1, "asc": "true", "limit": "2"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 5 and body["size"] == 2
    m = body["messages"][0]
    assert m["topic"] == name and m["value"] == "m0" and m["message_offset"] == 0 and m["partition"] == 0
    assert m["message_id"] == "id0" and m["size"] == 2 and m["huge_message"] is False and m["app_id"] == app.id
    assert t0 <= m["timestamp"] <= t1
    r = cli.get(path, params={"topic": name, "partition": "0", "message_offset": "3"})
    assert [x["value"] for x in r.json()["messages"]] == ["m3"]
    r = cli.get(path, params={"topic": name, "message_id": "id4"})
    assert [x["message_offset"] for x in r.json()["messages"]] == [4]
    for bad in ({}, {"topic": name}, {"topic": name, "start_time": "1"}, {"topic": name, "partition": "0"},
                {"topic": name, "start_time": "5", "end_time": "1"}, {"topic": name, "start_time": "x", "end_time": "1"},
                {"topic": name, "message_id": "a", "limit": "0"}, {"topic": name, "message_id": "a", "asc": "y"}):
        assert_mqs_err(cli.get(path, params=bad), 400, BAD)
    assert_mqs_err(cli.get(path, params={"topic": uniq("none"), "message_id": "a"}), 400, "MQS.00404001")

    act = mqs_path(stack, "/messages/action")
    body = {"topic": name, "partition": 0, "message_offset": 2, "consumer_key": app.key}
    r = cli.post(act, params={"action_id": "resend"}, json=body)
    assert r.status_code == 200, r.text
    assert r.json() == body
    r = cli.get(path, params={"topic": name, "partition": "0", "message_offset": "5"})
    assert [x["value"] for x in r.json()["messages"]] == ["m2"]
    assert_mqs_err(cli.post(act, json=body), 400, BAD)
    assert_mqs_err(cli.post(act, params={"action_id": "purge"}, json=body), 400, BAD)
    assert_mqs_err(cli.post(act, params={"action_id": "resend"}, json=dict(body, message_offset=99)), 400,
                   "MQS.00400007")
    assert_mqs_err(cli.post(act, params={"action_id": "resend"}, json=dict(body, consumer_key="nokey")), 400,
                   "MQS.00400004")
    assert_mqs_err(cli.post(act, params={"action_id": "resend"}, json={"topic": name}), 400, BAD)
    # a consumer sees the resent copy as a new message
    got = dc.consume(name, "rs", time_wait=1).json()
    assert [decode(x) for x in got] == ["m0", "m1", "m2", "m3", "m4", "m2"][:len(got)]
    cli.delete(mqs_path(stack, "/topics"), params={"name": name})


def test_control_plane_with_aksk(stack, app):
    ak = stack.ak_client()
    name = uniq("ak")
    r = ak.post(mqs_path(stack, "/topics"), json={"name": name, "app_id": app.id, "access_policy": "all"})
    assert r.status_code == 200, r.text
    r = ak.get(mqs_path(stack, "/topics"), params={"name": name, "limit": "10", "offset": "0"})
    assert r.json()["total"] == 1
    r = ak.post(mqs_path(stack, "/topics/delete"), json={"topics": [name]})
    assert r.json() == {"topics": [{"id": name, "success": True}]}


def test_unauthenticated_control_plane(stack):
    import requests
    r = requests.get(stack.base + mqs_path(stack, "/topics"))
    assert r.status_code == 401


# ---- faults ----

def test_manager_killed_mid_create(make_stack):
    """SIGKILL the topic manager while it holds a create's transaction open: the API answers 503 within
    its deadline, no trace of the topic is left, and a retry succeeds once a worker is back."""
    s = make_stack(workers={"topic": 1},
                   extra_env={"ROMA_TOPIC_TEST_DELAY_MS": "3000", "ROMA_TOPIC_CALL_TIMEOUT_MS": "8000"})
    cli = s.client()
    a = make_app(s, cli)
    name = uniq("kill")
    body = {"name": name, "app_id": a.id, "access_policy": "all", "partition": 4}
    out = {}

    def call():
        t0 = time.time()
        out["r"] = cli.post(mqs_path(s, "/topics"), json=body)
        out["dt"] = time.time() - t0

    th = threading.Thread(target=call)
    th.start()
    worker = s.procs["topic-0"]
    wait_for(lambda: "topic.test_delay" in worker.log_text(), 10, what="create reaching its transaction")
    assert s.sql(f"SELECT count(*) FROM mqs_topics WHERE name = '{name}'") == "0"  # not committed yet
    worker.kill9()
    th.join(20)
    assert_mqs_err(out["r"], 503, "MQS.00503000")
    assert out["dt"] < 8 + 2, out["dt"]
    # the transaction died with the connection: no topic, no partitions
    assert s.sql(f"SELECT count(*) FROM mqs_topics WHERE name = '{name}'") == "0"
    assert s.sql("SELECT count(*) FROM mqs_partitions") == "0"
    # no worker at all: 503 quickly
    t0 = time.time()
    assert_mqs_err(cli.post(mqs_path(s, "/topics"), json=body), 503, "MQS.00503000")
    assert time.time() - t0 < 9
    s.start_worker("topic")
    r = wait_for(lambda: (lambda x: x if x.status_code == 200 else None)(
        cli.post(mqs_path(s, "/topics"), json=body)), 30, interval=0.5, what="create after restart")
    assert r.json() == {"name": name}
    assert s.sql(f"SELECT count(*) FROM mqs_topics WHERE name = '{name}'") == "1"
    assert s.sql(f"SELECT count(*) FROM mqs_partitions p JOIN mqs_topics t ON t.id = p.topic_id"
                 f" WHERE t.name = '{name}'") == "4"
