#!/usr/bin/env bash
# microshop test runner, called by `make test` (after `make all san`).
#
#   tests/run.sh            unit + end-to-end, release and sanitizer builds
#   tests/run.sh unit       unit tests only (build/rel/bin/unit-tests, build/san/bin/unit-tests)
#   tests/run.sh e2e        end-to-end tests only (bin/ and build/san/bin/)
#
# Starts a throwaway PostgreSQL 15 cluster (initdb + pg_ctl as the postgres
# user, in a fresh temp dir) and a Redis without persistence, both on free
# loopback ports; the e2e suite (tests/e2e/run.py) reuses that cluster and
# starts its own Redis, pool, worker and nginx. Everything is stopped by PID on
# exit, also on failure or Ctrl-C. The end-to-end summaries come first; the
# last lines are Check's summaries of the unit tests. Exit status non-zero if
# anything failed. Logs of a failed run are kept (the path is printed).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MODE=${1:-all}
case $MODE in
all | unit | e2e) ;;
*)
    echo "usage: tests/run.sh [unit|e2e]" >&2
    exit 2
    ;;
esac

PG_BIN=/usr/lib/postgresql/15/bin
PY=/usr/bin/python3
for tool in "$PG_BIN/initdb" "$PG_BIN/pg_ctl" redis-server redis-cli runuser "$PY"; do
    command -v "$tool" >/dev/null 2>&1 || {
        echo "tests/run.sh: $tool is missing (make deps)" >&2
        exit 1
    }
done
if [ "$(id -u)" -ne 0 ]; then
    echo "tests/run.sh: must run as root (PostgreSQL is run as the postgres user)" >&2
    exit 1
fi

TMP=$(mktemp -d /tmp/microshop-test.XXXXXX)
chmod 755 "$TMP"
PG_DATA=$TMP/pg/data
PG_LOG=$TMP/pg/postgres.log
REDIS_PID=
CHILD_PID=
FAILED=()

