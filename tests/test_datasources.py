"""test_datasources.py: FDI datasources (spec §3) against a real stack and real servers.

CRUD and the E-FDI error bodies; field rules of every one of the 35 types (required fields, enums,
types, normalisation to the SDK's types, §8 #9 text rules instead of SPEC min 4); unknown content keys
echoed; secrets sealed at rest, masked as "******", kept when "******" is sent back, never in a log
file or in clear in the database; test-connect against MariaDB, PostgreSQL, Redis, an HTTP server with
basic auth / OAuth, an FTP server (success and each documented failure word: authentication failed,
unknown database, connection refused, DNS failure, address denied by policy, timeout); deadlines
(accept-but-silent server answered within deadline + 2 s); tables and columns of MariaDB and
PostgreSQL; two workers sharing checks; a worker killed mid-check and no worker at all -> 503.
Roles on every path (non-member 404, member without the role 403) and the secret-travel rule; every
declared secret field sealed/masked/kept; the network policy's defaults (loopback, link-local, the
platform's own endpoints refused; private ranges allowed, through a network namespace).

How the tests reach their servers: the test servers listen on loopback, which the default policy refuses,
so this module's stacks set ROMA_DS_DENY_CIDRS explicitly (LOOPBACK_OK: link-local stays denied). The
platform-endpoint denial stays on (it does not depend on that list), so the PostgreSQL under test is a
second server, not the platform's. The policy tests use a stack with the default settings and a server
in a network namespace on a private address.
"""
import concurrent.futures
import glob
import os
import re
import threading
import time
import urllib.parse
import uuid

import pytest

from conftest import VAR, wait_for
from servers import *  # noqa: F401,F403 - session fixtures (mariadb, pg_checks, redis_srv, http_srv, ...)
from servers import FTP_PASS, MY_PASS, PG_PASS, REDIS_PASS

# the test servers are on loopback: replace the default deny list (link-local stays denied)
LOOPBACK_OK = {"ROMA_DS_DENY_CIDRS": "169.254.0.0/16,fe80::/10,fd00:ec2::254/128"}

HEX32 = re.compile(r"^[0-9a-f]{32}$")
DS_KEYS = {"datasource_id", "datasource_name", "datasource_type", "description", "app_id", "app_name",
           "instance_id", "create_time", "update_time", "content", "app_permission"}
TEST_KEYS = {"last_test_result", "last_test_time", "last_test_latency_ms", "last_test_detail"}
MASK = "******"


def uniq(prefix="ds"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def fdi(stack, suffix=""):
    return f"/v2/{stack.project_id}/fdi/instances/{stack.instance_id}/datasources{suffix}"


def assert_fdi_err(resp, status, code, detail=None):
    """E-FDI: error_code, error_msg [, detail] strings, nothing else."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) <= {"error_code", "error_msg", "detail"} and {"error_code", "error_msg"} <= set(body), body
    assert all(isinstance(v, str) and v for v in body.values()), body
    assert body["error_code"] == code, body
    if detail is not None:
        assert detail in body.get("detail", ""), body
    return body


@pytest.fixture(scope="module")
def stack(make_stack_module):
    """This module's own stack (the session one keeps the default network policy)."""
    return make_stack_module(extra_env=LOOPBACK_OK)


@pytest.fixture(scope="module")
def cli(stack):
    return stack.client()


@pytest.fixture(scope="module")
def app(stack, cli):
    r = cli.post(stack.inst("/apps"), json={"name": uniq("dsapp")})
    assert r.status_code == 201, r.text
    return r.json()


@pytest.fixture(scope="module")
def app2(stack, cli):
    r = cli.post(stack.inst("/apps"), json={"name": uniq("dsapp2")})
    assert r.status_code == 201, r.text
    return r.json()


def mysql_content(my, **over):
    c = {"mode": "default", "host": my["host"], "port": str(my["port"]), "database_name": my["db"],
         "user_name": my["user"], "password": my["password"]}
    c.update(over)
    return c


def pg_content(p, **over):
    c = {"mode": "default", "host": p["host"], "port": str(p["port"]), "database_name": p["db"],
         "user_name": p["user"], "password": p["password"]}
    c.update(over)
    return c


def create(stack, cli, app, dtype, content, status=201, **top):
    body = {"datasource_name": top.pop("name", uniq()), "datasource_type": dtype, "app_id": app["id"],
            "content": content}
    body.update(top)
    r = cli.post(fdi(stack), json=body)
    assert r.status_code == status, r.text
    return r.json()


def test_connect(stack, cli, ds_id, body=None):
    return cli.post(fdi(stack, f"/{ds_id}/test-connect"), json=body) if body is not None else \
        cli.post(fdi(stack, f"/{ds_id}/test-connect"))


test_connect.__test__ = False  # a helper, not a test


def assert_test_failed(resp, words, secrets=()):
    body = assert_fdi_err(resp, 400, "FDI.3016")
    assert body["error_msg"] == "Failed to test the connectivity."
    assert words in body["detail"], body
    for s in secrets:
        assert s not in body["detail"], body
    return body


# ---------------------------------------------------------------------------------------------------------
# CRUD and shapes


def test_create_show_update_delete(stack, cli, app, mariadb):
    name = uniq("crud")
    t0 = int(time.time() * 1000)
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb), name=name, description="orders db")
    assert DS_KEYS <= set(ds), ds
    assert HEX32.match(ds["datasource_id"])
    assert ds["datasource_name"] == name and ds["datasource_type"] == "MYSQL" and ds["description"] == "orders db"
    assert ds["app_id"] == app["id"] and ds["app_name"] == app["name"]
    assert ds["instance_id"] == stack.instance_id
    assert isinstance(ds["create_time"], int) and isinstance(ds["update_time"], int)
    assert t0 - 5000 <= ds["create_time"] <= int(time.time() * 1000) + 5000
    assert ds["content"]["password"] == MASK and ds["content"]["host"] == mariadb["host"]
    assert ds["content"]["port"] == str(mariadb["port"])
    assert set(ds["app_permission"]) == {"read", "access", "delete", "modify"}
    assert not TEST_KEYS & set(ds), "no test yet"

    shown = cli.get(fdi(stack, f"/{ds['datasource_id']}"))
    assert shown.status_code == 200 and shown.json() == ds

    time.sleep(0.01)
    upd = cli.put(fdi(stack, f"/{ds['datasource_id']}"), json={"datasource_name": name + "-2"})
    assert upd.status_code == 200, upd.text
    u = upd.json()
    assert u["datasource_name"] == name + "-2" and u["description"] == "orders db"
    assert u["content"] == ds["content"] and u["create_time"] == ds["create_time"]
    assert u["update_time"] >= ds["update_time"]

    d = cli.delete(fdi(stack, f"/{ds['datasource_id']}"))
    assert d.status_code == 204 and d.content == b""
    assert_fdi_err(cli.get(fdi(stack, f"/{ds['datasource_id']}")), 404, "FDI.3080")
    assert_fdi_err(cli.delete(fdi(stack, f"/{ds['datasource_id']}")), 404, "FDI.3080")
    assert_fdi_err(cli.put(fdi(stack, f"/{ds['datasource_id']}"), json={"datasource_name": "x"}), 404, "FDI.3080")
    assert_fdi_err(cli.post(fdi(stack, f"/{ds['datasource_id']}/test-connect")), 404, "FDI.3080")


def test_unknown_ids_are_404(stack, cli):
    for bad in ("0" * 32, "not-an-id", "A" * 32, "x" * 64):
        assert_fdi_err(cli.get(fdi(stack, f"/{bad}")), 404, "FDI.3080")


def test_ak_sk_signed_client(stack, app, mariadb):
    ak = stack.ak_client()
    ds = create(stack, ak, app, "MYSQL", mysql_content(mariadb))
    r = ak.get(fdi(stack, f"/{ds['datasource_id']}"))
    assert r.status_code == 200 and r.json()["datasource_id"] == ds["datasource_id"]


