"""test_gate.py: the request gate of roma-api (issue 8, findings 1, 2, 9, 10, 11), black-box.

- JSON bodies: nesting over ROMA_JSON_MAX_DEPTH (the 1000-deep token request, an MQS produce with
  `content` 500 deep), invalid UTF-8, NUL (raw and \\u0000) and duplicate keys get the route family's
  documented 400, and the API is still alive afterwards; the deepest allowed body still works.
- Invalid UTF-8 and NUL in decoded paths and queries get the family's 400, never a 500/503 or a 200 for
  a truncated id; echoed bytes stay valid UTF-8 in error bodies and log lines.
- Lenient HTTP (raw sockets): duplicate Content-Length, Content-Length with Transfer-Encoding, HTTP/1.1
  without Host, an absolute-URI request, Expect: 100-continue with an oversized body: 400/413 with our
  JSON error body, at once.
- Idle connections: with 1,000 idle and 100 slow-header connections held open, /healthz and show-app
  answer with p99 < 100 ms (the figure is printed); a connection that sends nothing is cut off after
  ROMA_HTTP_REQUEST_TIMEOUT_MS.
"""
import json
import socket
import statistics
import time
import urllib.parse

import pytest
import requests

from mqs_helpers import DataClient, app, cli, create_topic, decode, uniq  # noqa: F401


def roma_err(resp, status, code="ROMA.13000"):
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert body["error_code"] == code, body
    assert body["request_id"] == resp.headers["X-Request-Id"]
    return body


def alive(stack):
    assert requests.get(stack.base + "/healthz", timeout=5).status_code == 200
    assert stack.procs["api"].alive()


def nested(levels):
    return "[" * levels + "]" * levels


# ---- finding 1: JSON bodies -------------------------------------------------------------------------

