#!/usr/bin/env bash
# install-deps.sh: installs every Debian 12 package that building, running and testing OpenROMA needs.
# Idempotent: it asks dpkg first and only calls apt-get when something is missing, so a provisioned
# machine pays ~0.1 s. Must run as root (or with sudo available).
set -euo pipefail

PKGS=(
  build-essential pkg-config clang libclang-rt-14-dev
  libzmq3-dev libmsgpack-dev libpq-dev libcjson-dev libcivetweb-dev libssl-dev libarchive-dev
  libmariadb-dev libhiredis-dev libcurl4-openssl-dev librabbitmq-dev libmongoc-dev librdkafka-dev
  postgresql-15 postgresql-client-15
  mariadb-server mariadb-client redis-server redis-tools vsftpd
  python3 python3-pytest python3-pytest-timeout python3-requests python3-pyftpdlib
  curl unzip zip wrk docker-compose procps iproute2
)

missing=()
for p in "${PKGS[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if ((${#missing[@]} == 0)); then exit 0; fi

echo "install-deps: installing ${missing[*]}" >&2
SUDO=; [[ $(id -u) -eq 0 ]] || SUDO=sudo
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
