#!/usr/bin/env bash
# Stop what tools/up.sh started (`make down`), by the PIDs in var/run/*.pid:
# nginx, every service's worker and pool (built or not: a pool whose binary
# was removed since is stopped too), Redis (SIGTERM, a deadline, then SIGKILL to
# the process group each was started in), then PostgreSQL with
# `pg_ctl stop -m fast`. Never signals a process by name, nor one whose
# /proc/PID/cmdline is not the expected program (a stale pid file is removed).
# Data stays in var/.
#
#   tools/down.sh           stop
#   tools/down.sh --purge   stop, then delete var/ (databases, Redis data, secrets, certificate)
#
# Deadlines: SHUTDOWN_TIMEOUT_MS + 5 s for the pools [15 s], 10 s for the rest.
set -euo pipefail

MICROSHOP_UP_LIB=1
PROG=down
# shellcheck source=tools/up.sh
. "$(dirname "${BASH_SOURCE[0]}")/up.sh"
UP_ONLY_INFRA=0 # stop every component, whatever mode started them

PURGE=0
case ${1:-} in
--purge) PURGE=1 ;;
"") ;;
*) die "usage: tools/down.sh [--purge]" ;;
esac

# True while a process of group $1 other than a zombie exists.
group_alive() {
    local pg=$1 f s state pgrp
    for f in /proc/[0-9]*/stat; do
        read -r s 2>/dev/null <"$f" || continue
        # "pid (comm) state ppid pgrp …"; comm may hold spaces and parentheses
        read -r state _ pgrp _ <<<"${s##*) }"
        [ "$state" != Z ] && [ "$pgrp" = "$pg" ] && return 0
    done
    return 1
}

# Stop component $1 within $2 seconds. Processes started by up.sh lead their
# own process group (setsid; nginx daemonizes likewise), so the pool's or
# nginx's workers are waited for, and killed, with it.
stop_component() {
    local name=$1 timeout=$2 f=$RUN/$1.pid pid pgid deadline
    if ! pid=$(running_pid "$name"); then
        if [ -e "$f" ]; then clear_stale "$name"; else say "$name is not running"; fi
        return 0
    fi
    pgid=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$pid/stat" 2>/dev/null || true)
    [ "$pgid" = "$pid" ] || pgid="" # not a group leader: signal the PID alone

    kill -TERM "$pid" 2>/dev/null || true
    gone_within "$timeout" stopped && return 0
    warn "$name (pid $pid) still running after ${timeout}s: SIGKILL"
    if [ -n "$pgid" ]; then kill -KILL -- "-$pgid" 2>/dev/null || true; else kill -KILL "$pid" 2>/dev/null || true; fi
    gone_within 5 killed && return 0
    warn "$name (pid $pid) survived SIGKILL"
    return 1
}

# Wait up to $1 s for stop_component's process (and its group) to be gone;
# then forget its pid file and say "$2 <name>". Uses the caller's locals.
gone_within() {
    local deadline=$((SECONDS + $1))
    while ((SECONDS < deadline)); do
        if ! pid_is "$pid" "$name" && { [ -z "$pgid" ] || ! group_alive "$pgid"; }; then
            rm -f "$f"
            say "$2 $name (pid $pid)"
            return 0
        fi
        sleep 0.1
    done
    return 1
}

stop_postgres() {
    local pid
    if ! pid=$(running_pid postgres); then
        say "postgres is not running"
        rm -f "$RUN/postgres.pid"
        return 0
    fi
    if as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 -s stop; then
        rm -f "$RUN/postgres.pid"
        say "stopped postgres (pid $pid)"
        return 0
    fi
    log_tail "$LOG/postgres.log"
    warn "pg_ctl stop failed; the cluster (pid $pid) is still running"
    return 1
}

main_down() {
    local names=() i name svc pool_timeout failed=0
    [ -d "$VAR" ] || {
        say "nothing to stop (no ${VAR#"$ROOT"/}/)"
        return 0
    }
    exec 9>"$VAR/.lock"
    flock -w 30 9 || die "another tools/up.sh or tools/down.sh is running"

    pool_timeout=$(((${SHUTDOWN_TIMEOUT_MS:-10000} + 999) / 1000 + 5))
    read -ra names <<<"$(components all | tr '\n' ' ')"
    for ((i = ${#names[@]} - 1; i >= 0; i--)); do
        name=${names[i]}
        # a service that was never built nor started: nothing to say
        if [[ $name == *-fcgi || $name == *-worker ]] && [ ! -e "$RUN/$name.pid" ] &&
            [ ! -x "$BIN_DIR/$name" ]; then
            continue
        fi
        case $name in
        postgres) stop_postgres || failed=1 ;;
        *-fcgi)
            stop_component "$name" "$pool_timeout" || failed=1
            svc=${name%-fcgi}
            [ -e "$RUN/$name.pid" ] || rm -f "$RUN/$svc.sock"
            ;;
        *-worker) stop_component "$name" "$pool_timeout" || failed=1 ;;
        *) stop_component "$name" 10 || failed=1 ;;
        esac
    done
    ((failed == 0)) || die "some processes did not stop (see above)"
    rm -f "$STAND" # microshopctl no longer finds a stand to use

    if ((PURGE)); then
        [ -n "$ROOT" ] && [ "$VAR" = "$ROOT/var" ] || die "refusing to purge '$VAR'"
        exec 9>&-
        rm -rf -- "$VAR"
        say "purged ${VAR#"$ROOT"/}/"
    fi
}

main_down
