"""servers.py: throwaway servers for the datasource connectivity tests, as session fixtures.

Everything listens on 127.0.0.1 on ports from conftest.free_port(), keeps its data under
build/test-var/ds-servers/, and is stopped at the end of the session. Import the fixtures into a test
module with `from servers import *  # noqa: F401,F403` (conftest.py puts tests/ on sys.path).

- mariadb:     MariaDB 10.11 (mariadb-install-db + mariadbd, recipe of shared/notes/environment.md);
               database appdb with tables orders / customers / order_items, user app@127.0.0.1 password
               MY_PASS with rights on appdb and on the pattern appx% (none of which exists)
- pg_checks:   a second PostgreSQL (scripts/pg.sh, its own directory and port: the session's `pg` is
               the platform's database, which the worker refuses to reach) with a role dscheck
               (password PG_PASS) owning database dscheck_db (tables orders, sales.leads); TCP is
               scram-sha-256 (pg.sh), so a wrong password fails as on a real server.
- private_srv: a network namespace of the test's own with a veth pair on a private /30 (10.213.x.0/30),
               and a TCP listener inside it that records what it receives: how users' datasources
               live (private ranges are allowed by the default policy); also the "attacker's listener"
               of the secret-travel tests.
- redis_srv:   redis-server with requirepass REDIS_PASS, no persistence
- http_srv:    tests/helpers/basic_auth_http.py in a thread (basic auth, OAuth token, 401/403/302 routes)
- ftp_srv:     tests/helpers/ftp_server.py (pyftpdlib) with user FTP_USER / FTP_PASS
- silent_port: a TCP listener that never accepts: the kernel completes handshakes into the backlog,
               nothing is ever read or written (for deadline tests)
- closed_port: a port nothing listens on
RabbitMQ is not started: rabbitmq-server (Erlang) is not installed here and its boot is slow.
"""
import os
import shutil
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, VAR, free_port, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
DIR = os.path.join(VAR, "ds-servers")
MY_USER, MY_PASS, MY_DB = "app", "My-Pass-4471x", "appdb"
PG_USER, PG_PASS, PG_DB = "dscheck", "Pg-Pass-8813y", "dscheck_db"
REDIS_PASS = "Redis-Pass-2209z"
FTP_USER, FTP_PASS = "ftpuser", "Ftp-Pass-6650w"


def _traversable(path):
    """Server users (mysql, postgres) must be able to walk down to their directories."""
    d = os.path.abspath(path)
    while d != "/":
        try:
            os.chmod(d, os.stat(d).st_mode | 0o011)
        except OSError:
            pass
        d = os.path.dirname(d)


def _as_root():
    return os.geteuid() == 0