def test_list_filters_sort_paging(stack, cli, app, app2):
    tag = uniq("lst")
    made = []
    for i, (t, a) in enumerate([("REDIS", app), ("MONGODB", app), ("REDIS", app2), ("KAFKA", app2)]):
        content = {"address": "127.0.0.1:6379"} if t in ("REDIS", "MONGODB") else \
            {"broker": "127.0.0.1:9092", "ssl_enable": False}
        made.append(create(stack, cli, a, t, content, name=f"{tag}-{i}"))
        time.sleep(0.005)
    ids = [d["datasource_id"] for d in made]

    r = cli.get(fdi(stack), params={"name": tag, "limit": 100})
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"total", "size", "entities"}
    assert body["total"] == 4 and body["size"] == 4
    assert [e["datasource_id"] for e in body["entities"]] == ids[::-1], "default: newest first"
    assert all(e["content"] and "app_permission" in e for e in body["entities"])

    asc = cli.get(fdi(stack), params={"name": tag, "sort_field": "CREATED_DATE", "sort_type": "ASC"}).json()
    assert [e["datasource_id"] for e in asc["entities"]] == ids

    assert cli.get(fdi(stack), params={"name": tag, "datasource_type": "REDIS"}).json()["total"] == 2
    by_app = cli.get(fdi(stack), params={"name": tag, "app_id": app2["id"]}).json()
    assert {e["datasource_id"] for e in by_app["entities"]} == {ids[2], ids[3]}
    assert all(e["app_name"] == app2["name"] for e in by_app["entities"])

    page = cli.get(fdi(stack), params={"name": tag, "limit": 2, "offset": 1, "sort_type": "ASC"}).json()
    assert page["total"] == 4 and page["size"] == 2
    assert [e["datasource_id"] for e in page["entities"]] == ids[1:3]
    past = cli.get(fdi(stack), params={"name": tag, "limit": 2, "offset": 10}).json()
    assert past == {"total": 4, "size": 0, "entities": []}
    neg = cli.get(fdi(stack), params={"name": tag, "offset": -5, "sort_type": "ASC"}).json()
    assert neg["entities"][0]["datasource_id"] == ids[0], "offset < 0 is 0"
    big = cli.get(fdi(stack), params={"name": tag, "limit": 5000})
    assert big.status_code == 200 and big.json()["size"] == 4, "limit > 999 is 999"
    assert cli.get(fdi(stack), params={"name": "no-such-" + tag}).json() == {"total": 0, "size": 0, "entities": []}

    assert_fdi_err(cli.get(fdi(stack), params={"sort_field": "NAME"}), 400, "FDI.3033")
    assert_fdi_err(cli.get(fdi(stack), params={"sort_type": "UP"}), 400, "FDI.3033")
    assert_fdi_err(cli.get(fdi(stack), params={"datasource_type": "HTTP"}), 400, "FDI.3033")
    assert_fdi_err(cli.get(fdi(stack), params={"limit": "ten"}), 400, "FDI.3033")


# ---------------------------------------------------------------------------------------------------------
# field rules

# a minimal valid content per type, and one required field of it
VALID = {
    "DWS": ({"host": "10.0.0.1", "port": "8000", "database_name": "d", "user_name": "u", "password": "p"}, "database_name"),
    "MYSQL": ({"mode": "default", "host": "h", "port": "3306", "database_name": "d", "user_name": "u", "password": "p"}, "host"),
    "KAFKA": ({"broker": "10.0.0.1:9092", "ssl_enable": False}, "broker"),
    "API": ({"url": "http://example.test/x", "api_method": "GET"}, "api_method"),
    "OBS": ({"address": "obs.example.test", "ak": "a", "sk": "s", "bucket_name": "b"}, "bucket_name"),
    "SAP": ({"host": "h", "port": "3300", "user_name": "u", "password": "p"}, "user_name"),
    "MRSHBASE": ({"principal_name": "p"}, None),
    "MRSHDFS": ({}, None),
    "MRSHIVE": ({"hdfs_path": "/x"}, None),
    "WEBSOCKET": ({"url": "ws://example.test/s"}, "url"),
    "SQLSERVER": ({"mode": "default", "host": "h", "port": "1433", "database_name": "d", "user_name": "u", "password": "p"}, "port"),
    "ORACLE": ({"mode": "default", "host": "h", "port": "1521", "database_name": "d", "user_name": "u", "password": "p"}, "mode"),
    "POSTGRESQL": ({"mode": "default", "host": "h", "port": "5432", "database_name": "d", "user_name": "u", "password": "p"}, "password"),
    "REDIS": ({"address": "10.0.0.1:6379"}, "address"),
    "MONGODB": ({"address": "10.0.0.1:27017"}, "address"),
    "DIS": ({"ak": "a", "sk": "s", "dis_tunnel_name": "t"}, "dis_tunnel_name"),
    "HL7": ({"hl7_position": "source"}, "hl7_position"),
    "RABBITMQ": ({"host": "h", "port": "5672", "user_name": "u", "password": "p"}, "host"),
    "SNMP": ({"host": "h", "port": "161"}, "port"),
    "IBMMQ": ({"host": "h", "port": "1414", "user_name": "u", "password": "p"}, "password"),
    "CUSTOMIZED": ({"connector_params": {"a": 1}}, None),
    "ACTIVEMQ": ({"broker": "tcp://h:61616", "user_name": "u", "password": "p"}, "broker"),
    "ARTEMISMQ": ({"host": "h", "port": "61616", "user_name": "u", "password": "p"}, "user_name"),
    "FTP": ({"host": "h", "user_name": "u", "password": "p"}, "password"),
    "HIVE": ({"mode": "default", "host": "h", "port": "10000", "database_name": "d", "user_name": "u", "password": "p"}, "database_name"),
    "HANA": ({"host": "h", "port": "30015", "database_name": "d", "user_name": "u", "password": "p"}, "host"),
    "FIKAFKA": ({}, None),
    "MRSKAFKA": ({"config_file_name": "c.zip"}, None),
    "FIHDFS": ({}, None),
    "FIHIVE": ({}, None),
    "GAUSS200": ({"mode": "default", "host": "h", "port": "8000", "database_name": "d", "user_name": "u", "password": "p"}, "host"),
    "GAUSS100": ({"mode": "professional", "url": "jdbc:zenith:@h:1888", "user_name": "u", "password": "p",
                  "gauss100_version": "V300R001C00"}, "url"),
    "LDAP": ({"url": "ldap://h:389"}, "url"),
    "DB2": ({"mode": "default", "host": "h", "port": "50000", "database_name": "d", "user_name": "u", "password": "p"}, "user_name"),
    "TAURUS": ({"mode": "default", "host": "h", "port": "3306", "database_name": "d", "user_name": "u", "password": "p"}, "port"),
}


def test_all_35_types_covered():
    assert len(VALID) == 35


@pytest.mark.parametrize("dtype", sorted(VALID))
def test_type_minimal_valid_and_required_field(stack, cli, app, dtype):
    content, required = VALID[dtype]
    top = {"custom_plugin_id": "plugin-1"} if dtype == "CUSTOMIZED" else {}
    ds = create(stack, cli, app, dtype, dict(content), **top)
    assert ds["datasource_type"] == dtype
    for k, v in content.items():
        if k in ("password", "sk"):
            assert ds["content"][k] == MASK
        else:
            assert ds["content"][k] == v, (k, ds["content"])
    if required:
        broken = {k: v for k, v in content.items() if k != required}
        r = cli.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": dtype, "app_id": app["id"],
                                       "content": broken, **top})
        body = assert_fdi_err(r, 400, "FDI.3033")
        assert body["error_msg"] == f"Invalid parameter [content.{required}].", body
        # an empty string is as missing as an absent key
        r = cli.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": dtype, "app_id": app["id"],
                                       "content": dict(content, **{required: ""}), **top})
        assert_fdi_err(r, 400, "FDI.3033")


@pytest.mark.parametrize("field,value,ok", [
    ("datasource_name", "a", True),                    # §8 #9: text rule 1-255, not SPEC min 4
    ("datasource_name", "名" * 255, True),
    ("datasource_name", "x" * 256, False),
    ("datasource_name", "", False),
    ("datasource_name", "a&b", False), ("datasource_name", "a<b", False), ("datasource_name", "a>b", False),
    ("datasource_name", 'a"b', False), ("datasource_name", "a'b", False), ("datasource_name", "a(b", False),
    ("datasource_name", "a)b", False),
    ("datasource_name", "ok name_1.-（中）", True),
    ("datasource_name", 7, False),
    ("description", "d", True), ("description", "d" * 1024, True), ("description", "d" * 1025, False),
    ("description", 5, False), ("description", None, True),
    ("datasource_type", "HTTP", False), ("datasource_type", "mysql", False), ("datasource_type", None, False),
    ("app_id", "", False), ("app_id", 5, False), ("app_id", "00000000-0000-0000-0000-000000000000", False),
    ("content", "x", False), ("content", None, False), ("content", [], False),
])
def test_top_level_rules(stack, cli, app, field, value, ok):
    body = {"datasource_name": uniq(), "datasource_type": "REDIS", "app_id": app["id"],
            "content": {"address": "10.0.0.1:6379"}}
    body[field] = value
    r = cli.post(fdi(stack), json=body)
    if ok:
        assert r.status_code == 201, r.text
    else:
        b = assert_fdi_err(r, 400, "FDI.3033")
        assert b["error_msg"] == f"Invalid parameter [{field}].", b


