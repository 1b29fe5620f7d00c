#!/usr/bin/env bash
# run.sh: starts a whole OpenROMA stack on this machine and supervises it (`make run` calls it after the
# build). It starts a throwaway PostgreSQL (unless ROMA_DATABASE_URL is set), creates the data-encryption
# key, migrates, bootstraps a default project/instance/admin user, writes credentials.env, starts the
# broker, the API and the workers, waits for /readyz, prints how to connect, then restarts any process
# that dies (capped exponential backoff, like compose's `restart: unless-stopped`). Ctrl-C or SIGTERM
# stops every process (SIGTERM, then SIGKILL after ROMA_STOP_TIMEOUT s) and PostgreSQL, and exits 0.
#
# Environment (all optional):
#   ROMA_VAR_DIR             state directory: pg/, log/, run/, secret.key, admin.password,
#                            credentials.env                                        (default: <repo>/var)
#   ROMA_BUILD_DIR           build whose bin/ is run                                (default: build/release)
#   ROMA_DATABASE_URL        use this PostgreSQL instead of starting one            (default: unset)
#   ROMA_PG_PORT             port of the throwaway PostgreSQL in $ROMA_VAR_DIR/pg   (default: 54320)
#   ROMA_SECRET_KEY_FILE     64-hex data-encryption key, created 0600 if missing    (default: $ROMA_VAR_DIR/secret.key)
#   ROMA_HTTP_PORT           API port                                               (default: 8080)
#   ROMA_HTTP_LISTEN         API bind address                                       (default: 127.0.0.1)
#   ROMA_BROKER_FRONTEND     broker endpoint for requesters (API)                   (default: tcp://127.0.0.1:5555)
#   ROMA_BROKER_BACKEND      broker endpoint for workers                            (default: tcp://127.0.0.1:5556)
#   ROMA_ASSET_WORKERS       number of roma-asset-worker processes                  (default: 2)
#   ROMA_DATASOURCE_WORKERS  number of roma-datasource-worker processes             (default: 1)
#   ROMA_TOPIC_WORKERS       number of roma-topic-worker processes                  (default: 1)
#   ROMA_READY_TIMEOUT       seconds to wait for GET /readyz                        (default: 60)
#   ROMA_STOP_TIMEOUT        seconds between SIGTERM and SIGKILL on stop            (default: 10)
#   ROMA_BACKOFF_MAX         longest delay before a restart, seconds                (default: 30)
#   ROMA_BACKOFF_RESET       uptime after which the restart delay goes back to 1 s  (default: 60)
# Every other ROMA_* variable (ROMA_LOG_LEVEL, ROMA_HTTP_THREADS, ...) reaches the processes unchanged:
# see each binary's --help-config or the README's configuration tables.
#
# Files: $ROMA_VAR_DIR/log/<name>.log (each process's output, appended), $ROMA_VAR_DIR/run/<name>.pid
# (current pid of each supervised process), $ROMA_VAR_DIR/credentials.env (ROMA_URL, ROMA_PROJECT_ID,
# ROMA_INSTANCE_ID, ROMA_TOKEN, ROMA_AK, ROMA_SK; 0600). The supervisor's own lines (JSON) go to stdout.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

VAR=$(realpath -m "${ROMA_VAR_DIR:-$ROOT/var}")
BIN=$(realpath -m "${ROMA_BUILD_DIR:-build/release}")/bin
PG_PORT=${ROMA_PG_PORT:-54320}
READY_TIMEOUT=${ROMA_READY_TIMEOUT:-60}
STOP_TIMEOUT=${ROMA_STOP_TIMEOUT:-10}
BACKOFF_MAX=${ROMA_BACKOFF_MAX:-30}
BACKOFF_RESET=${ROMA_BACKOFF_RESET:-60}
LOGDIR=$VAR/log
RUNDIR=$VAR/run