# ---- cleanup: by PID, newest first -------------------------------------------
pg_pids() {
    local pm
    pm=$(head -1 "$PG_DATA/postmaster.pid" 2>/dev/null) || return 0
    [[ $pm =~ ^[0-9]+$ ]] && [ -d "/proc/$pm" ] || return 0
    echo "$pm"
    local todo=("$pm") p c
    while ((${#todo[@]})); do
        p=${todo[-1]}
        unset 'todo[-1]'
        for c in $(cat /proc/"$p"/task/*/children 2>/dev/null); do
            echo "$c"
            todo+=("$c")
        done
    done
}

wait_gone() { # pid timeout_s
    local i
    for ((i = 0; i < $2 * 50; i++)); do
        [ -d "/proc/$1" ] && [ "$(awk '{print $3}' "/proc/$1/stat" 2>/dev/null)" != Z ] || return 0
        sleep 0.02
    done
    return 1
}

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CHILD_PID" ] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null # the e2e runner stops what it started
        wait_gone "$CHILD_PID" 60 || kill -KILL "$CHILD_PID" 2>/dev/null
        wait "$CHILD_PID" 2>/dev/null
    fi
    if [ -n "$REDIS_PID" ] && kill -0 "$REDIS_PID" 2>/dev/null; then
        kill -TERM "$REDIS_PID" 2>/dev/null
        wait_gone "$REDIS_PID" 10 || kill -KILL "$REDIS_PID" 2>/dev/null
        wait "$REDIS_PID" 2>/dev/null
    fi
    local pids
    pids=$(pg_pids)
    if [ -n "$pids" ]; then
        kill -CONT $pids 2>/dev/null # in case a test was interrupted while it had PG stopped
        runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 30 stop >/dev/null 2>&1
        pids=$(pg_pids)
        [ -z "$pids" ] || kill -KILL $pids 2>/dev/null
    fi
    if [ "$rc" -eq 0 ] && [ ${#FAILED[@]} -eq 0 ]; then
        rm -rf "$TMP"
    else
        echo "tests/run.sh: logs kept in $TMP" >&2
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

free_port() {
    "$PY" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# ---- PostgreSQL 15 ---------------------------------------------------------------
PG_PORT=$(free_port)
mkdir -p "$TMP/pg"
chown postgres:postgres "$TMP/pg"
if ! runuser -u postgres -- "$PG_BIN/initdb" -D "$PG_DATA" -A trust -U postgres -E UTF8 \
    --no-locale --no-sync >"$TMP/initdb.log" 2>&1; then
    cat "$TMP/initdb.log" >&2
    echo "tests/run.sh: initdb failed" >&2
    exit 1
fi
cat >>"$PG_DATA/postgresql.conf" <<EOF

# microshop tests
port = $PG_PORT
listen_addresses = '127.0.0.1'
unix_socket_directories = '$TMP/pg'
fsync = off
synchronous_commit = off
full_page_writes = off
timezone = 'UTC'
log_timezone = 'UTC'
max_connections = 200
EOF
if ! runuser -u postgres -- "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t 60 start >/dev/null; then
    tail -20 "$PG_LOG" >&2
    echo "tests/run.sh: PostgreSQL did not start" >&2
    exit 1
fi
PG_URL_BASE="postgresql://postgres@127.0.0.1:$PG_PORT"

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_URL_BASE/postgres" -c "$1" >/dev/null
}

# ---- Redis (for the unit tests; the e2e suite starts its own) ------------------------
REDIS_PORT=$(free_port)
mkdir -p "$TMP/redis"
redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --dir "$TMP/redis" --daemonize no --logfile "$TMP/redis/redis.log" </dev/null &
REDIS_PID=$!
for ((i = 0; i < 500; i++)); do
    [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ] && break
    kill -0 "$REDIS_PID" 2>/dev/null || break
    sleep 0.02
done
if [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" != PONG ]; then
    echo "tests/run.sh: Redis did not start" >&2
    exit 1
fi

# ---- end-to-end ---------------------------------------------------------------------
run_e2e() { # label bindir [extra env...]
    local label=$1 bindir=$2
    shift 2
    echo "== e2e ($label): $bindir"
    env MS_E2E_PGDATA="$PG_DATA" MS_E2E_PGPORT="$PG_PORT" \
        MS_E2E_WORKDIR="$TMP/e2e-$label" "$@" \
        "$PY" "$ROOT/tests/e2e/run.py" "$ROOT/$bindir" &
    CHILD_PID=$!
    wait "$CHILD_PID"
    local rc=$?
    CHILD_PID=
    [ "$rc" -eq 0 ] || FAILED+=("e2e ($label)")
}

if [ "$MODE" != unit ]; then
    run_e2e release bin
    run_e2e sanitizer build/san/bin \
        ASAN_OPTIONS=detect_leaks=1:abort_on_error=0:halt_on_error=1 \
        UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
        LSAN_OPTIONS=exitcode=0
fi

# ---- unit tests (last: Check's summary ends the output) --------------------------------
run_unit() { # label binary [extra env...]
    local label=$1 bin=$2
    shift 2
    echo "== unit ($label): $bin"
    if [ ! -x "$ROOT/$bin" ]; then
        echo "tests/run.sh: $bin is missing (make all san)"
        FAILED+=("unit ($label)")
        return
    fi
    psql_admin "DROP DATABASE IF EXISTS unit WITH (FORCE)" && psql_admin "CREATE DATABASE unit" || {
        FAILED+=("unit ($label): could not create database unit")
        return
    }
    redis-cli -h 127.0.0.1 -p "$REDIS_PORT" flushall >/dev/null
    (cd "$ROOT" && env MS_TEST_DATABASE_URL="$PG_URL_BASE/unit" \
        MS_TEST_REDIS_URL="redis://127.0.0.1:$REDIS_PORT/0" "$@" "$ROOT/$bin")
    [ $? -eq 0 ] || FAILED+=("unit ($label)")
}

if [ "$MODE" != e2e ]; then
    run_unit release build/rel/bin/unit-tests
    run_unit sanitizer build/san/bin/unit-tests CK_FORK=no ASAN_OPTIONS=detect_leaks=1 \
        UBSAN_OPTIONS=print_stacktrace=1
fi

if [ ${#FAILED[@]} -ne 0 ]; then
    echo "tests/run.sh: FAILED: ${FAILED[*]}"
    exit 1
fi
exit 0