def test_missing_top_level_fields(stack, cli, app):
    full = {"datasource_name": uniq(), "datasource_type": "REDIS", "app_id": app["id"],
            "content": {"address": "10.0.0.1:6379"}}
    for k in full:
        body = {kk: v for kk, v in full.items() if kk != k}
        b = assert_fdi_err(cli.post(fdi(stack), json=body), 400, "FDI.3033")
        assert b["error_msg"] == f"Invalid parameter [{k}].", b


def test_duplicate_keys_refused(stack, cli, app):
    """cJSON reads the first of two equal member names, PostgreSQL jsonb keeps the last: refuse them."""
    raw = ('{"datasource_name":"d","datasource_type":"REDIS","app_id":"%s","content":{"address":"h:1",'
           '"password":"Dup-Pw-1","password":"Dup-Pw-2"}}' % app["id"])
    b = assert_fdi_err(cli.post(fdi(stack), data=raw.encode(), headers={"Content-Type": "application/json"}), 400,
                       "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [content.password].", b
    raw = '{"datasource_name":"a","datasource_name":"b","datasource_type":"REDIS","app_id":"%s","content":{}}' % app["id"]
    b = assert_fdi_err(cli.post(fdi(stack), data=raw.encode(), headers={"Content-Type": "application/json"}), 400,
                       "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [datasource_name].", b


def test_bad_bodies(stack, cli):
    assert_fdi_err(cli.post(fdi(stack), data=b"{not json", headers={"Content-Type": "application/json"}), 400,
                   "FDI.3002")
    assert_fdi_err(cli.post(fdi(stack), data=b"", headers={"Content-Type": "application/json"}), 400, "FDI.3002")
    assert_fdi_err(cli.post(fdi(stack), json=[1, 2]), 400, "FDI.3002")
    assert_fdi_err(cli.post(fdi(stack), json="str"), 400, "FDI.3002")


@pytest.mark.parametrize("dtype,content,field", [
    ("MYSQL", {"mode": "expert"}, "content.mode"),
    ("MYSQL", {"mode": "multiAddress"}, "content.mode"),
    ("MYSQL", {"port": "70000"}, "content.port"),
    ("MYSQL", {"port": "33a"}, "content.port"),
    ("MYSQL", {"port": True}, "content.port"),
    ("MYSQL", {"encoding": "utf-8"}, "content.encoding"),
    ("MYSQL", {"mysql_timeout": 0}, "content.mysql_timeout"),
    ("MYSQL", {"mysql_timeout": 20001}, "content.mysql_timeout"),
    ("MYSQL", {"mysql_timeout": 1.5}, "content.mysql_timeout"),
    ("MYSQL", {"password": 123}, "content.password"),
    ("MYSQL", {"host": "h" * 256}, "content.host"),
    ("MYSQL", {"mode": "professional", "url": None}, "content.url"),
    ("KAFKA", {"ssl_enable": "yes"}, "content.ssl_enable"),
    ("KAFKA", {"ssl_enable": True}, "content.ssl_username"),
    ("REDIS", {"redis_database": "1a"}, "content.redis_database"),
    ("REDIS", {"mode": "professional"}, "content.mode"),
    ("API", {"api_method": "get"}, "content.api_method"),
    ("API", {"url": "ftp://x/y"}, "content.url"),
    ("API", {"api_auth_detail": {"auth_method": "basicauth", "user_name": "u"}}, "content.api_auth_detail.password"),
    ("API", {"api_auth_detail": {"auth_method": "kerberos"}}, "content.api_auth_detail.auth_method"),
    ("API", {"api_auth_detail": "none"}, "content.api_auth_detail"),
    ("API", {"api_auth_detail": {"auth_method": "oauth2.0", "access_token_url": "http://t/x", "client_id": "c"}},
     "content.api_auth_detail.client_secret"),
    ("FTP", {"ftp_protocol": "ftps"}, "content.ftp_protocol"),
    ("FTP", {"ftp_connect_mode": "pasv"}, "content.ftp_connect_mode"),
    ("ORACLE", {"mode": "multiAddress", "multi_oracle_address": [], "oracle_service_name": "s"},
     "content.multi_oracle_address"),
    ("ORACLE", {"mode": "multiAddress", "oracle_service_name": "s",
                "multi_oracle_address": [{"oracle_address": "a" * 31, "oracle_port": "1521"}]},
     "content.multi_oracle_address[0].oracle_address"),
    ("SNMP", {"snmp_version": 2}, "content.snmp_version"),
    ("SNMP", {"snmp_network_protocol": "sctp"}, "content.snmp_network_protocol"),
    ("HL7", {"hl7_position": "target"}, "content.host"),
    ("DIS", {"dis_setting_type": "senior"}, "content.dis_endpoint"),
    ("LDAP", {"url": "http://x"}, "content.url"),
    ("LDAP", {"ldap_security_auth_type": "simple"}, "content.user_name"),
    ("WEBSOCKET", {"auth_method": "basicauth"}, "content.user_name"),
    ("RABBITMQ", {"rabbitmq_ssl_protocol": "SSLv3"}, "content.rabbitmq_ssl_protocol"),
    ("GAUSS100", {"gauss100_version": "V1"}, "content.gauss100_version"),
    ("ACTIVEMQ", {"ssl_auth_method": "three-way"}, "content.ssl_auth_method"),
    ("MONGODB", {"mongodb_auth_source": "a" * 61}, "content.mongodb_auth_source"),
    ("SAP", {"sap_client": "12345678901"}, "content.sap_client"),
    ("CUSTOMIZED", {"connector_params": [1]}, "content.connector_params"),
])
def test_content_rules(stack, cli, app, dtype, content, field):
    base = dict(VALID[dtype][0])
    base.update(content)
    body = {"datasource_name": uniq(), "datasource_type": dtype, "app_id": app["id"], "content": base}
    if dtype == "CUSTOMIZED":
        body["custom_plugin_id"] = "p1"
    b = assert_fdi_err(cli.post(fdi(stack), json=body), 400, "FDI.3033")
    assert b["error_msg"] == f"Invalid parameter [{field}].", b
    assert b.get("detail"), "the rule is explained in detail"


def test_customized_needs_plugin_id(stack, cli, app):
    b = assert_fdi_err(cli.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": "CUSTOMIZED",
                                                  "app_id": app["id"], "content": {}}), 400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [custom_plugin_id]."
    ds = create(stack, cli, app, "CUSTOMIZED", {}, custom_plugin_id="conn-77")
    assert ds["custom_plugin_id"] == "conn-77"
    lst = cli.get(fdi(stack), params={"custom_plugin_id": "conn-77"}).json()
    assert ds["datasource_id"] in [e["datasource_id"] for e in lst["entities"]]


def test_normalisation_to_sdk_types_and_unknown_keys(stack, cli, app):
    """Numbers where the SDK models strings (and the reverse) come back in the SDK's type; unknown content
    keys (SEED KAFKA example: project_id, type, instance_id) are kept and echoed."""
    ds = create(stack, cli, app, "MYSQL", {"mode": "default", "host": "h", "port": 3306, "database_name": "d",
                                           "user_name": "u", "password": "p", "mysql_timeout": "30",
                                           "encoding": "utf8mb4", "x_extra": {"nested": [1, "two"]}})
    c = ds["content"]
    assert c["port"] == "3306" and c["mysql_timeout"] == 30 and c["x_extra"] == {"nested": [1, "two"]}
    k = create(stack, cli, app, "KAFKA", {"broker": "10.0.0.1:9092", "ssl_enable": "true", "ssl_username": "1",
                                          "ssl_password": "secret-k", "project_id": stack.project_id,
                                          "type": "KAFKA", "instance_id": stack.instance_id})
    assert k["content"]["ssl_enable"] is True and k["content"]["ssl_password"] == MASK
    assert k["content"]["project_id"] == stack.project_id and k["content"]["type"] == "KAFKA"
    r = create(stack, cli, app, "REDIS", {"address": "10.0.0.1:6379", "redis_database": 3})
    assert r["content"]["redis_database"] == "3"
    o = create(stack, cli, app, "ORACLE", {"mode": "multiAddress", "oracle_service_name": "svc", "database_name": "d",
                                           "user_name": "u", "password": "p",
                                           "multi_oracle_address": [{"oracle_address": "10.0.0.1", "oracle_port": 1521}]})
    assert o["content"]["multi_oracle_address"] == [{"oracle_address": "10.0.0.1", "oracle_port": "1521"}]
    s = create(stack, cli, app, "SNMP", {"host": "h", "port": "161", "snmp_version": "3"})
    assert s["content"]["snmp_version"] == 3


def test_app_must_exist_and_belong_to_caller(stack, cli, app):
    b = assert_fdi_err(cli.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": "REDIS",
                                                  "app_id": str(uuid.uuid4()), "content": {"address": "h:1"}}),
                       400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [app_id]."
    ds = create(stack, cli, app, "REDIS", {"address": "h:1"})
    b = assert_fdi_err(cli.put(fdi(stack, f"/{ds['datasource_id']}"), json={"app_id": str(uuid.uuid4())}), 400,
                       "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [app_id]."


def test_app_with_datasources_cannot_be_deleted(stack, cli):
    a = cli.post(stack.inst("/apps"), json={"name": uniq("owner")}).json()
    ds = create(stack, cli, a, "REDIS", {"address": "h:1"})
    r = cli.delete(stack.inst(f"/apps/{a['id']}"))
    assert r.status_code == 400 and r.json()["error_code"] == "ROMA.00014004", r.text
    assert cli.delete(fdi(stack, f"/{ds['datasource_id']}")).status_code == 204
    assert cli.delete(stack.inst(f"/apps/{a['id']}")).status_code in (200, 204)


def test_update_type_change_is_validated(stack, cli, app):
    ds = create(stack, cli, app, "REDIS", {"address": "h:1"})
    b = assert_fdi_err(cli.put(fdi(stack, f"/{ds['datasource_id']}"), json={"datasource_type": "MYSQL"}), 400,
                       "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [content.mode]."
    u = cli.put(fdi(stack, f"/{ds['datasource_id']}"),
                json={"datasource_type": "MONGODB", "content": {"address": "h:27017"}, "description": "now mongo"})
    assert u.status_code == 200 and u.json()["datasource_type"] == "MONGODB" and u.json()["description"] == "now mongo"
    cleared = cli.put(fdi(stack, f"/{ds['datasource_id']}"), json={"description": None}).json()
    assert cleared["description"] == ""


# ---------------------------------------------------------------------------------------------------------
# secrets


def test_secrets_sealed_masked_and_kept(stack, cli, app, mariadb):
    ds = create(stack, cli, app, "API", {
        "url": "http://127.0.0.1:1/x", "api_method": "GET",
        "api_auth_detail": {"auth_method": "oauth2.0", "access_token_url": "http://127.0.0.1:1/t",
                            "client_id": "cid", "client_secret": "cs-Secret-0101", "app_secret": "as-Secret-0202",
                            "secret": "s-Secret-0303", "password": "p-Secret-0404", "user_name": "u"}})
    ad = ds["content"]["api_auth_detail"]
    assert ad["client_secret"] == ad["app_secret"] == ad["secret"] == ad["password"] == MASK
    assert ad["client_id"] == "cid" and ad["user_name"] == "u"
    other = create(stack, cli, app, "RABBITMQ", {"host": "h", "port": "5672", "user_name": "u",
                                                 "password": "rb-Secret-0505", "ssl_enable": True,
                                                 "trust_store_password": "ts-Secret-0606",
                                                 "key_store_password": "ks-Secret-0707",
                                                 "key_store_key_password": "kk-Secret-0808"})
    assert all(other["content"][k] == MASK for k in ("password", "trust_store_password", "key_store_password",
                                                     "key_store_key_password"))
    obs = create(stack, cli, app, "OBS", {"address": "obs.test", "ak": "AK1", "sk": "sk-Secret-0909",
                                          "bucket_name": "b"})
    assert obs["content"]["sk"] == MASK and obs["content"]["ak"] == "AK1"

    # at rest: sealed, never plaintext
    rows = stack.sql(f"SELECT content::text FROM datasources WHERE id IN ('{ds['datasource_id']}', "
                     f"'{other['datasource_id']}', '{obs['datasource_id']}')")
    for s in ("cs-Secret-0101", "as-Secret-0202", "s-Secret-0303", "p-Secret-0404", "rb-Secret-0505",
              "ts-Secret-0606", "ks-Secret-0707", "kk-Secret-0808", "sk-Secret-0909"):
        assert s not in rows
    assert rows.count('"v1:') >= 9
    # the schema refuses plaintext secrets too
    with pytest.raises(AssertionError):
        stack.sql(f"UPDATE datasources SET content = content || '{{\"password\": \"plain\"}}' "
                  f"WHERE id = '{obs['datasource_id']}'")

    # "******" keeps the stored value: the sealed text is unchanged by an update sending the mask
    before = stack.sql(f"SELECT content->>'sk' FROM datasources WHERE id = '{obs['datasource_id']}'")
    u = cli.put(fdi(stack, f"/{obs['datasource_id']}"), json={"content": dict(obs["content"], bucket_name="b2")})
    assert u.status_code == 200 and u.json()["content"]["bucket_name"] == "b2"
    assert stack.sql(f"SELECT content->>'sk' FROM datasources WHERE id = '{obs['datasource_id']}'") == before
    # a new value replaces it (resealed)
    cli.put(fdi(stack, f"/{obs['datasource_id']}"), json={"content": dict(obs["content"], sk="sk-New-1111")})
    after = stack.sql(f"SELECT content->>'sk' FROM datasources WHERE id = '{obs['datasource_id']}'")
    assert after != before and after.startswith("v1:")
    # "******" for a secret never stored, and on create: refused
    b = assert_fdi_err(cli.put(fdi(stack, f"/{obs['datasource_id']}"),
                               json={"datasource_type": "MYSQL", "content": {"mode": "default", "host": "h", "port": "1",
                                                                             "database_name": "d", "user_name": "u",
                                                                             "password": MASK, "sk": MASK}}),
                       400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [content.password]."
    b = assert_fdi_err(cli.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": "MYSQL",
                                                  "app_id": app["id"], "content": mysql_content(mariadb, password=MASK)}),
                       400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [content.password]."


def test_mask_round_trip_through_test_connect(stack, cli, app, mariadb):
    """The stored password survives an update and a test that send "******" back (the SEED examples)."""
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb))
    u = cli.put(fdi(stack, f"/{ds['datasource_id']}"), json=dict(
        datasource_name=ds["datasource_name"], datasource_type="MYSQL", app_id=app["id"], description="testtesttest",
        content=ds["content"]))
    assert u.status_code == 200, u.text
    assert u.json()["content"]["password"] == MASK
    r = test_connect(stack, cli, ds["datasource_id"], dict(datasource_name=ds["datasource_name"],
                                                           datasource_type="MYSQL", app_id=app["id"],
                                                           content=u.json()["content"]))
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True


