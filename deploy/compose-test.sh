#!/usr/bin/env bash
# compose-test.sh: `make compose-test`. Builds the base images (deploy/build-base.sh, cached by the hash
# of their package lists) and the stack's images (docker-compose build, layer-cached), then runs the live
# docker-compose tests of tests/test_compose.py (ROMA_COMPOSE_LIVE=1): the stack up, scaled, and broken.
# Without a Docker engine it prints a loud SKIPPED line and exits 0 (scripts/test.sh calls it).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if ! timeout 10 docker info >/dev/null 2>&1; then
  echo "################ SKIPPED: docker-compose tests (no Docker engine answers) ################"
  exit 0
fi
t0=$(date +%s)
set -a
eval "$(deploy/build-base.sh)"
set +a
deploy/gen-secret.sh >/dev/null 2>&1 || true
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-romatest}
docker-compose build -q >/dev/null
echo "compose-test: images ready in $(( $(date +%s) - t0 )) s; runtime image $(docker image inspect -f '{{.Size}}' openroma:latest | awk '{printf "%.0f MB", $1/1e6}')"
ROMA_COMPOSE_LIVE=1 exec "${PYTHON:-/usr/bin/python3}" -m pytest -q -p no:cacheprovider --timeout=600 -rfE -s \
  -k live tests/test_compose.py </dev/null
