"""roma_client.py: a small HTTP client for the black-box tests.

Authenticates with an X-Auth-Token or signs requests with SDK-HMAC-SHA256 exactly as the Huawei Cloud
SDKs do (shared/spec/auth-signing.md), written independently from the server's C implementation so the
two check each other.
"""
import datetime
import hashlib
import hmac
import json as jsonlib
import urllib.parse

import requests

UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.~"


def _enc(s):
    return urllib.parse.quote(s, safe="-_.~")


def canonical_request(method, path, query_pairs, headers, signed, body_hash):
    segs = [_enc(urllib.parse.unquote(s)) for s in path.split("/")]
    uri = "/".join(segs)
    if not uri.endswith("/"):
        uri += "/"
    pairs = sorted((_enc(k), _enc(v)) for k, v in query_pairs)
    query = "&".join(f"{k}={v}" for k, v in pairs)
    lower = {k.lower(): v for k, v in headers.items()}
    ch = "".join(f"{h}:{lower[h].strip()}\n" for h in signed)
    return "\n".join([method.upper(), uri, query, ch, ";".join(signed), body_hash])


def sign(method, url, headers, body, ak, sk, date=None, only=None):
    """Returns the headers (a new dict) of a signed request. Like the SDKs, every header is signed and the
    body is hashed unless X-Sdk-Content-Sha256 is UNSIGNED-PAYLOAD (the SDKs set it for a non-JSON
    Content-Type: multipart uploads). only: sign just these (lower-case) header names, as a hostile or
    sloppy client would (the server must refuse a set without host and x-sdk-date)."""
    u = urllib.parse.urlsplit(url)
    h = dict(headers)
    h.setdefault("Content-Type", "application/json")
    h["Host"] = u.netloc
    h["X-Sdk-Date"] = date or datetime.datetime.utcnow().strftime("%Y%m%dT%H%M%SZ")
    signed = sorted(only if only is not None else (k.lower() for k in h if "_" not in k))
    body_hash = hashlib.sha256(body or b"").hexdigest()
    if h.get("X-Sdk-Content-Sha256") == "UNSIGNED-PAYLOAD":
        body_hash = "UNSIGNED-PAYLOAD"
    pairs = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    creq = canonical_request(method, u.path, pairs, h, signed, body_hash)
    sts = "SDK-HMAC-SHA256\n%s\n%s" % (h["X-Sdk-Date"], hashlib.sha256(creq.encode()).hexdigest())
    sig = hmac.new(sk.encode(), sts.encode(), hashlib.sha256).hexdigest()
    h["Authorization"] = "SDK-HMAC-SHA256 Access=%s, SignedHeaders=%s, Signature=%s" % (ak, ";".join(signed), sig)
    return h


class RomaClient:
    """client = RomaClient(base, token=...) or RomaClient(base, ak=..., sk=..., project_id=...)."""

    def __init__(self, base, token=None, ak=None, sk=None, project_id=None, timeout=30):
        self.base = base.rstrip("/")
        self.token, self.ak, self.sk, self.project_id = token, ak, sk, project_id
        self.s = requests.Session()
        self.timeout = timeout

    def request(self, method, path, json=None, data=None, headers=None, params=None, files=None, raw=False):
        url = self.base + path
        if params:
            url += ("&" if "?" in url else "?") + urllib.parse.urlencode(params, quote_via=urllib.parse.quote)
        h = dict(headers or {})
        body = data
        if json is not None:
            body = jsonlib.dumps(json).encode()
            h.setdefault("Content-Type", "application/json;charset=UTF-8")
        if files is not None:
            req = requests.Request(method, url, files=files, headers=h).prepare()
            body = req.body
            h["Content-Type"] = req.headers["Content-Type"]
            if self.ak:
                h["X-Sdk-Content-Sha256"] = "UNSIGNED-PAYLOAD"
        if isinstance(body, str):
            body = body.encode()
        if self.ak:
            if self.project_id:
                h["X-Project-Id"] = self.project_id
            h = sign(method, url, h, body, self.ak, self.sk)
        elif self.token:
            h.setdefault("X-Auth-Token", self.token)
        return self.s.request(method, url, data=body, headers=h, timeout=self.timeout)

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, **kw):
        return self.request("POST", path, **kw)

    def put(self, path, **kw):
        return self.request("PUT", path, **kw)

    def delete(self, path, **kw):
        return self.request("DELETE", path, **kw)