# ---------------------------------------------------------------------------------------------------------
# test-connect against real servers


def test_mysql_ok_and_failures(stack, cli, app, mariadb, closed_port):
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb))
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    assert r.json()["result"] is True
    shown = cli.get(fdi(stack, f"/{ds['datasource_id']}")).json()
    assert shown["last_test_result"] is True and isinstance(shown["last_test_latency_ms"], int)
    assert abs(shown["last_test_time"] - time.time() * 1000) < 60000

    body = dict(datasource_name="t", datasource_type="MYSQL", app_id=app["id"])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, password="Wrong-Pw-x1")))
    assert_test_failed(r, "authentication failed", ["Wrong-Pw-x1", MY_PASS])
    shown = cli.get(fdi(stack, f"/{ds['datasource_id']}")).json()
    assert shown["last_test_result"] is False and "authentication failed" in shown["last_test_detail"]
    assert shown["content"]["password"] == MASK, "testing another config does not change the stored one"

    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, database_name="appx_missing")))
    assert_test_failed(r, "unknown database", [MY_PASS])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, database_name="otherdb")))
    assert_test_failed(r, "permission denied", [MY_PASS])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, port=str(closed_port))))
    assert_test_failed(r, "connection refused")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, host="db.example.invalid")))
    assert_test_failed(r, "DNS failure")
    t0 = time.monotonic()
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, host="169.254.169.254")))
    assert_test_failed(r, "address denied by policy")
    assert time.monotonic() - t0 < 3, "denied before any connect attempt"
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=mysql_content(mariadb, host="::ffff:169.254.169.254")))
    assert_test_failed(r, "address denied by policy")
    # professional mode: JDBC URL
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={
        "mode": "professional", "url": f"jdbc:mysql://127.0.0.1:{mariadb['port']}/{mariadb['db']}?useSSL=false",
        "user_name": mariadb["user"], "password": MASK}))
    assert r.status_code == 200, r.text
    # and still OK with the stored config (the body-less form)
    assert test_connect(stack, cli, ds["datasource_id"]).status_code == 200


