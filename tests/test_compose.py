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
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        text = f.read()
    stages = re.split(r"^FROM ", text, flags=re.M)
    runtime = [s for s in stages if re.match(r"debian:bookworm-slim AS runtime", s)]
    assert runtime, "deploy/Dockerfile has no 'FROM debian:bookworm-slim AS runtime' stage"
    joined = runtime[0].replace("\\\n", " ")  # fold continuation lines
    m = re.search(r"apt-get install -y --no-install-recommends ([^&\n]+)", joined)
    assert m, "no apt-get install in the runtime stage"
    return set(m.group(1).split())


def test_dockerfile_stages():
    with open(os.path.join(ROOT, "deploy", "Dockerfile")) as f:
        text = f.read()
    froms = re.findall(r"^FROM (\S+) AS (\S+)", text, re.M)
    assert {"build", "runtime"} <= {s for _, s in froms}
    assert all(img == "debian:bookworm-slim" for img, _ in froms), froms
    assert "make MODE=release" in text and " all" in text
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
