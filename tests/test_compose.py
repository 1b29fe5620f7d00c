"""test_compose.py: docker-compose.yml and deploy/ without a Docker engine.

Validates the file with Debian's docker-compose (`config -q`), then checks its structure on the resolved
configuration: the seven services, healthchecks and `restart: unless-stopped` on every long-running one,
scalable services without container_name or host ports, the one-shot migrate ordering; that every
healthcheck command of ours is a flag the built binary understands; that the runtime stage of
deploy/Dockerfile installs a package for every shared library the release binaries link directly; and
that deploy/gen-secret.sh makes a valid key.
"""
import os
import re
import stat
import subprocess

import pytest
import yaml

from conftest import ROOT

REQUIRED = {"postgres", "migrate", "broker", "api", "asset-worker", "datasource-worker", "topic-worker"}
SCALABLE = {"api", "asset-worker", "datasource-worker", "topic-worker"}
RELEASE_BIN = os.path.join(ROOT, "build", "release", "bin")


def _compose(*args):
    return subprocess.run(["docker-compose", "-f", os.path.join(ROOT, "docker-compose.yml"), *args], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)


@pytest.fixture(scope="module")
def config():
    r = _compose("config")
    assert r.returncode == 0, r.stderr
    return yaml.safe_load(r.stdout)


def test_config_quiet_validates():
    r = _compose("config", "-q")
    assert r.returncode == 0, r.stderr
    assert r.stdout == ""


def test_services_and_healthchecks(config):
    services = config["services"]
    assert REQUIRED <= set(services), sorted(services)
    for name, s in services.items():
        if name == "migrate":
            continue
        assert s.get("restart") == "unless-stopped", f"{name}: restart is {s.get('restart')!r}"
        hc = s.get("healthcheck") or {}
        assert hc.get("test") and not hc.get("disable"), f"{name} has no healthcheck"


def test_scalable_services(config):
    services = config["services"]
    for name in SCALABLE:
        s = services[name]
        assert "container_name" not in s, f"{name} has a container_name: it could not be scaled"
        assert not s.get("ports"), f"{name} publishes host ports: replicas would clash"
        assert s.get("image") == "openroma:latest" and s["build"]["target"] == "runtime", name
        assert "roma_secret_key" in [x if isinstance(x, str) else x.get("source") for x in s.get("secrets", [])]
        env = s.get("environment") or {}
        assert env.get("ROMA_DATABASE_URL", "").startswith("postgresql://"), name
    # the API replicas sit behind a load balancer that owns the published port
    lb = [n for n, s in services.items() if s.get("ports")]
    assert lb and all(n not in SCALABLE | {"broker", "migrate"} for n in lb), lb
    assert services["api"]["environment"]["ROMA_HTTP_LISTEN"] == "0.0.0.0"
    assert services["api"]["environment"]["ROMA_BROKER_FRONTEND"] == "tcp://broker:5555"
    for w in ("asset-worker", "datasource-worker", "topic-worker"):
        assert services[w]["environment"]["ROMA_BROKER_BACKEND"] == "tcp://broker:5556", w
    b = services["broker"]["environment"]
    assert b["ROMA_BROKER_FRONTEND"].endswith(":5555") and "127.0.0.1" not in b["ROMA_BROKER_FRONTEND"]
    assert b["ROMA_BROKER_BACKEND"].endswith(":5556") and "127.0.0.1" not in b["ROMA_BROKER_BACKEND"]


def test_migrate_ordering(config):
    services = config["services"]
    m = services["migrate"]
    assert m["command"] == ["roma-admin", "migrate"]
    assert m.get("restart") in ("no", None)
    assert m["depends_on"]["postgres"]["condition"] == "service_healthy"
    for name in ("api", "asset-worker", "datasource-worker", "topic-worker"):
        assert services[name]["depends_on"]["migrate"]["condition"] == "service_completed_successfully", name


