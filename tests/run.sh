#!/usr/bin/env bash
# microshop test runner, called by `make test` (after `make all san`).
#
#   tests/run.sh            unit + end-to-end, release and sanitizer builds
#   tests/run.sh unit       unit tests only (build/rel/bin/unit-tests, build/san/bin/unit-tests)
#   tests/run.sh e2e        end-to-end tests only (bin/ and build/san/bin/)
#
# Starts a throwaway PostgreSQL 15 cluster and a Redis without persistence on
# free loopback ports with tools/up.sh (UP_ONLY_DATA=1, a stand under a fresh
# temp dir: the same orchestrator as make up); the e2e suite (tests/e2e/run.py)
# reuses that cluster and starts its own Redis, pool, worker and nginx.
# tools/down.sh stops them by PID on exit, also on failure or Ctrl-C. The end-to-end summaries come first; the
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
CHILD_PID=
FAILED=()

# ---- helpers -------------------------------------------------------------------
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

# ---- the servers: PostgreSQL and Redis of a stand of tools/up.sh --------------
# The one orchestrator (tools/up.sh, also behind make up) starts them under
# $TMP/stand on free ports; tools/down.sh stops them by PID.
STAND=$TMP/stand
PG_DATA=$STAND/pg/data
stand_env=(VAR_DIR="$STAND" UP_ONLY_DATA=1)

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$CHILD_PID" ] && kill -0 "$CHILD_PID" 2>/dev/null; then
        kill -TERM "$CHILD_PID" 2>/dev/null # the e2e runner stops what it started
        wait_gone "$CHILD_PID" 60 || kill -KILL "$CHILD_PID" 2>/dev/null
        wait "$CHILD_PID" 2>/dev/null
    fi
    # in case a test was interrupted while it had PostgreSQL stopped
    local pids
    pids=$(pg_pids)
    [ -z "$pids" ] || kill -CONT $pids 2>/dev/null
    if [ -d "$STAND" ]; then
        env "${stand_env[@]}" "$ROOT/tools/down.sh" >>"$TMP/stand.log" 2>&1 ||
            echo "tests/run.sh: tools/down.sh failed (see $TMP/stand.log)" >&2
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

PG_PORT=$(free_port)
REDIS_PORT=$(free_port)
if ! env "${stand_env[@]}" PG_PORT="$PG_PORT" REDIS_PORT="$REDIS_PORT" PG_MAX_CONNECTIONS=200 \
    PG_SETTINGS="fsync=off synchronous_commit=off full_page_writes=off" REDIS_APPENDONLY=no \
    "$ROOT/tools/up.sh" >"$TMP/stand.log" 2>&1; then
    cat "$TMP/stand.log" >&2
    echo "tests/run.sh: tools/up.sh could not start PostgreSQL and Redis" >&2
    exit 1
fi
PG_URL_BASE="postgresql://postgres@127.0.0.1:$PG_PORT"

psql_admin() {
    "$PG_BIN/psql" -X -q -v ON_ERROR_STOP=1 -d "$PG_URL_BASE/postgres" -c "$1" >/dev/null
}

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
    (cd "$ROOT" && env MS_TEST_DATABASE_URL="$PG_URL_BASE/unit" MS_TEST_PGDATA="$PG_DATA" \
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
