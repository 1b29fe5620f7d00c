"""basic_auth_http.py: a tiny HTTP server the datasource tests point API datasources at.

Routes (any method):
  /basic      200 with HTTP basic auth USER:PASSWORD, else 401 (WWW-Authenticate: Basic)
  /open       200 without authentication
  /forbidden  403
  /redirect   302 to /open (a 3xx counts as reachable)
  /missing    404
  /token      POST grant_type=client_credentials&client_id=CLIENT_ID&client_secret=CLIENT_SECRET
              -> {"access_token": TOKEN, "token_type": "bearer"}; other credentials -> 401
  /bearer     200 with "Authorization: Bearer TOKEN", else 401
Every request is appended to `seen` as (method, path, headers) so tests can check what was sent.

Run alone: python3 basic_auth_http.py PORT   (prints "ready" when listening)
"""
import base64
import json
import sys
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USER, PASSWORD = "apiuser", "api-Pass-7731"
CLIENT_ID, CLIENT_SECRET, TOKEN = "client-1", "client-Secret-9042", "tok-5f0e2c"


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    seen = []

    def log_message(self, fmt, *args):  # keep pytest output clean
        pass

    def _reply(self, status, body=b"", headers=None):
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body and self.command != "HEAD":
            self.wfile.write(body)

    def _handle(self):
        length = int(self.headers.get("Content-Length") or 0)
        data = self.rfile.read(length) if length else b""
        path = urllib.parse.urlsplit(self.path).path
        Handler.seen.append((self.command, path, dict(self.headers)))
        auth = self.headers.get("Authorization", "")
        if path == "/basic":
            want = "Basic " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            if auth == want:
                return self._reply(200, b'{"ok":true}', {"Content-Type": "application/json"})
            return self._reply(401, b"", {"WWW-Authenticate": 'Basic realm="t"'})
        if path == "/open":
            return self._reply(200, b"open")
        if path == "/forbidden":
            return self._reply(403, b"no")
        if path == "/redirect":
            return self._reply(302, b"", {"Location": "/open"})
        if path == "/token" and self.command == "POST":
            form = urllib.parse.parse_qs(data.decode())
            if (form.get("grant_type") == ["client_credentials"] and form.get("client_id") == [CLIENT_ID]
                    and form.get("client_secret") == [CLIENT_SECRET]):
                body = json.dumps({"access_token": TOKEN, "token_type": "bearer"}).encode()
                return self._reply(200, body, {"Content-Type": "application/json"})
            return self._reply(401, b'{"error":"invalid_client"}')
        if path == "/bearer":
            return self._reply(200 if auth == f"Bearer {TOKEN}" else 401, b"")
        return self._reply(404, b"missing")

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _handle


def start(port):
    """Starts the server on 127.0.0.1:port in a daemon thread; returns the server (call shutdown())."""
    srv = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    return srv


if __name__ == "__main__":
    s = start(int(sys.argv[1]))
    print("ready", flush=True)
    threading.Event().wait()