def test_deep_token_request_is_400_not_a_crash(stack):
    body = '{"auth":' + "[" * 1000 + "]" * 1000 + "}"
    r = requests.post(stack.base + "/v3/auth/tokens", data=body, headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.text
    e = r.json()["error"]  # the IAM shape of this route
    assert e["code"] == 400 and "nested too deeply" in e["message"]
    alive(stack)


def test_depth_limit_is_exact_on_an_app_create(stack):
    c = stack.client()
    # the body object is level 1: remark holding 63 arrays is depth 64 (allowed, then refused as a
    # non-string remark), 64 arrays is depth 65 (refused by the gate)
    ok = '{"name": "%s", "remark": %s}' % (uniq("deep"), nested(63))
    r = c.post(stack.inst("/apps"), data=ok, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and "nested" not in r.text, r.text
    deep = '{"name": "%s", "remark": %s}' % (uniq("deep"), nested(64))
    body = roma_err(c.post(stack.inst("/apps"), data=deep, headers={"Content-Type": "application/json"}), 400)
    assert "nested too deeply" in body["error_msg"]
    alive(stack)


def test_mqs_produce_500_deep_is_400_and_64_deep_round_trips(stack, cli, app):  # noqa: F811
    topic = create_topic(stack, cli, app)
    dc = DataClient(stack, app)
    raw = ('{"messages": [{"content": %s}]}' % nested(500)).encode()
    r = dc.request("POST", f"/v1/topic/{topic}/messages", raw=raw)
    assert r.status_code == 400, r.text
    assert r.json()["error_code"] == "MQS.00400002" and "nested too deeply" in r.json()["error_msg"]
    alive(stack)
    # the deepest content the limit allows (body object, messages array, message object = 3 levels)
    content = json.loads(nested(61))
    r = dc.produce(topic, [{"content": content, "id": "1"}])
    assert r.status_code == 200, r.text
    got = dc.consume(topic, uniq("g"), max_messages=10, time_wait=1)
    assert got.status_code == 200, got.text
    assert got.json() and decode(got.json()[0]) == content


@pytest.mark.parametrize("raw,what", [
    (b'{"name": "a\xffb"}', "not valid UTF-8"),
    (b'{"name": "a\xc0\xafb"}', "not valid UTF-8"),           # overlong '/'
    (b'{"name": "a\xed\xa0\x80b"}', "not valid UTF-8"),       # surrogate
    (b'{"name": "a\xf4\x90\x80\x80"}', "not valid UTF-8"),    # > U+10FFFF
    (b'{"name": "\\ud800"}', "lone surrogate"),
    (b'{"name": "x\\u0000y"}', "NUL"),
    (b'{"name": "x\x00y"}', "NUL"),
    (b'{"name": "a", "name": "b"}', "duplicate object key"),
    (b'{"name": "a", "\\u006eame": "b"}', "duplicate object key"),
    (b'{"name": "a"} {"name": "b"}', "data after the value"),
])
def test_bad_json_bodies_are_the_family_400(stack, raw, what):
    c = stack.client()
    body = roma_err(c.post(stack.inst("/apps"), data=raw, headers={"Content-Type": "application/json"}), 400)
    assert what in body["error_msg"], body


def test_nul_in_datasource_fields_is_refused(stack):
    c = stack.client()
    ds = f"/v2/{stack.project_id}/fdi/instances/{stack.instance_id}/datasources"
    for field in ('"datasource_name": "x\\u0000y"', '"datasource_name": "ok", "content": {"host": "127.0.0.1\\u0000.evil"}'):
        r = c.post(ds, data='{%s, "datasource_type": "MYSQL"}' % field, headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["error_code"] == "FDI.3002", r.text
        assert "NUL" in r.json()["error_msg"]


def test_login_with_invalid_utf8_user_is_400(stack):
    raw = b'{"auth": {"identity": {"methods": ["password"], "password": {"user": {"name": "\xff", "password": "x"}}}}}'
    r = requests.post(stack.base + "/v3/auth/tokens", data=raw, headers={"Content-Type": "application/json"})
    assert r.status_code == 400 and r.json()["error"]["code"] == 400, r.text


# ---- findings 9 and 10: paths and queries ---------------------------------------------------------

def test_invalid_utf8_and_nul_in_paths_and_queries(stack, cli, app):  # noqa: F811
    c = stack.client()
    p, i = stack.project_id, stack.instance_id
    cases = [
        (f"/v2/{p}/instances/%ff/apps", "ROMA.13000"),
        (f"/v2/{p}/instances/{i}%00x/apps", "ROMA.13000"),
        (f"/v2/{p}/instances/{i}/apps?name=%ff", "ROMA.13000"),
        (f"/v2/{p}/instances/{i}/apps?name=a%00b", "ROMA.13000"),
        (f"/v2/{p}/mqs/instances/{i}/topics?name=%ff", "MQS.00400002"),
        (f"/v2/{p}/fdi/instances/{i}/datasources?name=%c0%af", "FDI.3002"),
    ]
    for path, code in cases:
        r = c.get(path)
        assert r.status_code == 400, (path, r.status_code, r.text)
        assert r.json()["error_code"] == code, (path, r.text)
    topic = create_topic(stack, cli, app)
    r = c.get(f"/v2/{p}/mqs/instances/{i}/messages?topic={topic}&key=%ff")
    assert r.status_code == 400 and r.json()["error_code"] == "MQS.00400002", r.text
    alive(stack)


def test_error_bodies_and_logs_stay_utf8(stack):
    # a civetweb-level error quoting raw bytes, and a bad header value
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as s:
        s.sendall(b"GET /x\xff\xfe HTTP/1.1\r\nHost: a\r\n\r\n")
        data = recv_all(s)
    data.decode("utf-8")  # the whole reply is valid UTF-8
    r = requests.get(stack.base + "/healthz", headers={"X-Thing": "\xff".encode("latin-1")})
    assert r.status_code == 400 and r.json()["error_code"] == "ROMA.13000"
    log = open(stack.procs["api"].log_path, "rb").read()
    for line in log.splitlines():
        json.loads(line.decode("utf-8"))  # every log line is valid UTF-8 JSON


# ---- finding 11: lenient HTTP (raw sockets) ---------------------------------------------------------

def recv_all(s, timeout=5):
    s.settimeout(timeout)
    out = b""
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            d = s.recv(65536)
        except socket.timeout:
            break
        if not d:
            break
        out += d
    return out


def raw_exchange(stack, data):
    t0 = time.time()
    with socket.create_connection(("127.0.0.1", stack.http_port), timeout=5) as s:
        s.sendall(data)
        out = recv_all(s)
    return out, time.time() - t0


def parse_reply(out):
    head, _, body = out.partition(b"\r\n\r\n")
    status = int(head.split(b" ")[1])
    headers = {k.strip().lower(): v.strip() for k, v in (l.split(b":", 1) for l in head.split(b"\r\n")[1:])}
    n = int(headers[b"content-length"])
    return status, headers, json.loads(body[:n]), body[n:]


@pytest.mark.parametrize("name,data,status", [
    ("duplicate Content-Length", b"POST /v3/auth/tokens HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n"
                                 b"Content-Length: 30\r\n\r\n{}GET /healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("Content-Length and Transfer-Encoding", b"POST /v3/auth/tokens HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n"
                                             b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400),
    ("HTTP/1.1 without Host", b"GET /healthz HTTP/1.1\r\n\r\n", 400),
    ("two Host headers", b"GET /healthz HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400),
    ("absolute URI", b"GET http://127.0.0.1/healthz HTTP/1.1\r\nHost: a\r\n\r\n", 400),
    ("absolute URI elsewhere", b"GET http://evil.example/x HTTP/1.1\r\nHost: evil.example\r\n\r\n", 400),
    ("Expect 100-continue, oversized", b"POST /v3/auth/tokens HTTP/1.1\r\nHost: a\r\nContent-Length: 999999999\r\n"
                                       b"Expect: 100-continue\r\n\r\n", 413),
    ("unknown Expect", b"POST /v3/auth/tokens HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\nExpect: magic\r\n\r\n{}", 417),
])
def test_lenient_http_is_refused(stack, name, data, status):
    out, took = raw_exchange(stack, data)
    assert out, f"{name}: no reply"
    st, headers, body, rest = parse_reply(out)
    assert st == status, (name, out)
    assert "error_code" in body or "error" in body, (name, body)
    assert headers.get(b"connection", b"").lower() == b"close", (name, headers)
    assert rest == b"", f"{name}: the connection went on to serve {rest!r}"
    assert took < 3, f"{name}: the reply took {took:.1f}s (the connection was held)"
    alive(stack)


def test_http_10_without_host_is_still_served(stack):
    out, _ = raw_exchange(stack, b"GET /healthz HTTP/1.0\r\n\r\n")
    assert parse_reply(out)[0] == 200


# ---- finding 2: idle and slow connections -------------------------------------------------------------

def test_idle_connection_is_cut_after_the_request_timeout(make_stack):
    s = make_stack(workers={}, extra_env={"ROMA_HTTP_REQUEST_TIMEOUT_MS": "1000"})
    with socket.create_connection(("127.0.0.1", s.http_port), timeout=10) as c:
        t0 = time.time()
        c.settimeout(10)
        assert c.recv(100) == b""
        assert time.time() - t0 < 5


def test_1000_idle_and_100_slow_header_connections_do_not_stall(make_stack):
    s = make_stack(workers={}, extra_env={"ROMA_HTTP_REQUEST_TIMEOUT_MS": "120000"})
    app_id = s.client().post(s.inst("/apps"), json={"name": uniq("idle")}).json()["id"]
    held = []
    try:
        for _ in range(1000):
            held.append(socket.create_connection(("127.0.0.1", s.http_port), timeout=10))
        slow = []
        for _ in range(100):
            c = socket.create_connection(("127.0.0.1", s.http_port), timeout=10)
            c.sendall(b"GET /healthz HTTP/1.1\r\nHost: a\r\n")
            slow.append(c)
        held += slow
        time.sleep(1)
        sess = requests.Session()
        hdr = {"X-Auth-Token": s.token}
        lat = {"healthz": [], "show-app": []}
        for i in range(300):
            for c in slow[i % 10::10][:1]:
                c.sendall(b"X")  # keep trickling header bytes
            t0 = time.perf_counter()
            assert sess.get(s.base + "/healthz", timeout=5).status_code == 200
            lat["healthz"].append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            assert sess.get(s.base + s.inst(f"/apps/{app_id}"), headers=hdr, timeout=5).status_code == 200
            lat["show-app"].append(time.perf_counter() - t0)
        # fresh connections too (a new client must get a thread, not only the warm keep-alive one)
        for _ in range(50):
            t0 = time.perf_counter()
            assert requests.get(s.base + "/healthz", timeout=5).status_code == 200
            lat["healthz"].append(time.perf_counter() - t0)
        # the held connections are still open (served by threads, not dropped)
        still = 0
        for c in held[:50]:
            c.setblocking(False)
            try:
                still += c.recv(1) != b""
            except BlockingIOError:
                still += 1
        assert still == 50
        figs = {k: statistics.quantiles(v, n=100)[98] * 1000 for k, v in lat.items()}
        rss = [l for l in open(f"/proc/{s.procs['api'].p.pid}/status") if l.startswith("VmRSS")][0].split()[1]
        print(f"\nidle-connections figure: 1000 idle + 100 slow-header held; p99 healthz {figs['healthz']:.1f} ms, "
              f"show-app {figs['show-app']:.1f} ms; roma-api RSS {int(rss) // 1024} MB")
        assert figs["healthz"] < 100 and figs["show-app"] < 100, figs
    finally:
        for c in held:
            c.close()