def test_commands_and_healthchecks_use_built_binaries(config):
    """Every roma-* command and healthcheck names a built binary and a flag it accepts (usage = exit 2)."""
    checked = 0
    for name, s in config["services"].items():
        argvs = [s.get("command") or []]
        test = (s.get("healthcheck") or {}).get("test") or []
        if test and test[0] == "CMD":
            argvs.append(test[1:])
        for argv in argvs:
            if not argv or not str(argv[0]).startswith("roma-"):
                continue
            path = os.path.join(RELEASE_BIN, argv[0])
            assert os.access(path, os.X_OK), f"{name}: {argv[0]} is not built in build/release/bin"
            if len(argv) == 1 or argv[0] == "roma-admin":
                continue
            # valid settings but closed ports everywhere: the probe must fail as a probe (1), not as a
            # usage or configuration error (2)
            env = dict(os.environ, ROMA_DATABASE_URL="postgresql://roma:roma@127.0.0.1:9/roma?connect_timeout=2",
                       ROMA_BROKER_FRONTEND="tcp://127.0.0.1:9", ROMA_BROKER_BACKEND="tcp://127.0.0.1:9",
                       ROMA_SECRET_KEY="6f" * 32)
            r = subprocess.run([path, *argv[1:-1], re.sub(r":5555$", ":9", argv[-1])], env=env,
                               capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL)
            assert r.returncode == 1 and "usage" not in r.stderr, f"{name}: {argv}: {r.returncode} {r.stderr}"
            checked += 1
    assert checked >= 4, "expected the broker and the three worker probes"


def _needed_libs(binary):
    """(soname, resolved path) of a binary's direct dependencies."""
    needed = re.findall(r"\(NEEDED\)\s+Shared library: \[([^\]]+)\]",
                        subprocess.run(["readelf", "-d", binary], capture_output=True, text=True).stdout)
    resolved = dict(re.findall(r"^\s*(\S+) => (\S+)", subprocess.run(["ldd", binary], capture_output=True,
                                                                       text=True).stdout, re.M))
    return [(n, resolved.get(n)) for n in needed]


def _runtime_packages():
    with open(os.path.join(ROOT, "deploy", "packages", "runtime.list")) as f:
        return set(re.sub(r"#.*", "", f.read()).split())


def test_dockerfile_stages():
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        text = f.read()
    froms = re.findall(r"^FROM (\S+) AS (\S+)", text, re.M)
    assert {"build", "runtime", "postgres", "lb"} <= {s for _, s in froms}
    assert "ARG BASE=debian:bookworm-slim" in text and ("${BASE}", "runtime") in froms, froms
    assert "runtime.list" in text
    assert "make MODE=release" in text
    entry = os.path.join(ROOT, "deploy", "entrypoint.sh")
    assert os.access(entry, os.X_OK)
    assert subprocess.run(["sh", "-n", entry]).returncode == 0


def test_runtime_image_has_every_linked_library():
    bins = sorted(os.listdir(RELEASE_BIN)) if os.path.isdir(RELEASE_BIN) else []
    assert "roma-api" in bins, "build/release/bin/roma-api is missing (make MODE=release all)"
    pkgs = _runtime_packages()
    missing = []
    for b in bins:
        for soname, path in _needed_libs(os.path.join(RELEASE_BIN, b)):
            if soname.startswith(("libc.so", "libm.so", "libpthread", "libdl.so", "librt.so", "ld-linux")):
                continue  # libc6, in every image
            assert path, f"{b}: {soname} not resolved by ldd"
            owner = subprocess.run(["dpkg", "-S", os.path.realpath(path)], capture_output=True, text=True)
            if owner.returncode != 0:  # /lib vs /usr/lib (merged /usr)
                owner = subprocess.run(["dpkg", "-S", path.replace("/usr/lib/", "/lib/")], capture_output=True,
                                       text=True)
            assert owner.returncode == 0, f"{b}: no package owns {path}"
            pkg = owner.stdout.split(":")[0]
            if pkg not in pkgs and pkg not in ("libc6", "libgcc-s1"):
                missing.append(f"{b}: {soname} from {pkg}")
    assert not missing, "runtime stage lacks packages:\n" + "\n".join(missing)


