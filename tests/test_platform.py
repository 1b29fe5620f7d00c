"""test_platform.py: the platform foundation seen from outside: version discovery, health, request ids,
authentication (token, AK/SK, IAM token issue), project and instance checks, error bodies for bad
routes, methods and bodies, and clean exit on SIGTERM."""
import datetime
import json
import socket

import pytest
import requests

from conftest import Stack
from roma_client import RomaClient, sign


def err(resp, status, code=None):
    """Asserts an E-ROMA error body with the given status (and code)."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) >= {"error_code", "error_msg", "error_details", "request_id"}, body
    assert body["request_id"] == resp.headers["X-Request-Id"]
    if code:
        assert body["error_code"] == code, body
    return body


def test_versions_need_no_auth(stack):
    r = requests.get(stack.base + "/")
    assert r.status_code == 200
    vs = {v["id"]: v for v in r.json()["versions"]}
    assert vs["v2"]["status"] == "CURRENT" and vs["v1"]["status"] == "SUPPORTED"
    assert vs["v2"]["links"]["rel"] == "self" and vs["v2"]["links"]["href"].endswith("/v2")
    r = requests.get(stack.base + "/v2")
    assert r.status_code == 200 and r.json()["id"] == "v2" and r.json()["updated"] == "2020-06-28T12:20:21Z"
    err(requests.get(stack.base + "/v9"), 404, "ROMA.1007")


def test_health_and_readiness(stack):
    assert requests.get(stack.base + "/healthz").json() == {"status": "ok"}
    r = requests.get(stack.base + "/readyz")
    assert r.status_code == 200 and r.json()["database"] == "ok"


def test_request_id_taken_or_generated(stack):
    r = requests.get(stack.base + "/healthz", headers={"X-Request-Id": "my-req.42"})
    assert r.headers["X-Request-Id"] == "my-req.42"
    r = requests.get(stack.base + "/healthz", headers={"X-Request-Id": "bad id with spaces"})
    assert len(r.headers["X-Request-Id"]) == 32
    assert "my-req.42" in stack.procs["api"].log_text()


def test_missing_and_bad_credentials_are_401(stack):
    path = stack.inst("/apps")
    body = err(requests.get(stack.base + path), 401, "ROMA.1000")
    assert "X-Auth-Token" in body["error_msg"]
    err(requests.get(stack.base + path, headers={"X-Auth-Token": "roma-nope"}), 401, "ROMA.1002")
    err(requests.get(stack.base + path, headers={"X-Auth-Token": "x" * 99000}), 401, "ROMA.1002")
    # headers over the request size limit: civetweb refuses them, still with our JSON error body
    err(requests.get(stack.base + path, headers={"X-Auth-Token": "x" * 200000}), 400, "ROMA.13000")


def test_token_works(stack):
    r = stack.client().get(stack.inst("/apps"))
    assert r.status_code == 200, r.text


def test_signed_requests_work(stack):
    c = stack.ak_client()
    r = c.get(stack.inst("/apps"), params={"offset": 0, "limit": 10, "name": "a b/c+d=é"})
    assert r.status_code == 200, r.text


def test_wrong_signature_is_401(stack):
    c = RomaClient(stack.base, ak=stack.ak, sk=stack.sk[:-1] + ("A" if stack.sk[-1] != "A" else "B"),
                   project_id=stack.project_id)
    err(c.get(stack.inst("/apps")), 401, "ROMA.1002")
    c = RomaClient(stack.base, ak="AKUNKNOWN0000000000", sk=stack.sk, project_id=stack.project_id)
    err(c.get(stack.inst("/apps")), 401, "ROMA.1002")


def test_tampered_signed_request_is_401(stack):
    url = stack.base + stack.inst("/apps")
    body = json.dumps({"name": "signed-app"}).encode()
    h = sign("POST", url, {"X-Project-Id": stack.project_id}, body, stack.ak, stack.sk)
    r = requests.post(url, data=json.dumps({"name": "other-app"}).encode(), headers=h)
    err(r, 401, "ROMA.1002")


def test_stale_signature_date_is_401(stack):
    url = stack.base + stack.inst("/apps")
    old = (datetime.datetime.utcnow() - datetime.timedelta(minutes=16)).strftime("%Y%m%dT%H%M%SZ")
    h = sign("GET", url, {"X-Project-Id": stack.project_id}, b"", stack.ak, stack.sk, date=old)
    body = err(requests.get(url, headers=h), 401, "ROMA.1002")
    assert "X-Sdk-Date" in body["error_msg"]
    fresh = (datetime.datetime.utcnow() - datetime.timedelta(minutes=14)).strftime("%Y%m%dT%H%M%SZ")
    h = sign("GET", url, {"X-Project-Id": stack.project_id}, b"", stack.ak, stack.sk, date=fresh)
    assert requests.get(url, headers=h).status_code == 200


def test_malformed_authorization_is_401(stack):
    url = stack.base + stack.inst("/apps")
    for bad in ["SDK-HMAC-SHA256", "SDK-HMAC-SHA256 Access=", "SDK-HMAC-SHA256 Access=A, SignedHeaders=, Signature=zz",
                "SDK-HMAC-SHA256 " + "A" * 10000]:
        err(requests.get(url, headers={"Authorization": bad, "X-Sdk-Date": "20240102T030405Z"}), 401)


def test_other_project_is_403(stack):
    out = stack.admin("bootstrap", "--project-name", "other-project", "--instance-name", "default",
                      "--user-name", "intruder", "--password", "intruder-pass-1")
    kv = dict(l.split("=", 1) for l in out.splitlines() if "=" in l)
    other = RomaClient(stack.base, token=kv["ROMA_TOKEN"])
    err(other.get(stack.inst("/apps")), 403, "ROMA.1006")
    other_ak = RomaClient(stack.base, ak=kv["ROMA_AK"], sk=kv["ROMA_SK"])
    err(other_ak.get(stack.inst("/apps")), 403, "ROMA.1006")
    # the signer's X-Project-Id must match the AK's own project
    liar = RomaClient(stack.base, ak=kv["ROMA_AK"], sk=kv["ROMA_SK"], project_id=stack.project_id)
    err(liar.get(stack.inst("/apps")), 401, "ROMA.1002")
    # their own project works
    r = other.get(f"/v2/{kv['ROMA_PROJECT_ID']}/instances/{kv['ROMA_INSTANCE_ID']}/apps")
    assert r.status_code == 200


def test_unknown_instance_is_404(stack):
    r = stack.client().get(f"/v2/{stack.project_id}/instances/00000000-0000-4000-8000-000000000000/apps")
    body = err(r, 404, "ROMA.00110002")
    assert "instance" in body["error_msg"]


def test_unknown_route_and_wrong_method(stack):
    c = stack.client()
    err(c.get(f"/v2/{stack.project_id}/nothing-here"), 404, "ROMA.1007")
    err(requests.get(stack.base + "/no/such/path"), 404, "ROMA.1007")
    err(c.request("PATCH", stack.inst("/apps")), 405, "ROMA.1007")


def test_body_over_limit_is_413(stack):
    c = stack.client()
    r = c.post(stack.inst("/apps"), data=b"{" + b" " * (4 * 1024 * 1024 + 10) + b"}",
               headers={"Content-Type": "application/json"})
    err(r, 413)


def test_malformed_http_never_kills_the_server(stack):
    for raw in [b"GARBAGE\r\n\r\n", b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: -5\r\n\r\n",
                b"POST /v3/auth/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\n{\"a\""]:
        with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as s:
            s.sendall(raw)
            try:
                s.recv(4096)
            except socket.timeout:
                pass
    assert requests.get(stack.base + "/healthz").status_code == 200


def test_iam_token_issue(stack):
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": "admin", "password": "admin-pass-1", "domain": {"name": "x"}}}},
        "scope": {"project": {"id": stack.project_id}}}}
    r = requests.post(stack.base + "/v3/auth/tokens", json=body)
    assert r.status_code == 201, r.text
    tok = r.headers["X-Subject-Token"]
    assert r.json()["token"]["project"]["id"] == stack.project_id
    assert tok not in stack.procs["api"].log_text()
    assert RomaClient(stack.base, token=tok).get(stack.inst("/apps")).status_code == 200
    # the database holds only the hash of the token
    assert stack.sql(f"SELECT count(*) FROM tokens WHERE token_hash = '{tok}'") == "0"
    body["auth"]["identity"]["password"]["user"]["password"] = "wrong"
    r = requests.post(stack.base + "/v3/auth/tokens", json=body)
    assert r.status_code == 401 and r.json()["error"]["code"] == 401
    assert requests.post(stack.base + "/v3/auth/tokens", data=b"not json").status_code == 400


def test_secret_key_is_sealed_at_rest(stack):
    assert stack.sql(f"SELECT count(*) FROM access_keys WHERE sk_sealed = '{stack.sk}'") == "0"
    assert stack.sql(f"SELECT count(*) FROM access_keys WHERE sk_sealed LIKE 'v1:%'") != "0"


def test_api_exits_cleanly_on_sigterm(make_stack):
    s = make_stack(workers={})
    assert s.client().get(s.inst("/apps")).status_code == 200
    api = s.procs.pop("api")
    assert api.stop() == 0
    assert '"event":"api.stopped"' in api.log_text()


def test_concurrent_migrations_are_safe(pg):
    """Two API replicas starting at the same moment on an empty database: both come up, each migration once."""
    import os
    import subprocess
    from conftest import BIN, ROOT, SECRET_KEY, Proc, free_port, wait_for
    db = "roma_concurrent_migrate"
    subprocess.run(["psql", "-X", "-q", pg.rsplit("/", 1)[0] + "/postgres", "-c", f"CREATE DATABASE {db} OWNER roma"],
                   check=True, capture_output=True)
    url = pg.rsplit("/", 1)[0] + "/" + db
    procs = []
    for i in range(2):
        env = dict(os.environ, ROMA_DATABASE_URL=url, ROMA_SECRET_KEY=SECRET_KEY, ROMA_HTTP_PORT=str(free_port()),
                   ROMA_MIGRATIONS_DIR=os.path.join(ROOT, "migrations"), ROMA_BROKER_FRONTEND=f"tcp://127.0.0.1:{free_port()}")
        procs.append((Proc(f"migrate-{i}", [os.path.join(BIN, "roma-api")], env), env["ROMA_HTTP_PORT"]))
    try:
        for p, port in procs:
            wait_for(lambda: requests.get(f"http://127.0.0.1:{port}/readyz", timeout=1).status_code == 200, 30,
                     what="replica ready")
        out = subprocess.run(["psql", "-X", "-A", "-t", url, "-c",
                              "SELECT count(*), count(DISTINCT version) FROM schema_migrations"],
                             capture_output=True, text=True, check=True).stdout.strip()
        n, distinct = out.split("|")
        assert n == distinct and int(n) >= 1
    finally:
        for p, _ in procs:
            p.stop()


def test_roma_curl_signs_like_the_sdk(stack):
    """The README's AK/SK walk-through: scripts/roma-curl creates, shows and deletes an app."""
    import os
    import subprocess
    from conftest import ROOT
    env = dict(os.environ, ROMA_URL=stack.base, ROMA_AK=stack.ak, ROMA_SK=stack.sk, ROMA_PROJECT_ID=stack.project_id)
    tool = os.path.join(ROOT, "scripts", "roma-curl")

    def run(*args):
        r = subprocess.run([tool, *args], env=env, capture_output=True, text=True, timeout=30)
        status, _, body = r.stdout.partition("\n")
        return r.returncode, status, body

    rc, status, body = run("POST", stack.inst("/apps"), '{"name": "roma_curl_app"}')
    assert (rc, status) == (0, "HTTP 201"), body
    app_id = json.loads(body)["id"]
    rc, status, body = run("GET", stack.inst(f"/apps/{app_id}"))
    assert (rc, status) == (0, "HTTP 200") and json.loads(body)["name"] == "roma_curl_app"
    rc, status, _ = run("DELETE", stack.inst(f"/apps/{app_id}"))
    assert (rc, status) == (0, "HTTP 200")
    env["ROMA_SK"] = "wrong" + stack.sk[5:]
    rc, status, body = run("GET", stack.inst("/apps"))
    assert (rc, status) == (1, "HTTP 401") and json.loads(body)["error_code"] == "ROMA.1002"