def test_taurus_uses_the_mysql_check(stack, cli, app, mariadb):
    ds = create(stack, cli, app, "TAURUS", mysql_content(mariadb))
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text


def test_postgresql_ok_and_failures(stack, cli, app, pg_checks, closed_port):
    ds = create(stack, cli, app, "POSTGRESQL", pg_content(pg_checks))
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    body = dict(datasource_name="t", datasource_type="POSTGRESQL", app_id=app["id"])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=pg_content(pg_checks, password="Bad-Pg-Pw9")))
    assert_test_failed(r, "authentication failed", ["Bad-Pg-Pw9", PG_PASS])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=pg_content(pg_checks, database_name="nosuchdb")))
    assert_test_failed(r, "unknown database")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=pg_content(pg_checks, port=str(closed_port))))
    assert_test_failed(r, "connection refused")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=pg_content(pg_checks, host="pg.nowhere.invalid")))
    assert_test_failed(r, "DNS failure")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={
        "mode": "professional", "url": f"jdbc:postgresql://localhost:{pg_checks['port']}/{pg_checks['db']}",
        "user_name": pg_checks["user"], "password": MASK}))
    assert r.status_code == 200, r.text


def test_redis_ok_and_failures(stack, cli, app, redis_srv, closed_port):
    addr = f"127.0.0.1:{redis_srv['port']}"
    ds = create(stack, cli, app, "REDIS", {"address": addr, "password": REDIS_PASS, "mode": "default"})
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    body = dict(datasource_name="t", datasource_type="REDIS", app_id=app["id"])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={"address": addr, "password": "Bad-Redis-1"}))
    assert_test_failed(r, "authentication failed", ["Bad-Redis-1", REDIS_PASS])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={"address": addr}))
    assert_test_failed(r, "authentication failed")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={"address": addr, "password": MASK,
                                                                          "redis_database": "99"}))
    assert_test_failed(r, "unknown database")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={"address": f"{addr},127.0.0.1:{closed_port}",
                                                                          "password": MASK}))
    assert_test_failed(r, "connection refused")
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content={"address": addr, "password": MASK,
                                                                          "redis_database": "2"}))
    assert r.status_code == 200, r.text


def test_http_basic_auth_and_oauth(stack, cli, app, http_srv):
    base = http_srv["base"]
    basic = {"auth_method": "basicauth", "user_name": http_srv["user"], "password": http_srv["password"]}
    ds = create(stack, cli, app, "API", {"url": base + "/basic", "api_method": "GET", "api_auth_detail": basic})
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    assert "HTTP 200" in r.json()["detail"]
    body = dict(datasource_name="t", datasource_type="API", app_id=app["id"])

    def content(url, method="GET", ad=None):
        return {"url": base + url, "api_method": method, "api_auth_detail": ad or {"auth_method": "none"}}

    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/basic", ad=dict(basic, password="Bad-Http-3"))))
    assert_test_failed(r, "authentication failed", ["Bad-Http-3", http_srv["password"]])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/basic", "POST", dict(basic, password=MASK))))
    assert r.status_code == 200, r.text
    assert http_srv["seen"][-1][0] == "POST", "the configured method is used"
    assert test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/open", "PUT"))).status_code == 200
    assert test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/redirect"))).status_code == 200
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/forbidden"))),
                       "permission denied")
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/missing"))), "HTTP 404")
    oauth = {"auth_method": "oauth2.0", "access_token_url": base + "/token", "client_id": http_srv["client_id"],
             "client_secret": http_srv["client_secret"], "grant_type": "client_credentials"}
    assert test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/bearer", ad=oauth))).status_code == 200
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"],
                                    dict(body, content=content("/bearer", ad=dict(oauth, client_secret="Bad-Cs-5")))),
                       "authentication failed", ["Bad-Cs-5"])
    # not exercised auth methods: reachability only, said so
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=content("/open", ad={"auth_method": "hmac",
                                                                                              "secret": "x1y2z3"})))
    assert r.status_code == 200 and "not exercised" in r.json()["detail"], r.text
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"],
                                    dict(body, content={"url": "http://169.254.169.254/latest/meta-data",
                                                        "api_method": "GET"})), "address denied by policy")
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"],
                                    dict(body, content={"url": "http://api.nothing.invalid/", "api_method": "GET"})),
                       "DNS failure")


def test_ftp_ok_and_wrong_password(stack, cli, app, ftp_srv, closed_port):
    c = {"host": ftp_srv["host"], "port": str(ftp_srv["port"]), "user_name": ftp_srv["user"],
         "password": ftp_srv["password"], "ftp_protocol": "ftp", "ftp_connect_mode": "passive"}
    ds = create(stack, cli, app, "FTP", c)
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    body = dict(datasource_name="t", datasource_type="FTP", app_id=app["id"])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=dict(c, password="Bad-Ftp-7")))
    assert_test_failed(r, "authentication failed", ["Bad-Ftp-7", FTP_PASS])
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=dict(c, password=MASK, ftp_connect_mode="active")))
    assert r.status_code == 200, r.text
    r = test_connect(stack, cli, ds["datasource_id"], dict(body, content=dict(c, password=MASK, port=str(closed_port))))
    assert_test_failed(r, "connection refused")


@pytest.mark.parametrize("dtype,content", [
    ("MONGODB", {"address": "127.0.0.1:{port}", "user_name": "u", "password": "p"}),
    ("KAFKA", {"broker": "127.0.0.1:{port}", "ssl_enable": False}),
    ("RABBITMQ", {"host": "127.0.0.1", "port": "{port}", "user_name": "u", "password": "p"}),
    ("ORACLE", {"mode": "default", "host": "127.0.0.1", "port": "{port}", "database_name": "d", "user_name": "u",
                "password": "p"}),
])
def test_other_types_closed_port(stack, cli, app, closed_port, dtype, content):
    """Checks without a server here still report refusals in the documented words, and fast."""
    c = {k: (v.format(port=closed_port) if isinstance(v, str) else v) for k, v in content.items()}
    ds = create(stack, cli, app, dtype, c)
    t0 = time.monotonic()
    r = test_connect(stack, cli, ds["datasource_id"])
    words = "timeout" if dtype == "KAFKA" else "connection refused"
    body = assert_fdi_err(r, 400, "FDI.3016")
    assert words in body["detail"] or "connection refused" in body["detail"], body
    assert time.monotonic() - t0 < 12


def test_tcp_only_types_say_so(stack, cli, app, mariadb):
    """A type without a protocol check gets a TCP reachability check and the detail says only that."""
    ds = create(stack, cli, app, "SQLSERVER", {"mode": "default", "host": "127.0.0.1", "port": str(mariadb["port"]),
                                               "database_name": "d", "user_name": "u", "password": "p"})
    r = test_connect(stack, cli, ds["datasource_id"])
    assert r.status_code == 200, r.text
    assert "reachability only" in r.json()["detail"]
    mrs = create(stack, cli, app, "MRSHDFS", {})
    r = test_connect(stack, cli, mrs["datasource_id"])
    assert_test_failed(r, "not supported")


def test_test_connect_validates_body(stack, cli, app, mariadb):
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb))
    b = assert_fdi_err(cli.post(fdi(stack, f"/{ds['datasource_id']}/test-connect"),
                                json={"content": {"mode": "default", "host": "h"}}), 400, "FDI.3033")
    assert b["error_msg"].startswith("Invalid parameter [content.")
    assert_fdi_err(cli.post(fdi(stack, f"/{ds['datasource_id']}/test-connect"), data=b"{x",
                            headers={"Content-Type": "application/json"}), 400, "FDI.3002")


# ---------------------------------------------------------------------------------------------------------
# tables and columns