def test_gen_secret(tmp_path):
    key = tmp_path / "k" / "secret.key"
    script = os.path.join(ROOT, "deploy", "gen-secret.sh")
    assert subprocess.run([script, str(key)], capture_output=True).returncode == 0
    text = key.read_text()
    assert re.fullmatch(r"[0-9a-f]{64}", text), text
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert subprocess.run([script, str(key)], capture_output=True).returncode == 0
    assert key.read_text() == text, "gen-secret.sh must never replace an existing key"


def test_nginx_conf_proxies_to_api():
    with open(os.path.join(ROOT, "deploy", "nginx.conf")) as f:
        text = f.read()
    assert re.search(r"set \$\w+ http://api:8080;", text) and "proxy_pass $" in text
    assert "proxy_set_header Host $http_host;" in text  # signatures cover Host
    assert text.count("{") == text.count("}")


def test_readme_config_tables_are_current():
    """README.md's configuration tables are generated from the binaries' --help-config; a setting added
    without regenerating them (scripts/gen-config-docs.sh) fails here."""
    import subprocess
    r = subprocess.run([os.path.join(ROOT, "scripts", "gen-config-docs.sh"), "--check"], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]


# ---------------------------------------------------------------------------------------------------
# Live tests (ROMA_COMPOSE_LIVE=1, run by deploy/compose-test.sh = `make compose-test`): the real stack
# from docker-compose.yml on this machine's engine, scaled, under load through the lb, and broken.
# ---------------------------------------------------------------------------------------------------
import json
import random
import socket
import threading
import time
import uuid

import requests

from roma_client import RomaClient

LIVE = os.environ.get("ROMA_COMPOSE_LIVE") == "1"
live = pytest.mark.skipif(not LIVE, reason="live docker-compose tests: make compose-test")
PROJ = os.environ.get("COMPOSE_PROJECT_NAME", "romatest")


def _dc(*args, check=True, timeout=300, input=None):
    r = subprocess.run(["docker-compose", "-p", PROJ, "-f", os.path.join(ROOT, "docker-compose.yml"), *args],
                       cwd=ROOT, capture_output=True, text=True, timeout=timeout, input=input,
                       stdin=None if input is not None else subprocess.DEVNULL)
    assert not check or r.returncode == 0, (args, r.stdout[-2000:], r.stderr[-2000:])
    return r


def _docker(*args, check=True):
    r = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    assert not check or r.returncode == 0, (args, r.stderr)
    return r.stdout.strip()


def _containers(service):
    return [c for c in _dc("ps", "-q", service).stdout.split() if c]


def _sql(q):
    return _dc("exec", "-T", "postgres", "psql", "-U", "roma", "-d", "roma", "-Atc", q).stdout.strip()


class Live:
    pass


@pytest.fixture(scope="module")
def cstack():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    os.environ["ROMA_HTTP_PUBLISH"] = f"127.0.0.1:{port}"
    os.environ["ROMA_ASSET_TEST_DELAY_MS"] = "200"
    _dc("down", "-v", "--remove-orphans", check=False)
    t0 = time.monotonic()
    _dc("up", "-d", "--scale", "api=3", "--scale", "asset-worker=3", "--scale", "datasource-worker=2", timeout=600)
    L = Live()
    L.base = f"http://127.0.0.1:{port}"
    wait_healthy(120)
    print(f"\ncompose: stack healthy in {time.monotonic() - t0:.1f} s")
    out = _dc("run", "--rm", "-T", "migrate", "roma-admin", "bootstrap", "--project-name", "default",
              "--instance-name", "default", "--user-name", "admin", "--password", "-", input="change-me-now\n").stdout
    kv = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
    L.project, L.instance, L.token = kv["ROMA_PROJECT_ID"], kv["ROMA_INSTANCE_ID"], kv["ROMA_TOKEN"]
    L.ak, L.sk = kv["ROMA_AK"], kv["ROMA_SK"]
    L.inst = f"/v2/{L.project}/instances/{L.instance}"
    L.cli = RomaClient(L.base, token=L.token, timeout=20)
    r = L.cli.post(L.inst + "/apps", json={"name": "compose_app"})
    assert r.status_code == 201, r.text
    L.app = r.json()["id"]
    yield L
    _dc("logs", "--no-color", "--tail", "30", check=False)
    _dc("down", "-v", "--remove-orphans", check=False, timeout=300)


