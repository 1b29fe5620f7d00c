"""test_unit_and_fuzz.py: the C unit tests and the libFuzzer targets, as pytest cases.

- every tests/unit/test_*.c must have been built for release and asan (build/<mode>/tests/test_*) and must
  exit 0; its output is shown on failure. Cases are parametrized by the files found (sources and built
  binaries), so a new test_*.c is picked up without editing this file; a source without a binary fails.
- every build/fuzz/fuzz_* (from tests/fuzz/fuzz_*.c) runs for a short while (-max_total_time=10) on its
  corpus dir build/test-var/fuzz/<name> (seeded from tests/fuzz/corpus/<name> when that exists) and must
  exit 0; crash artifacts land next to the corpus.
Nothing is skipped: an empty set of unit binaries or fuzz targets is a failing case, not a skip.
"""
import glob
import os
import re
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODES = ("release", "asan")
FUZZ_SECONDS = int(os.environ.get("ROMA_FUZZ_SECONDS", "10"))


def _names(pattern, strip_ext=False):
    out = set()
    for p in glob.glob(os.path.join(ROOT, pattern)):
        if os.path.isfile(p):
            name = os.path.basename(p)
            out.add(os.path.splitext(name)[0] if strip_ext else name)
    return out


def _unit_cases():
    sources = _names("tests/unit/test_*.c", strip_ext=True)
    cases = []
    for mode in MODES:
        names = sources | _names(f"build/{mode}/tests/test_*")
        cases += [pytest.param(mode, n, id=f"{mode}-{n}") for n in sorted(names)]
    return cases or [pytest.param(None, None, id="no-unit-tests")]


def _fuzz_cases():
    names = _names("tests/fuzz/fuzz_*.c", strip_ext=True) | _names("build/fuzz/fuzz_*")
    return [pytest.param(n, id=n) for n in sorted(names)] or [pytest.param(None, id="no-fuzz-targets")]


# libFuzzer's progress lines ("#1234 NEW cov: ..."): dropped so the crash report fits in what is shown
_PROGRESS = re.compile(r"^#\d+\s+(NEW|REDUCE|pulse|INITED|RELOAD|DONE)\b.*\n?", re.M)


def _show(r):
    err = _PROGRESS.sub("", r.stderr)
    return f"exit {r.returncode}\n--- stdout ---\n{r.stdout[-8000:]}\n--- stderr ---\n{err[-12000:]}"


@pytest.mark.parametrize("mode,name", _unit_cases())
def test_unit(mode, name):
    assert name is not None, "no tests/unit/test_*.c and no build/<mode>/tests/test_* binary found"
    path = os.path.join(ROOT, "build", mode, "tests", name)
    assert os.access(path, os.X_OK), f"{path} was not built (make MODE={mode} all)"
    env = dict(os.environ)
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    r = subprocess.run([path], cwd=ROOT, env=env, capture_output=True, text=True, errors="replace",
                       stdin=subprocess.DEVNULL, timeout=240)
    assert r.returncode == 0, f"{name} ({mode}) failed:\n{_show(r)}"


@pytest.mark.parametrize("name", _fuzz_cases())
def test_fuzz(name):
    assert name is not None, "no tests/fuzz/fuzz_*.c and no build/fuzz/fuzz_* target found"
    path = os.path.join(ROOT, "build", "fuzz", name)
    assert os.access(path, os.X_OK), f"{path} was not built (make fuzz)"
    corpus = os.path.join(ROOT, "build", "test-var", "fuzz", name)
    os.makedirs(corpus, exist_ok=True)
    argv = [path, f"-max_total_time={FUZZ_SECONDS}", "-rss_limit_mb=2048", "-timeout=25",
            f"-artifact_prefix={corpus}-", "-print_final_stats=1", corpus]
    seeds = os.path.join(ROOT, "tests", "fuzz", "corpus", name)
    if os.path.isdir(seeds):
        argv.append(seeds)  # read-only seeds: libFuzzer writes new inputs to the first dir only
    r = subprocess.run(argv, cwd=corpus, capture_output=True, text=True, errors="replace",
                       stdin=subprocess.DEVNULL, timeout=FUZZ_SECONDS + 120)
    assert r.returncode == 0, f"{name} found a problem (artifacts: {corpus}-*):\n{_show(r)}"
