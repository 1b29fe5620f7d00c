#!/usr/bin/env bash
# run.sh: `make bench` (after the release build). Starts a throwaway PostgreSQL of its own
# (build/bench-var/pg, port ROMA_BENCH_PG_PORT), runs every bench/bench_*.py in turn with ROMA_BENCH_PG_URL
# set, then prints a summary table of the `name: ours X unit | baseline Y unit | ratio R` lines they
# printed. Exit status: 0 when every bench exited 0.
#   Environment: ROMA_BENCH_PG_PORT (default 55433), ROMA_BENCH_DURATION (seconds per figure, default 10),
#   ROMA_BENCH_ONLY (substring: run only the bench files whose name contains it),
#   PYTHON (default: Debian's /usr/bin/python3, which has the packages install-deps.sh installs).
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

PORT=${ROMA_BENCH_PG_PORT:-55433}
VAR=build/bench-var
PGDIR=$VAR/pg
PY=${PYTHON:-}
[[ -n $PY ]] || { if [[ -x /usr/bin/python3 ]]; then PY=/usr/bin/python3; else PY=python3; fi; }
export ROMA_BUILD_DIR=build/release PYTHONDONTWRITEBYTECODE=1

mkdir -p "$VAR"
make --no-print-directory -s MODE=release build/release/bench/hello || exit 1
scripts/pg.sh stop "$PGDIR" >/dev/null 2>&1
rm -rf "$PGDIR"
trap 'scripts/pg.sh stop "$PGDIR"' EXIT
scripts/pg.sh start "$PGDIR" "$PORT" || { echo "bench: PostgreSQL did not start (see $PGDIR/server.log)" >&2; exit 1; }
export ROMA_BENCH_PG_URL=$(scripts/pg.sh url "$PGDIR" "$PORT")

start=$SECONDS
failed=()
results=$VAR/results.txt
: >"$results"
for b in bench/bench_*.py; do
  name=$(basename "$b" .py)
  [[ -z ${ROMA_BENCH_ONLY:-} || $name == *"$ROMA_BENCH_ONLY"* ]] || continue
  echo "== $name"
  t0=$SECONDS
  (cd bench && "$PY" "$(basename "$b")") 2>&1 </dev/null | tee "$VAR/$name.out"
  rc=${PIPESTATUS[0]}
  grep -E '^[^ :][^:]*: ours [^|]+ \| baseline [^|]+ \| ratio [^ ]+$' "$VAR/$name.out" |
    sed "s/^/$name /" >>"$results"
  if ((rc != 0)); then failed+=("$name"); echo "== $name FAILED (exit $rc) after $((SECONDS - t0))s"; else
    echo "== $name done in $((SECONDS - t0))s"; fi
done

echo
echo "Summary (build/release, $(nproc) cores, ${ROMA_BENCH_DURATION:-10}s per figure, total $((SECONDS - start))s):"
{
  echo "bench|figure|ours|baseline|ratio"
  # "<bench> <figure>: ours X unit | baseline Y unit | ratio R"
  sed -E 's/^([^ ]+) ([^:]+): ours ([^|]+) \| baseline ([^|]+) \| ratio (.+)$/\1|\2|\3|\4|\5/' "$results"
} | column -t -s '|' -o '  '
for f in "${failed[@]}"; do echo "FAILED: $f (output in $VAR/$f.out)"; done
((${#failed[@]} == 0))