def start_mariadb(d, port):
    """Installs and starts a MariaDB in directory d on 127.0.0.1:port with the test database and user.
    Returns (info dict, stop function). Also used by bench/bench_datasources.py."""
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    _traversable(d)
    sock = os.path.join(d, "mysqld.sock")
    user_args = ["--user=mysql"] if _as_root() else []
    if _as_root():
        shutil.chown(d, "mysql", "mysql")
    r = subprocess.run(["mariadb-install-db", "--no-defaults", *user_args, f"--datadir={d}/data", "--skip-test-db",
                        "--auth-root-authentication-method=socket"], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    argv = ["mariadbd", "--no-defaults", f"--datadir={d}/data", f"--port={port}", "--bind-address=127.0.0.1",
            f"--socket={sock}", f"--pid-file={d}/mysqld.pid", f"--log-error={d}/error.log", "--skip-name-resolve",
            "--innodb-buffer-pool-size=32M", "--max-connections=500"]
    if _as_root():
        argv = ["runuser", "-u", "mysql", "--"] + argv
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    admin = ["mariadb", "--no-defaults", f"--socket={sock}", "-uroot"]
    wait_for(lambda: subprocess.run(admin + ["-e", "SELECT 1"], capture_output=True).returncode == 0, 60,
             what="mariadb start")
    sql = f"""
        CREATE DATABASE {MY_DB};
        CREATE USER '{MY_USER}'@'127.0.0.1' IDENTIFIED BY '{MY_PASS}';
        CREATE USER '{MY_USER}'@'localhost' IDENTIFIED BY '{MY_PASS}';
        GRANT ALL ON {MY_DB}.* TO '{MY_USER}'@'127.0.0.1', '{MY_USER}'@'localhost';
        -- rights on a name pattern: a missing database of that pattern is "unknown" (1049), while a
        -- database outside the user's rights is "access denied" (1044) whether it exists or not
        GRANT ALL ON `appx%`.* TO '{MY_USER}'@'127.0.0.1', '{MY_USER}'@'localhost';
        CREATE DATABASE otherdb;
        USE {MY_DB};
        CREATE TABLE orders (id INT AUTO_INCREMENT PRIMARY KEY, code VARCHAR(32) NOT NULL UNIQUE,
                             amount DECIMAL(10,2) NULL, created DATETIME NOT NULL, note TEXT);
        CREATE TABLE customers (id BIGINT PRIMARY KEY, name VARCHAR(100));
        CREATE TABLE order_items (order_id INT NOT NULL, sku CHAR(8) NOT NULL);
    """
    r = subprocess.run(admin, input=sql, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr

    def stop():
        subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={sock}", "-uroot", "shutdown"],
                       capture_output=True, timeout=60)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            proc.kill()

    return {"host": "127.0.0.1", "port": port, "user": MY_USER, "password": MY_PASS, "db": MY_DB, "socket": sock}, stop


@pytest.fixture(scope="session")
def mariadb():
    info, stop = start_mariadb(os.path.join(DIR, "mariadb"), free_port())
    yield info
    stop()


def setup_pg_checks(sockdir, port):
    """Role PG_USER (password PG_PASS, scram over TCP) owning PG_DB with the test tables, on the server
    whose socket directory is sockdir. Returns the info dict. Also used by bench/bench_datasources.py."""
    su = ["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockdir, "-p", str(port), "-U", "postgres"]
    setup = f"""
        SELECT 'CREATE ROLE {PG_USER} LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{PG_USER}')\\gexec
        ALTER ROLE {PG_USER} PASSWORD '{PG_PASS}';
        SELECT 'CREATE DATABASE {PG_DB} OWNER {PG_USER}'
          WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = '{PG_DB}')\\gexec
    """
    r = subprocess.run(su + ["-d", "postgres"], input=setup, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    tables = """
        DROP TABLE IF EXISTS orders; DROP TABLE IF EXISTS customers; DROP SCHEMA IF EXISTS sales CASCADE;
        CREATE TABLE orders (id serial PRIMARY KEY, code varchar(32) NOT NULL UNIQUE, amount numeric(10,2),
                             note text, created timestamptz NOT NULL DEFAULT now());
        CREATE TABLE customers (id bigint PRIMARY KEY, name varchar(100));
        CREATE SCHEMA sales; CREATE TABLE sales.leads (id int PRIMARY KEY, source text);
    """
    r = subprocess.run(["psql", "-X", "-q", "-v", "ON_ERROR_STOP=1", "-h", sockdir, "-p", str(port), "-U",
                        PG_USER, "-d", PG_DB], input=tables, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    # scripts/pg.sh asks a password on every TCP connection: a wrong one must fail
    env = dict(os.environ, PGPASSWORD="wrong")
    wait_for(lambda: subprocess.run(["psql", "-X", "-h", "127.0.0.1", "-p", str(port), "-U", PG_USER, "-d", PG_DB,
                                     "-c", "SELECT 1"], env=env, capture_output=True).returncode != 0, 10,
             what="pg_hba reload")
    return {"host": "127.0.0.1", "port": port, "user": PG_USER, "password": PG_PASS, "db": PG_DB}


@pytest.fixture(scope="session")
def pg_checks():
    d = os.path.join(DIR, "pg-checks")
    port = free_port()
    shutil.rmtree(d, ignore_errors=True)
    subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "start", d, str(port)], check=True)
    yield setup_pg_checks(d, port)
    subprocess.run([os.path.join(ROOT, "scripts", "pg.sh"), "stop", d, str(port)], check=False)
    shutil.rmtree(d, ignore_errors=True)


class Recorder:
    """A TCP listener at (host, port) in a network namespace that records every byte it receives
    (tests/helpers-free: a python3 child run with `ip netns exec`)."""

    CODE = r"""
import socket, sys, threading
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], int(sys.argv[2]))); s.listen(64)
out = open(sys.argv[3], "ab", buffering=0)
print("ready", flush=True)
def serve(c):
    c.settimeout(5)
    try:
        if sys.argv[4] == "redis":
            data = c.recv(4096); out.write(data); c.sendall(b"-ERR nope\r\n")
        while True:
            data = c.recv(4096)
            if not data: break
            out.write(data)
    except Exception:
        pass
    c.close()
while True:
    c, _ = s.accept(); threading.Thread(target=serve, args=(c,), daemon=True).start()
"""

    def __init__(self, ns, host, port, path, mode="plain"):
        self.host, self.port, self.path = host, port, path
        self.p = subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, "-c", self.CODE, host, str(port), path,
                                   mode], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL)
        assert self.p.stdout.readline().strip() == b"ready", "recorder did not start"

    def received(self):
        try:
            with open(self.path, "rb") as f:
                return f.read()
        except FileNotFoundError:
            return b""

    def stop(self):
        self.p.terminate()
        try:
            self.p.wait(10)
        except subprocess.TimeoutExpired:
            self.p.kill()


