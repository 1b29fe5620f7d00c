#!/usr/bin/env bash
# pg.sh: a throwaway PostgreSQL 15 server in a local directory (no systemd, loopback only).
#   scripts/pg.sh start DIR PORT   initdb on first use, start, create role+database "roma"
#   scripts/pg.sh stop DIR         fast shutdown
#   scripts/pg.sh url DIR PORT     prints the libpq URL (with the role's password)
#
# Authentication: no TCP connection skips the password. TCP (127.0.0.1 and ::1) is scram-sha-256 for
# every role; the role "roma" (LOGIN CREATEDB, not a superuser) gets a random password generated on
# first start and kept in DIR/roma.password (mode 0600, owned by the caller). The superuser "postgres"
# has no password, so it cannot log in over TCP at all. Only the unix socket in DIR is "trust": DIR is
# mode 0700 and owned by the server's user (postgres when run as root, else the caller), so only that
# user and root can reach the socket -- the same people who can read the data directory anyway.
# pg_hba.conf is rewritten on every start, so a DIR initialised by an older pg.sh (trust over TCP) is
# closed on its next start.
# As root the server runs as the postgres system user (initdb refuses root); DIR's parents must be
# traversable by it, so they are made world-traversable (DIR itself stays 0700).
set -euo pipefail
PGBIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cmd=${1:?start|stop|url}; dir=$(realpath -m "${2:?DIR}"); port=${3:-5432}

as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }

password() {
  if [[ ! -s $dir/roma.password ]]; then
    (umask 077; od -An -N24 -tx1 /dev/urandom | tr -d ' \n' >"$dir/roma.password")
  fi
  chmod 600 "$dir/roma.password"
  tr -d ' \n' <"$dir/roma.password"
}

write_hba() {
  as_pg tee "$dir/data/pg_hba.conf" >/dev/null <<HBA
# written by scripts/pg.sh on every start: the socket (DIR is 0700) trusts, TCP always asks a password
local all all trust
host  all all 127.0.0.1/32 scram-sha-256
host  all all ::1/128      scram-sha-256
HBA
}

case $cmd in
start)
  mkdir -p "$dir"
  # every ancestor must be traversable by the postgres user; DIR itself is private to the server's user
  d=$(dirname "$dir"); while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
  if [[ $(id -u) -eq 0 ]]; then chown postgres:postgres "$dir"; fi
  chmod 700 "$dir"
  pw=$(password)
  if [[ ! -f $dir/data/PG_VERSION ]]; then
    as_pg "$PGBIN/initdb" -D "$dir/data" -U postgres --auth-local=trust --auth-host=scram-sha-256 -E UTF8 \
      --locale=C.UTF-8 >"$dir/initdb.log" 2>&1
  fi
  write_hba
  if ! as_pg "$PGBIN/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=128MB -c password_encryption=scram-sha-256" start >/dev/null
  else
    as_pg "$PGBIN/pg_ctl" -D "$dir/data" reload >/dev/null
  fi
  psql -X -q -h "$dir" -p "$port" -U postgres -d postgres -v ON_ERROR_STOP=1 -v pw="$pw" <<'SQL' >/dev/null
SELECT 'CREATE ROLE roma LOGIN' WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname='roma')\gexec
ALTER ROLE roma LOGIN CREATEDB PASSWORD :'pw';
SELECT 'CREATE DATABASE roma OWNER roma' WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname='roma')\gexec
SQL
  ;;
stop)
  if [[ -f $dir/data/PG_VERSION ]]; then as_pg "$PGBIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true; fi
  ;;
url)
  [[ -s $dir/roma.password ]] || { echo "pg.sh: no $dir/roma.password (start the server first)" >&2; exit 1; }
  echo "postgresql://roma:$(tr -d ' \n' <"$dir/roma.password")@127.0.0.1:$port/roma"
  ;;
*) echo "usage: $0 start|stop|url DIR [PORT]" >&2; exit 1;;
esac
