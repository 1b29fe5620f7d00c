#!/bin/sh
# postgres-entrypoint.sh: entry point of the "postgres" stage of deploy/Dockerfile (PostgreSQL 15 from
# Debian's postgresql-15). Takes the settings of the registry image postgres:15 that docker-compose.yml
# uses: POSTGRES_USER (superuser, default postgres), POSTGRES_PASSWORD (required), POSTGRES_DB (default
# the user's name), data in PGDATA. On an empty PGDATA it runs initdb with password authentication
# (scram-sha-256) for every TCP client and trust only on the container's own Unix socket, creates the
# database, then runs the command as the user "postgres".
set -eu
: "${PGDATA:=/var/lib/postgresql/data}"
user=${POSTGRES_USER:-postgres}
db=${POSTGRES_DB:-$user}
if [ "$(id -u)" = 0 ]; then
  mkdir -p "$PGDATA" /run/postgresql
  chown postgres:postgres "$PGDATA" /run/postgresql
  chmod 700 "$PGDATA"
  exec setpriv --reuid=postgres --regid=postgres --init-groups -- "$0" "$@"
fi
if [ ! -s "$PGDATA/PG_VERSION" ]; then
  if [ -z "${POSTGRES_PASSWORD:-}" ]; then
    echo "postgres-entrypoint: POSTGRES_PASSWORD is required" >&2
    exit 1
  fi
  pwfile=$(mktemp)
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  initdb -D "$PGDATA" -U "$user" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm -f "$pwfile"
  echo "host all all all scram-sha-256" >>"$PGDATA/pg_hba.conf"
  cat >>"$PGDATA/postgresql.conf" <<CONF
listen_addresses = '*'
unix_socket_directories = '/run/postgresql'
password_encryption = scram-sha-256
CONF
  if [ "$db" != postgres ]; then
    echo "CREATE DATABASE \"$db\" OWNER \"$user\";" | postgres --single -D "$PGDATA" postgres >/dev/null
  fi
  echo "postgres-entrypoint: initialised $PGDATA (database $db, user $user)" >&2
fi
exec "$@"
