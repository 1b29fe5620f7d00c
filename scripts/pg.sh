#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL 15 server in a local directory (no systemd, loopback only).
#   scripts/pg.sh start DIR PORT   initdb on first use, start, create role+database "roma" (password roma)
#   scripts/pg.sh stop DIR         fast shutdown
#   scripts/pg.sh url DIR PORT     prints the libpq URL
# As root the server runs as the postgres system user (initdb refuses root); DIR's parents must be
# traversable by it, so DIR is made world-traversable (its data/ subdirectory stays 0700).
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cmd=${1:?start|stop|url}; dir=$(realpath -m "${2:?DIR}"); port=${3:-5432}

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

case $cmd in
start)
  mkdir -p "$dir"
  # every ancestor must be traversable by the postgres user
  d=$dir; while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=trust -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
  fi
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB" start >/dev/null
  fi
  psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 <<SQL >/dev/null
SELECT 'CREATE ROLE roma LOGIN PASSWORD ''roma''' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='roma')\gexec
SELECT 'CREATE DATABASE roma OWNER roma' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname='roma')\gexec
SQL
  ;;
stop)
  if [[ -f $dir/data/PG_VERSION ]]; then as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  ;;
url)
  echo "postgresql://roma:roma@127.0.0.1:$port/roma"
  ;;
*) echo "usage: $0 start|stop|url DIR [PORT]" >&2; exit 1;;
esac
