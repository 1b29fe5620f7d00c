#!/usr/bin/env bash
# demo-mariadb.sh: a throwaway MariaDB to point a MYSQL datasource at (README, Datasources).
#   scripts/demo-mariadb.sh start   data in var/mariadb, 127.0.0.1:${DEMO_MARIADB_PORT:-53306},
#                                   database "orders" with table "orders", user app / password s3cret
#   scripts/demo-mariadb.sh stop
# Needs mariadb-server (scripts/install-deps.sh installs it). As root the server runs as user mysql.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
D=$(realpath -m "${DEMO_MARIADB_DIR:-var/mariadb}"); PORT=${DEMO_MARIADB_PORT:-53306}
as_mysql() { if [[ $(id -u) -eq 0 ]]; then runuser -u mysql -- "$@"; else "$@"; fi; }

case ${1:-} in
start)
  mkdir -p "$D"; [[ $(id -u) -eq 0 ]] && chown mysql:mysql "$D"
  d=$D; while [[ $d != / ]]; do chmod o+x "$d" 2>/dev/null || true; d=$(dirname "$d"); done
  if [[ ! -d $D/data/mysql ]]; then
    mariadb-install-db --no-defaults --user=mysql --datadir="$D/data" --skip-test-db \
      --auth-root-authentication-method=socket >"$D/install.log" 2>&1
  fi
  if ! mariadb-admin --no-defaults --socket="$D/mysqld.sock" -uroot ping >/dev/null 2>&1; then
    as_mysql mariadbd --no-defaults --datadir="$D/data" --port="$PORT" --bind-address=127.0.0.1 \
      --socket="$D/mysqld.sock" --pid-file="$D/mysqld.pid" --log-error="$D/error.log" --skip-name-resolve \
      </dev/null >/dev/null 2>&1 &
    for _ in $(seq 100); do
      mariadb-admin --no-defaults --socket="$D/mysqld.sock" -uroot ping >/dev/null 2>&1 && break; sleep 0.1
    done
  fi
  mariadb --no-defaults --socket="$D/mysqld.sock" -uroot -e "
    CREATE DATABASE IF NOT EXISTS orders;
    CREATE TABLE IF NOT EXISTS orders.orders (id INT PRIMARY KEY, amount DECIMAL(10,2), note VARCHAR(200));
    CREATE USER IF NOT EXISTS 'app'@'127.0.0.1' IDENTIFIED BY 's3cret';
    GRANT ALL ON orders.* TO 'app'@'127.0.0.1';"
  echo "MariaDB on 127.0.0.1:$PORT, database orders, user app, password s3cret"
  ;;
stop)
  mariadb-admin --no-defaults --socket="$D/mysqld.sock" -uroot shutdown 2>/dev/null || true
  ;;
*) echo "usage: $0 start|stop" >&2; exit 1;;
esac
