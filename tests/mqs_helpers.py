"""mqs_helpers.py: shared helpers of test_topics.py and test_mqs_data.py (MQS control and data plane).

- apps are created through the real apps API and their secret read back through GET .../secret;
- DataClient talks to the data plane with an app's key/secret, signed SDK-HMAC-SHA256 (tests/roma_client.sign
  with the app key as AK and the app secret as SK) or with HTTP Basic.
"""
import base64
import json
import urllib.parse
import uuid

import pytest
import requests

from roma_client import sign

MQS_ERR_KEYS = {"error_code", "error_msg", "request_id"}


@pytest.fixture(scope="module")
def cli(stack):
    """The bootstrap admin's token client (import this fixture into a test module to use it)."""
    return stack.client()


@pytest.fixture(scope="module")
def app(stack, cli):
    """An app created through the apps API, with its secret."""
    return make_app(stack, cli)


def uniq(prefix="t"):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def assert_mqs_err(resp, status, code=None):
    """The E-MQS error body: error_code, error_msg and request_id, all strings."""
    assert resp.status_code == status, (resp.status_code, resp.text)
    body = resp.json()
    assert set(body) == MQS_ERR_KEYS, body
    assert all(isinstance(v, str) and v for v in body.values()), body
    assert body["request_id"] == resp.headers["X-Request-Id"]
    if code is not None:
        assert body["error_code"] == code, body
    return body


def mqs_path(stack, suffix=""):
    return f"/v2/{stack.project_id}/mqs/instances/{stack.instance_id}{suffix}"


class App:
    def __init__(self, id, name, key, secret):
        self.id, self.name, self.key, self.secret = id, name, key, secret


def make_app(stack, cli=None, name=None):
    cli = cli or stack.client()
    r = cli.post(stack.inst("/apps"), json={"name": name or uniq("app")})
    assert r.status_code == 201, r.text
    app = r.json()
    s = cli.get(stack.inst(f"/apps/{app['id']}/secret"))
    assert s.status_code == 200, s.text
    return App(app["id"], app["name"], app["key"], s.json()["secret"])


def create_topic(stack, cli, app, name=None, **kw):
    body = {"name": name or uniq("topic"), "app_id": app.id, "access_policy": kw.pop("access_policy", "all")}
    body.update(kw)
    r = cli.post(mqs_path(stack, "/topics"), json=body)
    assert r.status_code == 200, r.text
    assert r.json() == {"name": body["name"]}
    return body["name"]


class DataClient:
    """The MQS data plane as an app sees it. mode: "hmac" (SDK-HMAC-SHA256 with key/secret) or "basic"."""

    def __init__(self, stack, app, mode="hmac", timeout=60):
        self.base = stack.base
        self.app = app
        self.mode = mode
        self.s = requests.Session()
        self.timeout = timeout

    def request(self, method, path, body=None, params=None, headers=None, raw=None):
        url = self.base + path
        if params:
            url += "?" + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else b"")
        h = {"Content-Type": "application/json"}
        h.update(headers or {})
        if self.mode == "hmac":
            h = sign(method, url, h, data, self.app.key, self.app.secret)
        elif self.mode == "basic":
            cred = base64.b64encode(f"{self.app.key}:{self.app.secret}".encode()).decode()
            h["Authorization"] = "Basic " + cred
        return self.s.request(method, url, data=data, headers=h, timeout=self.timeout)

    def produce(self, topic, messages, **kw):
        return self.request("POST", f"/v1/topic/{topic}/messages", {"messages": messages}, **kw)

    def consume(self, topic, group, **params):
        return self.request("GET", f"/v1/topic/{topic}/group/{group}/messages", params=params)

    def ack(self, topic, group, items):
        return self.request("POST", f"/v1/topic/{topic}/group/{group}/messages", {"messages": items})

    def ack_all(self, topic, group, got, status="success"):
        r = self.ack(topic, group, [{"handler": m["handler"], "status": status} for m in got])
        assert r.status_code == 200, r.text
        return r.json()


def decode(msg):
    """The JSON value of a consumed message (content is base64 of its JSON text)."""
    return json.loads(base64.b64decode(msg["message"]["content"]))