def test_mysql_tables_and_columns(stack, cli, app, mariadb):
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb))
    p = fdi(stack, f"/{ds['datasource_id']}")
    r = cli.get(p + "/tables", params={"position": "SOURCE"})
    assert r.status_code == 200, r.text
    assert r.json() == {"tables": ["customers", "order_items", "orders"]}
    assert cli.get(p + "/tables", params={"position": "TARGET", "filter": "order"}).json() == \
        {"tables": ["order_items", "orders"]}
    assert cli.get(p + "/tables", params={"position": "SOURCE", "filter": "_"}).json() == {"tables": ["order_items"]}
    assert cli.get(p + "/tables", params={"position": "SOURCE", "filter": "%"}).json() == {"tables": []}
    r = cli.get(p + "/columns", params={"position": "SOURCE", "table_name": "orders"})
    assert r.status_code == 200, r.text
    cols = {c["field_name"]: c for c in r.json()["columns"]}
    assert list(cols) == ["id", "code", "amount", "created", "note"]
    for c in cols.values():
        assert set(c) == {"field_name", "field_type", "field_length", "null_able", "primary", "unique",
                          "decimal_digits", "is_partition"}
        assert c["is_partition"] is False
    assert cols["id"]["primary"] == "Y" and cols["id"]["null_able"] == "NO" and cols["id"]["field_type"] == "INT"
    assert cols["code"]["unique"] == "Y" and cols["code"]["field_length"] == "32" and cols["code"]["decimal_digits"] is None
    assert cols["amount"]["field_type"] == "DECIMAL" and cols["amount"]["field_length"] == "10"
    assert cols["amount"]["decimal_digits"] == "2" and cols["amount"]["null_able"] == "YES"
    assert cols["created"]["primary"] == "N" and cols["created"]["unique"] == "N"

    b = assert_fdi_err(cli.get(p + "/columns", params={"position": "SOURCE", "table_name": "nope"}), 400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [table_name]."
    b = assert_fdi_err(cli.get(p + "/columns", params={"position": "SOURCE"}), 400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [table_name]."
    b = assert_fdi_err(cli.get(p + "/tables"), 400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [position]."
    assert_fdi_err(cli.get(p + "/tables", params={"position": "MIDDLE"}), 400, "FDI.3033")
    assert cli.get(p + "/tables", params={"direction_type": "SOURCE"}).status_code == 200
    assert_fdi_err(cli.get(fdi(stack, "/" + "0" * 32 + "/tables"), params={"position": "SOURCE"}), 404, "FDI.3080")


def test_pg_tables_and_columns(stack, cli, app, pg_checks):
    ds = create(stack, cli, app, "POSTGRESQL", pg_content(pg_checks))
    p = fdi(stack, f"/{ds['datasource_id']}")
    r = cli.get(p + "/tables", params={"position": "SOURCE"})
    assert r.status_code == 200, r.text
    assert r.json() == {"tables": ["customers", "orders", "sales.leads"]}
    assert cli.get(p + "/tables", params={"position": "SOURCE", "filter": "lead"}).json() == {"tables": ["sales.leads"]}
    cols = {c["field_name"]: c for c in cli.get(p + "/columns", params={"position": "SOURCE",
                                                                         "table_name": "orders"}).json()["columns"]}
    assert list(cols) == ["id", "code", "amount", "note", "created"]
    assert cols["id"]["primary"] == "Y" and cols["id"]["null_able"] == "NO" and cols["id"]["decimal_digits"] == "0"
    assert cols["code"]["unique"] == "Y" and cols["code"]["field_length"] == "32" and cols["code"]["decimal_digits"] is None
    assert cols["amount"]["field_length"] == "10" and cols["amount"]["decimal_digits"] == "2"
    assert cols["note"]["null_able"] == "YES"
    leads = cli.get(p + "/columns", params={"position": "SOURCE", "table_name": "sales.leads"}).json()["columns"]
    assert [c["field_name"] for c in leads] == ["id", "source"]
    b = assert_fdi_err(cli.get(p + "/columns", params={"position": "SOURCE", "table_name": "nope"}), 400, "FDI.3033")
    assert b["error_msg"] == "Invalid parameter [table_name]."


def test_tables_wrong_password_and_unsupported_type(stack, cli, app, mariadb, redis_srv):
    ds = create(stack, cli, app, "MYSQL", mysql_content(mariadb, password="Nope-Nope-1"))
    r = cli.get(fdi(stack, f"/{ds['datasource_id']}/tables"), params={"position": "SOURCE"})
    assert_test_failed(r, "authentication failed", ["Nope-Nope-1"])
    rd = create(stack, cli, app, "REDIS", {"address": f"127.0.0.1:{redis_srv['port']}"})
    assert_fdi_err(cli.get(fdi(stack, f"/{rd['datasource_id']}/tables"), params={"position": "SOURCE"}), 400, "FDI.3002")


# ---------------------------------------------------------------------------------------------------------
# deadlines, workers, faults (private stacks)


@pytest.fixture(scope="module")
def fast_stack(pg, make_stack_module):
    return make_stack_module(workers={"datasource": 2},
                             extra_env=dict(LOOPBACK_OK, ROMA_DS_CHECK_TIMEOUT_MS="2000", ROMA_DS_BUS_MARGIN_MS="1000"))


def _app_on(stack):
    c = stack.client()
    r = c.post(stack.inst("/apps"), json={"name": uniq("fa")})
    assert r.status_code == 201, r.text
    return c, r.json()


def test_deadline_accept_but_silent(fast_stack, silent_port, mariadb):
    c, a = _app_on(fast_stack)
    cases = [
        ("MYSQL", mysql_content(mariadb, port=str(silent_port))),
        ("POSTGRESQL", {"mode": "default", "host": "127.0.0.1", "port": str(silent_port), "database_name": "d",
                        "user_name": "u", "password": "p"}),
        ("REDIS", {"address": f"127.0.0.1:{silent_port}", "password": "p"}),
        ("API", {"url": f"http://127.0.0.1:{silent_port}/x", "api_method": "GET"}),
        ("FTP", {"host": "127.0.0.1", "port": str(silent_port), "user_name": "u", "password": "p"}),
        ("RABBITMQ", {"host": "127.0.0.1", "port": str(silent_port), "user_name": "u", "password": "p"}),
    ]
    for dtype, content in cases:
        ds = create(fast_stack, c, a, dtype, content)
        t0 = time.monotonic()
        r = test_connect(fast_stack, c, ds["datasource_id"])
        took = time.monotonic() - t0
        assert_test_failed(r, "timeout")
        assert took < 2.0 + 2.0, f"{dtype}: answered after {took:.2f}s"
        assert took > 1.5, f"{dtype}: {took:.2f}s: the deadline, not an early error"


def test_two_workers_share_checks(make_stack_module, mariadb):
    # default deadlines: with the 2 s deadline of fast_stack, 8 concurrent checks on a loaded 2-core
    # machine under ASan can legitimately time out, and this test is about sharing, not deadlines
    fast_stack = make_stack_module(workers={"datasource": 2}, extra_env=LOOPBACK_OK)
    c, a = _app_on(fast_stack)
    ds = create(fast_stack, c, a, "MYSQL", mysql_content(mariadb))
    workers = fast_stack.workers("datasource")
    assert len(workers) == 2
    before = [w.log_text().count('"event":"ds.check"') for w in workers]

    def one(_):
        return test_connect(fast_stack, fast_stack.client(), ds["datasource_id"]).status_code

    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        codes = list(ex.map(one, range(24)))
    assert codes == [200] * 24
    after = [w.log_text().count('"event":"ds.check"') for w in workers]
    done = [a_ - b_ for a_, b_ in zip(after, before)]
    assert sum(done) == 24 and all(n > 0 for n in done), done


def test_worker_killed_mid_check_is_503(make_stack_module, silent_port, mariadb):
    s = make_stack_module(workers={"datasource": 1}, extra_env=dict(LOOPBACK_OK, ROMA_DS_CHECK_TIMEOUT_MS="6000",
                                                                     ROMA_DS_BUS_MARGIN_MS="1000"))
    c, a = _app_on(s)
    ds = create(s, c, a, "MYSQL", mysql_content(mariadb, port=str(silent_port)))
    result = {}

    def call():
        t0 = time.monotonic()
        result["r"] = test_connect(s, c, ds["datasource_id"])
        result["took"] = time.monotonic() - t0

    th = threading.Thread(target=call)
    th.start()
    w = s.workers("datasource")[0]
    time.sleep(0.8)  # the check is inside the MySQL handshake wait now
    w.kill9()
    th.join(15)
    assert not th.is_alive()
    body = assert_fdi_err(result["r"], 503, "FDI.3503")
    assert "unavailable" in body["error_msg"]
    assert result["took"] < 6.0, f"503 after {result['took']:.2f}s: not within the check deadline"
    # a new worker takes over
    s.start_worker("datasource")
    ok = create(s, c, a, "MYSQL", mysql_content(mariadb))
    wait_for(lambda: test_connect(s, c, ok["datasource_id"]).status_code == 200, 20, what="new worker answering")


def test_no_worker_is_503_within_deadline(make_stack_module, mariadb):
    s = make_stack_module(workers={}, extra_env=dict(LOOPBACK_OK, ROMA_DS_CHECK_TIMEOUT_MS="1000",
                                                     ROMA_DS_BUS_MARGIN_MS="500"))
    c, a = _app_on(s)
    ds = create(s, c, a, "MYSQL", mysql_content(mariadb))
    t0 = time.monotonic()
    r = test_connect(s, c, ds["datasource_id"])
    took = time.monotonic() - t0
    assert_fdi_err(r, 503, "FDI.3503")
    assert took < 1.0 + 0.5 + 2.0, took
    shown = c.get(fdi(s, f"/{ds['datasource_id']}")).json()
    assert not TEST_KEYS & set(shown), "an unanswered test is not recorded"


def test_worker_clean_sigterm(make_stack_module):
    s = make_stack_module(workers={"datasource": 1})
    w = s.workers("datasource")[0]
    wait_for(lambda: '"event":"worker.started"' in w.log_text(), 20, what="worker start")
    assert w.stop() == 0
    assert '"event":"worker.stopped"' in w.log_text()


def test_worker_check_and_help_config(stack):
    """--check (the compose health probe) answers 0 when the broker backend is reachable, 1 otherwise;
    --help-config documents the worker's settings."""
    import subprocess
    from conftest import BIN
    binary = os.path.join(BIN, "roma-datasource-worker")
    ok = subprocess.run([binary, "--check"], env=stack.env, capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0 and ok.stdout.strip() == "ok", ok.stderr
    bad = subprocess.run([binary, "--check"], env=dict(stack.env, ROMA_BROKER_BACKEND="tcp://127.0.0.1:1"),
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "connection refused" in bad.stderr
    cidr = subprocess.run([binary, "--check"], env=dict(stack.env, ROMA_DS_DENY_CIDRS="10.0.0.0/33"),
                          capture_output=True, text=True, timeout=30)
    assert cidr.returncode == 2 and "invalid CIDR" in cidr.stderr
    h = subprocess.run([binary, "--help-config"], capture_output=True, text=True, timeout=30)
    for var in ("ROMA_DS_CHECK_TIMEOUT_MS", "ROMA_DS_CONCURRENCY", "ROMA_DS_ALLOW_CIDRS", "ROMA_DS_DENY_CIDRS",
                "ROMA_SECRET_KEY", "ROMA_BROKER_BACKEND"):
        assert f"`{var}`" in h.stdout
    assert "127.0.0.0/8,::1/128,0.0.0.0/8,::/128,169.254.0.0/16,fe80::/10,fd00:ec2::254/128" in h.stdout
    assert "`ROMA_DS_DENY_PLATFORM`" in h.stdout


# ---------------------------------------------------------------------------------------------------------
# roles on every path, and where a stored secret may travel

STORED_REDIS_PW = "StoredRedisPassw0rd!"


class User:
    def __init__(self, stack):
        self.name = uniq("dsuser")
        self.id = stack.admin("user-create", "--project", stack.project_id, "--name", self.name,
                              "--password", "Passw0rd-ds-1").strip()
        self.client = stack.client(token=stack.admin("token-create", "--user", self.id).strip())


def _members(stack, cli, app, pairs):
    r = cli.put(stack.inst(f"/apps/{app['id']}/users"),
                json={"users": [{"id": u.id, "roles": roles} for u, roles in pairs]})
    assert r.status_code == 200, r.text


def test_roles_on_every_path(stack, cli, redis_srv):
    a = cli.post(stack.inst("/apps"), json={"name": uniq("roles")}).json()
    ds = create(stack, cli, a, "REDIS", {"address": f"127.0.0.1:{redis_srv['port']}", "password": REDIS_PASS},
                name=uniq("rl"))
    p = fdi(stack, f"/{ds['datasource_id']}")
    outsider, reader, user, changer, remover = (User(stack) for _ in range(5))
    _members(stack, cli, a, [(reader, ["read"]), (user, ["access"]), (changer, ["modify"]), (remover, ["delete"])])

    # not a member: the datasource does not exist for them, on every path
    o = outsider.client
    lst = o.get(fdi(stack), params={"name": ds["datasource_name"]}).json()
    assert lst == {"total": 0, "size": 0, "entities": []}, lst
    for r in (o.get(p), o.put(p, json={"description": "x"}), o.delete(p), o.post(p + "/test-connect"),
              o.get(p + "/tables", params={"position": "SOURCE"}),
              o.get(p + "/columns", params={"position": "SOURCE", "table_name": "t"})):
        assert_fdi_err(r, 404, "FDI.3080")

    # read: list and show only
    rd = reader.client
    shown = rd.get(p)
    assert shown.status_code == 200 and shown.json()["app_permission"] == ["read"], shown.text
    assert shown.json()["content"]["password"] == MASK
    assert [e["datasource_id"] for e in rd.get(fdi(stack), params={"name": ds["datasource_name"]}).json()["entities"]] \
        == [ds["datasource_id"]]
    for r in (rd.post(p + "/test-connect"), rd.get(p + "/tables", params={"position": "SOURCE"}),
              rd.put(p, json={"description": "x"}), rd.delete(p)):
        b = assert_fdi_err(r, 403, "FDI.3403")
        assert "role" in b["detail"], b
    assert_fdi_err(rd.post(fdi(stack), json={"datasource_name": uniq(), "datasource_type": "REDIS", "app_id": a["id"],
                                             "content": {"address": "10.0.0.1:6379"}}), 403, "FDI.3403")
    # access: test the stored configuration, nothing else
    assert user.client.post(p + "/test-connect").status_code == 200
    assert_fdi_err(user.client.put(p, json={"description": "x"}), 403, "FDI.3403")
    assert_fdi_err(user.client.delete(p), 403, "FDI.3403")
    # modify: update; delete: delete
    assert changer.client.put(p, json={"description": "changed"}).status_code == 200
    assert_fdi_err(changer.client.delete(p), 403, "FDI.3403")
    assert remover.client.delete(p).status_code == 204
    assert_fdi_err(cli.get(p), 404, "FDI.3080")


def test_stored_secret_travels_only_to_the_stored_target(stack, cli, redis_srv, private_srv):
    """test-connect with a body that points elsewhere and keeps "******" must not send the stored password
    to the caller's listener (seen: AUTH StoredRedisPassw0rd! on a listener) unless the caller could make
    that change anyway (modify)."""
    a = cli.post(stack.inst("/apps"), json={"name": uniq("travel")}).json()
    ds = create(stack, cli, a, "REDIS", {"address": f"127.0.0.1:{redis_srv['port']}", "password": STORED_REDIS_PW})
    p = fdi(stack, f"/{ds['datasource_id']}/test-connect")
    user = User(stack)
    _members(stack, cli, a, [(user, ["access"])])
    rec = private_srv["redis"]
    evil = f"{private_srv['ip']}:{rec.port}"
    body = {"datasource_name": "t", "datasource_type": "REDIS", "app_id": a["id"]}

    b = assert_fdi_err(user.client.post(p, json=dict(body, content={"address": evil, "password": MASK})), 403,
                       "FDI.3403")
    assert "modify" in b["detail"], b
    # the same with a type change, or a database change of the same server, is another target too
    assert_fdi_err(user.client.post(p, json=dict(body, content={"address": f"127.0.0.1:{redis_srv['port']}",
                                                                "password": MASK, "redis_database": "3"})),
                   403, "FDI.3403")
    time.sleep(0.5)
    assert STORED_REDIS_PW.encode() not in rec.received(), rec.received()
    # the stored target with the mask: allowed (access; the stored password is not this server's, so the test
    # runs and fails authentication); a new target with the caller's own password too
    assert_test_failed(user.client.post(p, json=dict(body, content={"address": f"127.0.0.1:{redis_srv['port']}",
                                                                    "password": MASK})), "authentication failed")
    r = user.client.post(p, json=dict(body, content={"address": evil, "password": "Own-Pw-4242"}))
    assert_test_failed(r, "", [STORED_REDIS_PW])
    wait_for(lambda: b"Own-Pw-4242" in rec.received(), 10, what="the recorder got the caller's own password")
    assert STORED_REDIS_PW.encode() not in rec.received()
    # the owner (modify) may send it: the recorder proves the listener really receives what is sent
    r = cli.post(p, json=dict(body, content={"address": evil, "password": MASK}))
    assert r.status_code == 400, r.text
    wait_for(lambda: STORED_REDIS_PW.encode() in rec.received(), 10, what="stored password sent by the owner")


# every secret-bearing field of sdk-catalog/fdi.md, and undeclared keys with secret-like names
SECRET_FIELDS = [
    ("MYSQL", "password"), ("OBS", "sk"), ("KAFKA", "ssl_password"), ("RABBITMQ", "trust_store_password"),
    ("ACTIVEMQ", "key_store_password"), ("ACTIVEMQ", "key_store_key_password"), ("ACTIVEMQ", "key_store"),
    ("SNMP", "snmp_community"), ("MRSHDFS", "config_file_content"),
    ("API", "api_auth_detail.password"), ("API", "api_auth_detail.app_secret"), ("API", "api_auth_detail.secret"),
    ("API", "api_auth_detail.client_secret"), ("API", "api_auth_detail.authorization"),
    ("KAFKA", "sasl_password"), ("REDIS", "token"), ("CUSTOMIZED", "connector_params.private_key"),
    ("API", "api_auth_detail.api_key"), ("MYSQL", "x_extra.nested.client_secret"), ("HL7", "Access_Token"),
]


DECLARED_SECRETS = {p for _, p in SECRET_FIELDS[:14]}


def _set_path(content, path, value):
    keys = path.split(".")
    node = content
    for k in keys[:-1]:
        node = node.setdefault(k, {})
    node[keys[-1]] = value


def _get_path(content, path):
    for k in path.split("."):
        content = content[k]
    return content


@pytest.mark.parametrize("dtype,path", SECRET_FIELDS, ids=[f"{t}:{p}" for t, p in SECRET_FIELDS])
def test_every_secret_field_sealed_masked_kept(stack, cli, app, dtype, path):
    secret = f"Sec-{uuid.uuid4().hex[:12]}"
    content = dict(VALID[dtype][0])
    if dtype == "API":
        content["api_auth_detail"] = {"auth_method": "hmac"}
    _set_path(content, path, secret)
    top = {"custom_plugin_id": "p1"} if dtype == "CUSTOMIZED" else {}
    ds = create(stack, cli, app, dtype, content, **top)
    assert _get_path(ds["content"], path) == MASK, ds["content"]
    shown = cli.get(fdi(stack, f"/{ds['datasource_id']}")).json()
    assert _get_path(shown["content"], path) == MASK
    listed = cli.get(fdi(stack), params={"name": ds["datasource_name"]}).json()["entities"][0]
    assert _get_path(listed["content"], path) == MASK
    pg_path = "{" + ",".join(path.split(".")) + "}"
    raw = stack.sql(f"SELECT content::text FROM datasources WHERE id = '{ds['datasource_id']}'")
    assert secret not in raw
    sealed = stack.sql(f"SELECT content #>> '{pg_path}' FROM datasources WHERE id = '{ds['datasource_id']}'")
    assert sealed.startswith("v1:"), sealed
    if path in DECLARED_SECRETS:
        # the schema refuses the declared ones in clear too (migrations 004 + 008)
        with pytest.raises(AssertionError):
            stack.sql(f"UPDATE datasources SET content = jsonb_set(content, '{pg_path}', '\"plain\"') "
                      f"WHERE id = '{ds['datasource_id']}'")
    # "******" sent back keeps the stored value
    u = cli.put(fdi(stack, f"/{ds['datasource_id']}"), json=dict(content=shown["content"], description="again", **top))
    assert u.status_code == 200, u.text
    assert _get_path(u.json()["content"], path) == MASK
    assert stack.sql(f"SELECT content #>> '{pg_path}' FROM datasources WHERE id = '{ds['datasource_id']}'") == sealed


# ---------------------------------------------------------------------------------------------------------
# network policy: defaults, platform endpoints, private ranges


@pytest.fixture(scope="module")
def default_stack(make_stack_module):
    """A stack with the worker's default network policy."""
    return make_stack_module(workers={"datasource": 1})


def test_default_policy_refuses_loopback_and_link_local(default_stack, mariadb, private_srv):
    c, a = _app_on(default_stack)
    for host in ("127.0.0.1", "127.3.2.1", "localhost", "::1", "::ffff:127.0.0.1", "0.0.0.0", "::",
                 "169.254.169.254", "fe80::1"):
        ds = create(default_stack, c, a, "SQLSERVER", {"mode": "default", "host": host, "port": str(mariadb["port"]),
                                                       "database_name": "d", "user_name": "u", "password": "p"})
        assert_test_failed(test_connect(default_stack, c, ds["datasource_id"]), "address denied by policy")
    # private ranges are where datasources live: allowed (a server in the test's own network namespace)
    ds = create(default_stack, c, a, "SQLSERVER", {"mode": "default", "host": private_srv["ip"],
                                                   "port": str(private_srv["plain"].port), "database_name": "d",
                                                   "user_name": "u", "password": "p"})
    r = test_connect(default_stack, c, ds["datasource_id"])
    assert r.status_code == 200 and "reachability only" in r.json()["detail"], r.text


def test_platform_database_refused_by_default(default_stack, pg):
    """Seen: a POSTGRESQL datasource for our own database with a wrong password answered result:true."""
    c, a = _app_on(default_stack)
    port = str(urllib.parse.urlsplit(pg).port)
    ds = create(default_stack, c, a, "POSTGRESQL", {"mode": "default", "host": "127.0.0.1", "port": port,
                                                    "database_name": "roma", "user_name": "roma", "password": "wrong"})
    assert_test_failed(test_connect(default_stack, c, ds["datasource_id"]), "address denied by policy")


def test_platform_endpoints_refused_with_an_explicit_cidr_list(stack, cli, app, pg):
    """This module's stack replaced the CIDR deny list (loopback allowed): the platform's own database,
    broker and API stay refused."""
    db_port = str(urllib.parse.urlsplit(pg).port)
    for host in ("127.0.0.1", "localhost", "127.0.0.2"):
        ds = create(stack, cli, app, "POSTGRESQL", {"mode": "default", "host": host, "port": db_port,
                                                    "database_name": "roma", "user_name": "roma", "password": "wrong"})
        assert_test_failed(test_connect(stack, cli, ds["datasource_id"]), "address denied by policy")
    for port in (stack.back.rsplit(":", 1)[1], stack.front.rsplit(":", 1)[1], str(stack.http_port)):
        ds = create(stack, cli, app, "SQLSERVER", {"mode": "default", "host": "127.0.0.1", "port": port,
                                                   "database_name": "d", "user_name": "u", "password": "p"})
        assert_test_failed(test_connect(stack, cli, ds["datasource_id"]), "address denied by policy")
    ds = create(stack, cli, app, "API", {"url": f"http://localhost:{stack.http_port}/healthz", "api_method": "GET"})
    assert_test_failed(test_connect(stack, cli, ds["datasource_id"]), "address denied by policy")


def test_no_local_connection_skips_the_postgresql_password(pg):
    """scripts/pg.sh: TCP is scram-sha-256 for every role (a wrong or missing password fails; the superuser
    cannot log in over TCP); the socket directory is private (0700)."""
    import subprocess
    u = urllib.parse.urlsplit(pg)
    env = dict(os.environ, PGPASSWORD="wrong", PGCONNECT_TIMEOUT="5")
    for user in ("roma", "postgres"):
        r = subprocess.run(["psql", "-X", "-w", "-h", "127.0.0.1", "-p", str(u.port), "-U", user, "-d", "postgres",
                            "-c", "SELECT 1"], env=env, capture_output=True, text=True, timeout=30)
        assert r.returncode != 0 and "password authentication failed" in r.stderr, (user, r.stderr)
    assert subprocess.run(["psql", "-X", "-w", pg, "-c", "SELECT 1"], capture_output=True, timeout=30).returncode == 0
    assert os.stat(os.path.join(VAR, "pg")).st_mode & 0o777 == 0o700


# ---------------------------------------------------------------------------------------------------------
# logs: no secret ever written


def test_no_secret_in_any_log(stack):
    """Runs last in this module (pytest keeps file order): every password used above is absent from every
    log file of the test run (API, broker, workers of all stacks, servers)."""
    secrets = [MY_PASS, PG_PASS, REDIS_PASS, FTP_PASS, "api-Pass-7731", "client-Secret-9042", "Wrong-Pw-x1",
               "Bad-Pg-Pw9", "Bad-Redis-1", "Bad-Http-3", "Bad-Ftp-7", "cs-Secret-0101", "rb-Secret-0505",
               "sk-Secret-0909", "sk-New-1111", "Nope-Nope-1", "Bad-Cs-5", "tok-5f0e2c", STORED_REDIS_PW,
               "Own-Pw-4242"]
    logs = glob.glob(os.path.join(VAR, "logs", "*.log"))
    assert logs
    for path in logs:
        if os.path.basename(path).startswith("ftp-server"):
            continue
        text = open(path, "rb").read().decode(errors="replace")
        for s in secrets:
            assert s not in text, f"{s} found in {path}"