@pytest.fixture(scope="session")
def private_srv():
    """Namespace + veth on 10.213.<n>.0/30 (host .1, namespace .2) with two recorders in the namespace: a
    plain one and one answering like a Redis that refuses AUTH. Needs root (the suite runs as root)."""
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    n = os.getpid() % 250 + 1
    ns, vh, vn = f"rds{os.getpid()}", f"vh{os.getpid() % 100000}", f"vn{os.getpid() % 100000}"
    host_ip, ns_ip = f"10.213.{n}.1", f"10.213.{n}.2"
    steps = [["ip", "netns", "add", ns], ["ip", "link", "add", vh, "type", "veth", "peer", "name", vn],
             ["ip", "link", "set", vn, "netns", ns], ["ip", "addr", "add", f"{host_ip}/30", "dev", vh],
             ["ip", "link", "set", vh, "up"], ["ip", "netns", "exec", ns, "ip", "addr", "add", f"{ns_ip}/30", "dev", vn],
             ["ip", "netns", "exec", ns, "ip", "link", "set", vn, "up"],
             ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"]]
    for st in steps:
        r = subprocess.run(st, capture_output=True, text=True)
        assert r.returncode == 0, (st, r.stderr)
    os.makedirs(DIR, exist_ok=True)
    plain = Recorder(ns, ns_ip, 7001, os.path.join(DIR, f"recv-plain-{ns}.bin"))
    redis = Recorder(ns, ns_ip, 7002, os.path.join(DIR, f"recv-redis-{ns}.bin"), mode="redis")
    yield {"ip": ns_ip, "plain": plain, "redis": redis}
    plain.stop()
    redis.stop()
    subprocess.run(["ip", "link", "del", vh], capture_output=True)
    subprocess.run(["ip", "netns", "del", ns], capture_output=True)


@pytest.fixture(scope="session")
def redis_srv():
    d = os.path.join(DIR, "redis")
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    port = free_port()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--requirepass", REDIS_PASS,
                             "--dir", d, "--save", "", "--appendonly", "no", "--logfile", os.path.join(d, "redis.log")],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def pong():
        r = subprocess.run(["redis-cli", "-p", str(port), "--no-auth-warning", "-a", REDIS_PASS, "ping"],
                           capture_output=True, text=True)
        return "PONG" in r.stdout

    wait_for(pong, 20, what="redis start")
    yield {"host": "127.0.0.1", "port": port, "password": REDIS_PASS}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def http_srv():
    sys.path.insert(0, os.path.join(HERE, "helpers"))
    import basic_auth_http  # noqa: E402
    port = free_port()
    srv = basic_auth_http.start(port)
    yield {"base": f"http://127.0.0.1:{port}", "port": port, "user": basic_auth_http.USER,
           "password": basic_auth_http.PASSWORD, "client_id": basic_auth_http.CLIENT_ID,
           "client_secret": basic_auth_http.CLIENT_SECRET, "seen": basic_auth_http.Handler.seen}
    srv.shutdown()
    srv.server_close()


@pytest.fixture(scope="session")
def ftp_srv():
    d = os.path.join(DIR, "ftp")
    shutil.rmtree(d, ignore_errors=True)
    port = free_port()
    log = open(os.path.join(VAR, "logs", "ftp-server.log"), "ab") if os.path.isdir(os.path.join(VAR, "logs")) \
        else subprocess.DEVNULL
    proc = subprocess.Popen([sys.executable, os.path.join(HERE, "helpers", "ftp_server.py"), str(port), d, FTP_USER,
                             FTP_PASS], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=log, cwd=ROOT)
    assert proc.stdout.readline().strip() == b"ready", "ftp server did not start"

    def listening():
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True

    wait_for(listening, 10, what="ftp listen")
    yield {"host": "127.0.0.1", "port": port, "user": FTP_USER, "password": FTP_PASS}
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()
    if log is not subprocess.DEVNULL:
        log.close()


@pytest.fixture(scope="session")
def silent_port():
    """A listener that never accepts: connects succeed (kernel backlog), nothing is ever answered."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(128)
    yield s.getsockname()[1]
    s.close()


@pytest.fixture(scope="session")
def closed_port():
    return free_port()


def elapsed_since(t0):
    return time.monotonic() - t0