def wait_healthy(timeout):
    deadline = time.monotonic() + timeout
    while True:
        ids = _dc("ps", "-q").stdout.split()
        states = [_docker("inspect", "-f", "{{.Name}} {{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{end}}",
                          i, check=False) for i in ids]
        bad = [s for s in states if "migrate" not in s and not s.endswith(" running healthy")]
        if not bad:
            return
        assert time.monotonic() < deadline, bad
        time.sleep(1)


class Load:
    """Export jobs (Idempotency-Key: a failed submit is retried with the same key) and GETs through the lb."""

    def __init__(self, L, threads=3):
        self.L, self.stop, self.jobs, self.failed, self.ok = L, threading.Event(), {}, 0, 0
        self.lock = threading.Lock()
        self.th = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]

    def _run(self):
        cli = RomaClient(self.L.base, token=self.L.token, timeout=20)
        while not self.stop.is_set():
            key = uuid.uuid4().hex
            for _ in range(60):  # until accepted (the client's retry with the same key)
                try:
                    r = cli.post(self.L.inst + "/assets/export", json={"apps": [{"id": self.L.app}]},
                                 headers={"Idempotency-Key": key})
                    g = cli.get(self.L.inst + "/apps")
                    good = r.status_code == 200 and g.status_code == 200
                except requests.RequestException:
                    good = False
                with self.lock:
                    if good:
                        self.ok += 1
                        self.jobs.setdefault(r.json()["job_id"], (key, time.monotonic()))
                    else:
                        self.failed += 1
                if good or self.stop.is_set():
                    break
                time.sleep(0.2)
            time.sleep(0.1)

    def __enter__(self):
        for t in self.th:
            t.start()
        return self

    def __exit__(self, *a):
        self.stop.set()
        for t in self.th:
            t.join(30)


def settle(L, jobs, timeout=60):
    """Waits until every accepted job is terminal; returns (succeeded, lost, doubled)."""
    ids = list(jobs)
    deadline = time.monotonic() + timeout
    while True:
        rows = _sql("SELECT j.id || ' ' || j.status || ' ' || (SELECT count(*) FROM asset_archives a WHERE a.job_id = j.id)"
                    " FROM asset_jobs j WHERE j.id IN (%s)" % ",".join(f"'{i}'" for i in ids)).splitlines() if ids else []
        st = {r.split()[0]: (r.split()[1], int(r.split()[2])) for r in rows}
        pending = [i for i in ids if st.get(i, ("?",))[0] in ("PENDING", "RUNNING")]
        if not pending or time.monotonic() > deadline:
            lost = len([i for i in ids if i not in st]) + len(pending)
            doubled = len([i for i, (s, n) in st.items() if n > 1])
            succeeded = len([i for i, (s, n) in st.items() if s == "SUCCEEDED" and n == 1])
            return succeeded, lost, doubled
        time.sleep(0.5)


@live
def test_live_quickstart_token_and_aksk(cstack):
    L = cstack
    assert requests.get(L.base + "/readyz", timeout=10).status_code == 200
    signed = RomaClient(L.base, ak=L.ak, sk=L.sk, project_id=L.project)
    r = signed.get(L.inst + "/apps")
    assert r.status_code == 200 and any(a["id"] == L.app for a in r.json()["apps"]), r.text
    # requests spread over the API replicas: every replica logged requests
    for _ in range(60):
        L.cli.get(L.inst + "/apps")
    per = [len(_docker("logs", c).splitlines()) for c in _containers("api")]
    print(f"compose: api replicas {len(per)}, log lines per replica {per}")
    assert len(per) == 3


