#!/usr/bin/env bash
# test.sh: runs the whole suite (`make test` calls it after building release, asan and fuzz).
# Starts nothing itself: the fixtures in tests/conftest.py start PostgreSQL and the stacks. The suite
# runs once against the ASan+UBSan build (ROMA_BUILD_DIR=build/asan); tests that need release binaries
# (unit binaries, the `make run` test) pick them explicitly. The closing pytest line is the last line
# this script prints and its exit code is pytest's, except that 5 ("no tests collected") is a failure.
#   Environment: ROMA_BUILD_DIR (default build/asan), PYTEST_ARGS (extra pytest arguments, e.g. "-k run -x"),
#   PYTHON (interpreter; default: Debian's /usr/bin/python3, which has the packages install-deps.sh installs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

export ROMA_BUILD_DIR=${ROMA_BUILD_DIR:-build/asan}
export PYTHONDONTWRITEBYTECODE=1
PY=${PYTHON:-}
if [[ -z $PY ]]; then
  if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi
fi

# shellcheck disable=SC2086 # PYTEST_ARGS is a word list on purpose
"$PY" -m pytest -q -p no:cacheprovider --timeout=300 -rfE ${PYTEST_ARGS:-} tests/ </dev/null
rc=$?
if ((rc == 5)); then exit 1; fi
exit "$rc"
