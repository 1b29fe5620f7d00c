"""run_stack.py: runs scripts/run.sh (the `make run` supervisor) the way a user does, for test_run.py and
test_chaos.py: private ROMA_VAR_DIR under build/test-var/<prefix>-<pid>, free ports, its own session;
reads credentials.env, the supervised pids (run/<name>.pid) and the supervisor's JSON lines."""
import glob
import json
import os
import shutil
import signal
import subprocess

from conftest import ROOT, free_port, wait_for
from roma_client import RomaClient

PG_SH = os.path.join(ROOT, "scripts", "pg.sh")


def procs_with_env(marker):
    """Live (non-zombie) pids whose environment contains marker (bytes)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/stat", "rb") as f:
                state = f.read().rsplit(b")", 1)[1].split()[0]
            if state == b"Z":
                continue
            with open(f"/proc/{d}/environ", "rb") as f:
                if marker in f.read().split(b"\0"):
                    with open(f"/proc/{d}/cmdline", "rb") as f2:
                        found.append((int(d), f2.read().replace(b"\0", b" ").decode(errors="replace")))
        except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
            continue
    return found


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().strip())  # postmaster.pid: the pid is the first line
    except (FileNotFoundError, ValueError):
        return None


def alive(pid):
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except FileNotFoundError:
        return False


class RunSh:
    """One scripts/run.sh stack. Attributes once start() returned: creds (credentials.env), base,
    project_id, instance_id; client()/inst() make it usable by the asset/MQS helpers like a Stack."""

    def __init__(self, prefix, build_dir="build/release", extra_env=None):
        # leftovers of earlier sessions of this prefix (kept for diagnosis when they failed)
        for old in glob.glob(os.path.join(ROOT, "build", "test-var", f"{prefix}-*")):
            subprocess.run([PG_SH, "stop", os.path.join(old, "pg")], capture_output=True)
            shutil.rmtree(old, ignore_errors=True)
        self.var = os.path.join(ROOT, "build", "test-var", f"{prefix}-{os.getpid()}")
        os.makedirs(self.var)
        self.run_dir = os.path.join(self.var, "run")
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("ROMA_")}
        self.env.update({
            "ROMA_VAR_DIR": self.var,
            "ROMA_BUILD_DIR": build_dir,
            "ROMA_HTTP_PORT": str(free_port()),
            "ROMA_PG_PORT": str(free_port()),
            "ROMA_BROKER_FRONTEND": f"tcp://127.0.0.1:{free_port()}",
            "ROMA_BROKER_BACKEND": f"tcp://127.0.0.1:{free_port()}",
            "ROMA_ASSET_WORKERS": "2",
            "ROMA_READY_TIMEOUT": "30",
        })
        self.env.update(extra_env or {})
        self.marker = f"ROMA_VAR_DIR={self.var}".encode()
        self.out_path = os.path.join(self.var, "supervisor.out")
        self.sup = None
        self.creds = {}

    def start(self, timeout=60):
        self._out = open(self.out_path, "wb")
        self.sup = subprocess.Popen([os.path.join(ROOT, "scripts", "run.sh")], cwd=ROOT, env=self.env,
                                    stdout=self._out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    start_new_session=True)
        wait_for(lambda: "Press Ctrl-C" in self.output() or self.sup.poll() is not None, timeout, interval=0.1,
                 what="run.sh to start the stack")
        assert self.sup.poll() is None, f"run.sh exited with {self.sup.returncode}:\n{self.output()[-4000:]}"
        with open(os.path.join(self.var, "credentials.env")) as f:
            for line in f:
                k, _, v = line.strip().partition("=")
                self.creds[k] = v
        self.base = self.creds["ROMA_URL"]
        self.project_id = self.creds["ROMA_PROJECT_ID"]
        self.instance_id = self.creds["ROMA_INSTANCE_ID"]
        return self

    def output(self):
        with open(self.out_path, "rb") as f:
            return f.read().decode(errors="replace")

    def events(self):
        out = []
        for line in self.output().splitlines():
            if line.startswith("{"):
                try:
                    out.append(json.loads(line))
                except ValueError:
                    pass
        return out

    def names(self):
        return sorted(n[:-4] for n in os.listdir(self.run_dir) if n.endswith(".pid"))

    def pid(self, name):
        return read_pid(os.path.join(self.run_dir, f"{name}.pid"))

    def client(self, timeout=30):
        return RomaClient(self.base, token=self.creds["ROMA_TOKEN"], timeout=timeout)

    def inst(self, suffix=""):
        return f"/v2/{self.project_id}/instances/{self.instance_id}{suffix}"

    def stop(self, timeout=30):
        """SIGTERM to the supervisor; returns its exit code."""
        self.sup.send_signal(signal.SIGTERM)
        return self.sup.wait(timeout)

    def cleanup(self, remove):
        if self.sup and self.sup.poll() is None:
            os.killpg(self.sup.pid, signal.SIGKILL)
            self.sup.wait()
        for pid, _ in procs_with_env(self.marker):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        subprocess.run([PG_SH, "stop", os.path.join(self.var, "pg")], capture_output=True)
        if self.sup:
            self._out.close()
        if remove:
            shutil.rmtree(self.var, ignore_errors=True)