@live
def test_live_kill_random_containers_under_load(cstack):
    L = cstack
    kinds = ["api", "asset-worker", "datasource-worker", "topic-worker", "broker"]
    kills = 0
    t0 = time.monotonic()
    with Load(L) as load:
        while time.monotonic() - t0 < 60:
            time.sleep(4)
            svc = random.choice(kinds)
            cs = _containers(svc)
            if cs:
                _docker("kill", random.choice(cs), check=False)
                kills += 1
    ok, lost, doubled = settle(L, load.jobs, timeout=90)
    wait_healthy(90)
    print(f"compose kill: jobs {len(load.jobs)} succeeded {ok} kills {kills} lost {lost} doubled {doubled} "
          f"failed requests {load.failed} (retried with the same Idempotency-Key) ok requests {load.ok}")
    assert lost == 0 and doubled == 0 and ok == len(load.jobs) and len(load.jobs) > 10


@live
def test_live_postgres_restart(cstack):
    L = cstack
    pg = _containers("postgres")[0]
    with Load(L, threads=2) as load:
        time.sleep(2)
        threading.Thread(target=_docker, args=("restart", pg), daemon=True).start()
        saw503 = None
        t_ready = None
        t_ok = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and t_ok is None:
            try:
                r = L.cli.get(L.inst + "/apps")
            except requests.RequestException:
                r = None
            if r is not None and r.status_code == 503:
                saw503 = r.json()
            if t_ready is None and saw503 and subprocess.run(
                    ["docker", "exec", pg, "pg_isready", "-h", "127.0.0.1", "-U", "roma"], capture_output=True).returncode == 0:
                t_ready = time.monotonic()
            if t_ready and r is not None and r.status_code == 200:
                t_ok = time.monotonic()
            time.sleep(0.1)
        time.sleep(2)
    ok, lost, doubled = settle(L, load.jobs)
    rec = (t_ok - t_ready) if t_ok and t_ready else None
    print(f"compose postgres restart: 503 body {saw503} jobs {len(load.jobs)} lost {lost} doubled {doubled} "
          f"failed requests {load.failed} recovery {rec if rec is None else round(rec, 2)} s after pg_isready")
    assert saw503 and saw503["error_code"] == "ROMA.00000503", saw503
    assert rec is not None and rec <= 10
    assert lost == 0 and doubled == 0 and ok == len(load.jobs)


@live
def test_live_broker_down_10s(cstack):
    L = cstack
    b = _containers("broker")[0]
    _docker("stop", b)
    t_down = time.monotonic()
    accepted = {}
    while time.monotonic() - t_down < 10:
        r = L.cli.post(L.inst + "/assets/export", json={"apps": [{"id": L.app}]})
        assert r.status_code == 200, r.text  # the API keeps accepting: the job is durable in PostgreSQL
        accepted[r.json()["job_id"]] = time.monotonic()
        assert L.cli.get(L.inst + "/apps").status_code == 200
        time.sleep(1)
    _docker("start", b)
    t_up = time.monotonic()
    ok, lost, doubled = settle(L, accepted, timeout=60)
    t_done = time.monotonic()
    waits = _sql("SELECT round(extract(epoch FROM max(end_time - created_at))::numeric, 2) || ' ' || "
                 "round(extract(epoch FROM max(end_time) - now())::numeric + %f, 2) FROM asset_jobs WHERE id IN (%s)"
                 % (0.0, ",".join(f"'{i}'" for i in accepted)))
    longest = float(waits.split()[0])
    resume = longest - (t_up - t_down)  # the last job waited the outage plus this
    print(f"compose broker down: jobs {len(accepted)} succeeded {ok} lost {lost} doubled {doubled} "
          f"longest job wait {longest:.2f} s, all done {t_done - t_up:.2f} s after the broker came back")
    assert lost == 0 and doubled == 0 and ok == len(accepted)
    assert t_done - t_up <= 5 + 0.5 * 3, "work did not resume within 5 s of the broker coming back"