export ROMA_HTTP_PORT=${ROMA_HTTP_PORT:-8080}
export ROMA_BROKER_FRONTEND=${ROMA_BROKER_FRONTEND:-tcp://127.0.0.1:5555}
export ROMA_BROKER_BACKEND=${ROMA_BROKER_BACKEND:-tcp://127.0.0.1:5556}
export ROMA_MIGRATIONS_DIR=${ROMA_MIGRATIONS_DIR:-$ROOT/migrations}
export ROMA_SECRET_KEY_FILE=$(realpath -m "${ROMA_SECRET_KEY_FILE:-$VAR/secret.key}")

# ---------------------------------------------------------------------------------------------------
# Logging: one JSON object per line on stdout, shaped like the services' own lines (common/log.c).

json_str() { # JSON-escapes $1 (quotes, backslashes, control characters)
  local s=$1
  s=${s//\\/\\\\}; s=${s//\"/\\\"}; s=${s//$'\n'/\\n}; s=${s//$'\r'/\\r}; s=${s//$'\t'/\\t}
  printf '"%s"' "$s"
}

# jlog LEVEL EVENT MESSAGE [key=value ...]: integer values are written as numbers, others as strings.
jlog() {
  local level=$1 event=$2 msg=$3 ts kv k v line
  shift 3
  local t=$EPOCHREALTIME
  TZ=UTC printf -v ts '%(%Y-%m-%dT%H:%M:%S)T' "${t%[.,]*}"
  ts+=".${t#*[.,]}"; ts=${ts:0:23}Z
  line="{\"ts\":\"$ts\",\"level\":\"$level\",\"svc\":\"run\",\"pid\":$$,\"event\":$(json_str "$event"),\"msg\":$(json_str "$msg")"
  for kv in "$@"; do
    k=${kv%%=*}; v=${kv#*=}
    if [[ $v =~ ^-?[0-9]+$ ]]; then line+=",\"$k\":$v"; else line+=",\"$k\":$(json_str "$v")"; fi
  done
  printf '%s}\n' "$line"
}

die() { jlog error "$1" "$2"; exit 1; }

# ---------------------------------------------------------------------------------------------------
# Process table. Names: broker, api, asset-worker-N, datasource-worker-N, topic-worker-N.

declare -a ORDER=()          # names in start order
declare -A BINARY=()         # name -> binary file name
declare -A PID=()            # name -> running pid ("" while waiting for a restart)
declare -A PID2NAME=()       # pid -> name
declare -A STARTED=()        # name -> epoch seconds of the last start
declare -A DELAY=()          # name -> next restart delay (seconds)
declare -A RESTART_AT=()     # name -> epoch seconds of the pending restart ("" when none)
declare -A RESTARTS=()       # name -> restarts so far
PG_STARTED=0
STOPPING=0
CLEANED=0
# Why the traps below check this: bash forks a child for every `cmd &` and `$(...)`, and a child that
# gets a signal before it has exec'd (or while it runs shell code) still carries this shell's traps. Bash
# 5.2 then runs the inherited EXIT trap in the child: a SIGTERM to a just-forked `sleep` timer used to
# run `cleanup` in that child, which SIGTERMed the whole stack and stopped PostgreSQL, and every later
# timer repeated it (issue 8, finding 3). Only the supervisor itself may act on a trap.
SUPERVISOR_PID=$BASHPID

# start_proc NAME: starts the process in the background with output appended to its log. setpriv's
# --pdeathsig makes the child get SIGTERM if this supervisor is killed outright (SIGKILL), so no
# process outlives it; fd 9 (the var-dir lock) is not inherited.
start_proc() {
  local name=$1 pid
  ROMA_PROCESS_NAME=$name setpriv --pdeathsig TERM -- "$BIN/${BINARY[$name]}" \
    >>"$LOGDIR/$name.log" 2>&1 </dev/null 9>&- &
  pid=$!
  PID[$name]=$pid
  PID2NAME[$pid]=$name
  STARTED[$name]=$EPOCHSECONDS
  RESTART_AT[$name]=""
  echo "$pid" >"$RUNDIR/$name.pid"
}

add_proc() { # add_proc NAME BINARY: registers and starts one supervised process
  ORDER+=("$1"); BINARY[$1]=$2; DELAY[$1]=1; RESTARTS[$1]=0
  start_proc "$1"
  jlog info process.started "started $1" name="$1" pid="${PID[$1]}" log="$LOGDIR/$1.log"
}

now_ms() { local t=${EPOCHREALTIME/[.,]/}; REPLY=$((10#${t:0:${#t}-3})); } # sets REPLY to epoch ms

alive() { [[ -n ${1:-} ]] && kill -0 "$1" 2>/dev/null; }

# stop_group SECONDS NAME...: SIGTERM to every live process named, wait up to SECONDS, then SIGKILL.
stop_group() {
  local timeout=$1 name pid deadline left=() n
  shift
  for name in "$@"; do
    pid=${PID[$name]:-}
    if alive "$pid"; then kill -TERM "$pid" 2>/dev/null || true; left+=("$name"); fi
  done
  now_ms; deadline=$((REPLY + timeout * 1000))
  while ((${#left[@]})); do
    n=()
    for name in "${left[@]}"; do alive "${PID[$name]}" && n+=("$name"); done
    left=("${n[@]}")
    ((${#left[@]})) || break
    now_ms
    if ((REPLY >= deadline || FORCE)); then
      for name in "${left[@]}"; do
        jlog warn process.killed "$name did not stop after SIGTERM: SIGKILL" name="$name" pid="${PID[$name]}"
        kill -KILL "${PID[$name]}" 2>/dev/null || true
      done
      break
    fi
    sleep 0.1
  done
  for name in "$@"; do
    pid=${PID[$name]:-}
    [[ -n $pid ]] || continue
    local rc=0
    wait "$pid" 2>/dev/null || rc=$?
    jlog info process.stopped "stopped $name" name="$name" pid="$pid" exit_code="$rc"
    PID[$name]=""
    rm -f "$RUNDIR/$name.pid"
  done
}

FORCE=0
cleanup() {
  local rc=$?
  [[ $BASHPID == "$SUPERVISOR_PID" ]] || return 0 # a forked child (see SUPERVISOR_PID)
  ((CLEANED)) && return
  CLEANED=1
  # a second Ctrl-C/SIGTERM while stopping skips the grace period
  trap 'FORCE=1' INT TERM
  set +e
  # the ticker: SIGKILL, so even one that has not exec'd `sleep` yet runs no shell code
  [[ -n ${TICKER:-} ]] && kill -KILL "$TICKER" 2>/dev/null
  local front=() back=() name
  for name in "${ORDER[@]}"; do
    if [[ $name == broker ]]; then back+=("$name"); else front+=("$name"); fi
  done
  # API and workers first (they may still talk to the broker while draining), then the broker
  ((${#front[@]})) && stop_group "$STOP_TIMEOUT" "${front[@]}"
  ((${#back[@]})) && stop_group "$STOP_TIMEOUT" "${back[@]}"
  if ((PG_STARTED)); then
    scripts/pg.sh stop "$VAR/pg" 9>&- && jlog info postgres.stopped "PostgreSQL stopped" dir="$VAR/pg"
  fi
  wait 2>/dev/null # leftover timer
  if ((STOPPING)); then rc=0; fi
  jlog info run.exit "supervisor exiting" exit_code="$rc"
  exit "$rc"
}

on_signal() {
  [[ $BASHPID == "$SUPERVISOR_PID" ]] || exit 1 # a forked child (see SUPERVISOR_PID): just die
  STOPPING=1
  jlog info run.stopping "$1 received: stopping every process"
  # outside the supervision loop (setup, readiness wait) nothing would notice the flag: exit now,
  # the EXIT trap stops what was started
  ((SUPERVISING)) || exit 0
}

SUPERVISING=0
trap cleanup EXIT
trap 'on_signal SIGINT' INT
trap 'on_signal SIGTERM' TERM

# ---------------------------------------------------------------------------------------------------
# Setup

mkdir -p "$VAR" "$LOGDIR" "$RUNDIR"
exec 9>"$VAR/run.lock"
flock -n 9 || die run.locked "another run.sh is already using $VAR (lock $VAR/run.lock)"
rm -f "$RUNDIR"/*.pid

[[ -x $BIN/roma-admin ]] || die run.no_admin "$BIN/roma-admin is missing: build first (make MODE=release all)"

if [[ -z ${ROMA_DATABASE_URL:-} ]]; then
  jlog info postgres.starting "starting PostgreSQL in $VAR/pg on port $PG_PORT" dir="$VAR/pg" port="$PG_PORT"
  PG_STARTED=1
  scripts/pg.sh start "$VAR/pg" "$PG_PORT" 9>&- || die postgres.failed "PostgreSQL did not start: see $VAR/pg/server.log"
  ROMA_DATABASE_URL=$(scripts/pg.sh url "$VAR/pg" "$PG_PORT")
fi
export ROMA_DATABASE_URL

# data-encryption key: 32 random bytes as 64 hex characters, readable by the owner only
if [[ ! -s $ROMA_SECRET_KEY_FILE ]]; then
  mkdir -p "$(dirname "$ROMA_SECRET_KEY_FILE")"
  (umask 077; od -An -N32 -tx1 /dev/urandom | tr -d ' \n' >"$ROMA_SECRET_KEY_FILE")
  jlog info secret_key.created "created the data-encryption key" file="$ROMA_SECRET_KEY_FILE"
fi
[[ $(tr -d ' \n' <"$ROMA_SECRET_KEY_FILE") =~ ^[0-9a-fA-F]{64}$ ]] ||
  die secret_key.invalid "$ROMA_SECRET_KEY_FILE must hold exactly 64 hex characters"
chmod 600 "$ROMA_SECRET_KEY_FILE"

admin() { "$BIN/roma-admin" "$@" 9>&-; }

out=$(admin migrate 2>&1 </dev/null) || die migrate.failed "roma-admin migrate failed: $out"
jlog info migrate.done "database migrated"

PWFILE=$VAR/admin.password
if [[ ! -s $PWFILE ]]; then
  (umask 077; { od -An -N16 -tx1 /dev/urandom | tr -d ' \n'; echo; } >"$PWFILE")
fi
chmod 600 "$PWFILE"

# bootstrap reuses the project, instance and user when they exist and issues a fresh token and AK/SK;
# the password goes through stdin (`--password -`) so it never shows in `ps`
errf=$(mktemp)
creds=$(admin bootstrap --project-name default --instance-name default --user-name admin \
          --password - <"$PWFILE" 2>"$errf") || { e=$(<"$errf"); rm -f "$errf"; die bootstrap.failed "roma-admin bootstrap failed: $e"; }
rm -f "$errf"
declare -A C=()
while IFS= read -r line; do
  [[ $line =~ ^(ROMA_[A-Z_]+)=(.*)$ ]] && C[${BASH_REMATCH[1]}]=${BASH_REMATCH[2]}
done <<<"$creds"
for k in ROMA_PROJECT_ID ROMA_INSTANCE_ID ROMA_TOKEN ROMA_AK ROMA_SK; do
  [[ -n ${C[$k]:-} ]] || die bootstrap.output "roma-admin bootstrap printed no $k"
done

host=${ROMA_HTTP_LISTEN:-127.0.0.1}
[[ $host == 0.0.0.0 || $host == '*' || -z $host ]] && host=127.0.0.1
URL="http://$host:$ROMA_HTTP_PORT"
CREDS=$VAR/credentials.env
(
  umask 077
  {
    echo "ROMA_URL=$URL"
    for k in ROMA_PROJECT_ID ROMA_INSTANCE_ID ROMA_TOKEN ROMA_AK ROMA_SK; do echo "$k=${C[$k]}"; done
  } >"$CREDS.tmp"
)
mv -f "$CREDS.tmp" "$CREDS"
chmod 600 "$CREDS"
jlog info credentials.written "credentials written" file="$CREDS"

# ---------------------------------------------------------------------------------------------------
# Processes

want() { # want NAME BINARY [COUNT]: starts COUNT (default 1) copies if the binary exists, warns otherwise
  local name=$1 binary=$2 count=${3:-1} i
  if [[ ! -x $BIN/$binary ]]; then
    ((count == 0)) || jlog warn process.missing "$BIN/$binary is not built (still in development?): not started" binary="$binary"
    return 0
  fi
  if [[ -z ${3:-} ]]; then add_proc "$name" "$binary"; return 0; fi
  for ((i = 1; i <= count; i++)); do add_proc "$name-$i" "$binary"; done
}

want broker roma-broker
want api roma-api
want asset-worker roma-asset-worker "${ROMA_ASSET_WORKERS:-2}"
want datasource-worker roma-datasource-worker "${ROMA_DATASOURCE_WORKERS:-1}"
want topic-worker roma-topic-worker "${ROMA_TOPIC_WORKERS:-1}"

if [[ -n ${PID[api]:-} ]]; then
  deadline=$((EPOCHSECONDS + READY_TIMEOUT))
  until curl -fsS -o /dev/null -m 2 "$URL/readyz" 2>/dev/null; do
    if ! alive "${PID[api]}"; then
      die api.failed "roma-api exited during startup; last lines of $LOGDIR/api.log: $(tail -n 5 "$LOGDIR/api.log")"
    fi
    ((EPOCHSECONDS < deadline)) || die api.not_ready "GET $URL/readyz did not answer 200 within ${READY_TIMEOUT}s: see $LOGDIR/api.log"
    sleep 0.2
  done
  jlog info api.ready "API ready" url="$URL"
fi

cat <<EOF

OpenROMA is running.
  base URL      $URL
  project_id    ${C[ROMA_PROJECT_ID]}
  instance_id   ${C[ROMA_INSTANCE_ID]}
  token         ${C[ROMA_TOKEN]}
  AK / SK       ${C[ROMA_AK]} / ${C[ROMA_SK]}
  credentials   $CREDS   (set -a; . $CREDS; set +a)
  admin user    admin, password in $PWFILE
  logs          $LOGDIR/<name>.log
Press Ctrl-C to stop.

EOF

# ---------------------------------------------------------------------------------------------------
# Supervision: wait for any child; a dead process is restarted after DELAY seconds, DELAY doubling up
# to BACKOFF_MAX and going back to 1 s once the process has stayed up BACKOFF_RESET seconds. A `sleep 1`
# child (the ticker) makes `wait -n` wake up at least once a second, and every wake-up also checks each
# process with kill -0, so a death that `wait -n` does not report (bash drops finished jobs from its job
# table at times) is still seen within a second. The ticker is never killed here, only left to expire:
# killing a child that may not have exec'd yet is what once ran the EXIT trap in it (see SUPERVISOR_PID),
# and a reaped child's pid could belong to another process by the time it is killed.

# on_exit NAME PID RC: records the death of NAME's process PID and schedules its restart
on_exit() {
  local name=$1 pid=$2 rc=$3 up delay how
  unset "PID2NAME[$pid]"
  up=$((EPOCHSECONDS - STARTED[$name]))
  ((up >= BACKOFF_RESET)) && DELAY[$name]=1
  delay=${DELAY[$name]}
  PID[$name]=""
  rm -f "$RUNDIR/$name.pid"
  RESTART_AT[$name]=$((EPOCHSECONDS + delay))
  DELAY[$name]=$((delay * 2 > BACKOFF_MAX ? BACKOFF_MAX : delay * 2))
  if ((rc > 128)); then how="signal $((rc - 128))"; else how="exit code $rc"; fi
  jlog warn process.exited "$name (pid $pid) died with $how after ${up}s; restarting in ${delay}s" \
    name="$name" pid="$pid" exit_code="$rc" uptime_s="$up" restart_in_s="$delay" log="$LOGDIR/$name.log"
}

set +e
SUPERVISING=1
TICKER=""
TICKER_AT=0
while ((!STOPPING)); do
  now=$EPOCHSECONDS
  for name in "${ORDER[@]}"; do
    at=${RESTART_AT[$name]}
    if [[ -n $at ]] && ((at <= now)); then
      start_proc "$name"
      RESTARTS[$name]=$((RESTARTS[$name] + 1))
      jlog info process.restarted "restarted $name" name="$name" pid="${PID[$name]}" restarts="${RESTARTS[$name]}"
    fi
  done
  # one ticker at a time; one whose end `wait -n` never reported is replaced after 3 s
  if [[ -z $TICKER ]] || ((now - TICKER_AT > 3)); then
    sleep 1 9>&- &
    TICKER=$!
    TICKER_AT=$now
  fi

  who=""
  wait -n -p who 2>/dev/null
  rc=$?
  ((STOPPING)) && break
  if [[ -n $who ]]; then
    if [[ $who == "$TICKER" ]]; then
      TICKER=""
    else # a supervised process (or a late old ticker: not in PID2NAME, ignored)
      name=${PID2NAME[$who]:-}
      [[ -n $name && ${PID[$name]} == "$who" ]] && on_exit "$name" "$who" "$rc"
    fi
  elif ((rc == 127)); then
    sleep 1 # nothing left to wait for (cannot happen while a ticker runs; never spin)
  fi
  for name in "${ORDER[@]}"; do
    pid=${PID[$name]}
    if [[ -n $pid ]] && ! alive "$pid"; then
      wait "$pid" 2>/dev/null # its status if bash still has it, else 127
      on_exit "$name" "$pid" "$?"
    fi
  done
done
exit 0
