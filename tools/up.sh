#!/usr/bin/env bash
# Start microshop on this machine, everything under var/ (SPEC §1 "Local run"):
# a PostgreSQL 15 cluster, Redis 7, a self-signed certificate, every service's
# FastCGI pool (spawn-fcgi) and worker, and nginx. Called by `make up` after
# `make all`; `make down` (tools/down.sh) stops exactly what this started.
#
#   tools/up.sh            start what is not running, report what already is
#   tools/up.sh --status   print what is running (exit 0 if everything is, else 3)
#
# Idempotent: a component whose pid file names a live process running the
# expected program (checked in /proc/PID/cmdline, so a reused PID is not
# mistaken for it) is left alone. nginx's configuration is rendered on every
# run and reloaded when it changed (e.g. RATE_LIMIT=off on a running system).
#
# Environment only (no .env file is read); defaults in brackets:
#   PG_PORT [5433]  REDIS_PORT [6380]  HTTP_PORT [8080]  HTTPS_PORT [8443; empty: no TLS]
#   LISTEN_ADDR [127.0.0.1]  RATE_LIMIT [on|off]  RATE_LIMIT_AUTH [10r/s]  RATE_LIMIT_API [100r/s]
#   ACCESS_LOG [on|off]  WORKERS [4 x cores, at most 256]  PG_MAX_CONNECTIONS [max(100, 5 x WORKERS + 50)]
#   JWT_SECRET / JWT_REFRESH_SECRET [random, generated once into var/secrets.env]
#   SEED_PRODUCTS [200; a demo catalogue when the product database is empty, 0: none]
#   BIN_DIR [bin]  UP_ONLY_INFRA=1 (PostgreSQL, Redis, TLS, nginx only: no pools, no workers)
#   UP_ONLY_DATA=1 (PostgreSQL and Redis only, no databases: what tests/run.sh shares)
#   VAR_DIR [var]  another stand (the tests run theirs under a temporary directory)
#   PG_SETTINGS ["": extra "name=value" settings, e.g. fsync=off]  REDIS_APPENDONLY [yes|no]
#   PG_URL (postgresql://user@host:port: use that server, start none)  DB_PREFIX [microshop_]
#   REDIS_URL (redis://host:port/0: use that server, start none)
#   SERVICES_ONLY (a subset of services.list)  UP_NO_WORKERS=1  UP_NO_MIGRATE=1
#   UP_ONLY ("redis user-fcgi …": start only these components, the rest must run)
# A service other than user whose bin/<svc>-fcgi is not built is skipped with a
# note (its routes answer 503 through nginx); its worker is started when
# bin/<svc>-worker is built.
# Every other service variable (LOG_LEVEL, BCRYPT_COST, JWT_EXPIRES_IN, …, see
# fcgi-apps/<service>/.env.example) is passed through to the services as it is.
#
# Layout: var/pg/data (cluster, owned by postgres), var/pg/run (its socket),
# var/redis (redis.conf, AOF), var/tls (server.crt, server.key), var/run
# (<name>.pid, <service>.sock, nginx.conf, nginx temp dirs), var/log (<name>.log),
# var/secrets.env, var/stand.env (how to reach this stand: read by bin/microshopctl
# when the environment does not say).
#
# tools/down.sh sources this file for the same definitions (MICROSHOP_UP_LIB=1).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VAR=${VAR_DIR:-$ROOT/var}
RUN=$VAR/run
LOG=$VAR/log
PG_DIR=$VAR/pg
PG_DATA=$PG_DIR/data
PG_SOCK=$PG_DIR/run
PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
REDIS_DIR=$VAR/redis
TLS_DIR=$VAR/tls
SECRETS=$VAR/secrets.env
STAND=$VAR/stand.env
BIN_DIR=${BIN_DIR:-$ROOT/bin}

# Services in start order, from services.list; each has bin/<svc>-fcgi (pool
# on var/run/<svc>.sock, reached by nginx as UPSTREAM_<SVC>), bin/<svc>-worker
# and the database microshop_<svc>. The first must be built (it renders the
# 404s); the others are started when they are.
mapfile -t SERVICES < <(sed -e 's/#.*//' "$ROOT/services.list" | awk 'NF { print $1 }')
if [ -n "${SERVICES_ONLY:-}" ]; then
    mapfile -t SERVICES < <(for s in "${SERVICES[@]}"; do
        [[ " $SERVICES_ONLY " == *" $s "* ]] && echo "$s"
    done)
fi
((${#SERVICES[@]} > 0)) || {
    echo "up: services.list names no service" >&2
    exit 1
}
REQUIRED_SERVICES=("${SERVICES[0]}")
DB_PREFIX=${DB_PREFIX:-microshop_}
[[ $DB_PREFIX =~ ^[a-z_][a-z0-9_]*$ ]] || {
    echo "up: DB_PREFIX must be lower-case letters, digits and _" >&2
    exit 1
}
DATABASES=()
for s in "${SERVICES[@]}"; do DATABASES+=("$DB_PREFIX$s"); done
# A PostgreSQL or a Redis of someone else's (PG_URL, REDIS_URL): used, never
# started or stopped here.
PG_EXTERNAL=0
[ -z "${PG_URL:-}" ] || PG_EXTERNAL=1
REDIS_EXTERNAL=0
[ -z "${REDIS_URL:-}" ] || REDIS_EXTERNAL=1

PG_PORT=${PG_PORT:-5433}
REDIS_PORT=${REDIS_PORT:-6380}
HTTP_PORT=${HTTP_PORT:-8080}
HTTPS_PORT=${HTTPS_PORT-8443}
UP_ONLY_INFRA=${UP_ONLY_INFRA:-0}
UP_ONLY_DATA=${UP_ONLY_DATA:-0}
[ "$UP_ONLY_DATA" != 1 ] || UP_ONLY_INFRA=1

# PostgreSQL refuses to run as root: as root, the cluster belongs to postgres.
if [ "$(id -u)" -eq 0 ]; then PG_OS_USER=postgres; else PG_OS_USER=$(id -un); fi

say() { echo "${PROG:-up}: $*"; }
warn() { echo "${PROG:-up}: $*" >&2; }
die() {
    echo "${PROG:-up}: $*" >&2
    [ "${STARTING:-0}" = 0 ] ||
        echo "${PROG:-up}: what did start keeps running (tools/up.sh --status); make down stops it" >&2
    exit 1
}

as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u "$PG_OS_USER" -- "$@"; else "$@"; fi
}

# Last lines of a log, indented, for failure reports.
log_tail() {
    local f=$1
    if [ -s "$f" ]; then
        echo "---- last lines of ${f#"$ROOT"/} ----" >&2
        tail -n "${2:-25}" "$f" | sed 's/^/    /' >&2
    fi
}

# True if pid is alive (not a zombie) and runs the program of component $2,
# judged by its /proc/PID/cmdline (argv[0], and the data dir or config file
# where several instances may exist).
pid_is() {
    local pid=$1 name=$2 cmd argv0 state
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    state=$(awk '{ sub(/.*\) /, ""); print $1 }' "/proc/$pid/stat" 2>/dev/null) || return 1
    [ -n "$state" ] && [ "$state" != Z ] || return 1
    cmd=$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null) || return 1
    argv0=$(tr '\0' '\n' <"/proc/$pid/cmdline" 2>/dev/null | head -n 1)
    case $name in
    postgres) [[ ${argv0##*/} == postgres* && $cmd == *" -D $PG_DATA "* ]] ;;
    redis) [[ ${argv0##*/} == redis-server* ]] ;;
    nginx) [[ $argv0 == "nginx: master process"* && $cmd == *" -c $RUN/nginx.conf "* ]] ;;
    # <svc>-fcgi, <svc>-worker; a changed process title keeps the name first.
    *) [[ ${argv0##*/} == "$name"* ]] ;;
    esac
}

# PID of a running component (from var/run/<name>.pid; PostgreSQL's own
# postmaster.pid for the cluster), or nothing.
running_pid() {
    local f=$RUN/$1.pid pid
    [ "$1" != postgres ] || f=$PG_DATA/postmaster.pid
    [ -r "$f" ] || return 1
    read -r pid <"$f" 2>/dev/null || return 1
    pid_is "$pid" "$1" || return 1
    echo "$pid"
}

# Remove a pid file that names no live process of this component.
clear_stale() {
    local f=$RUN/$1.pid pid=""
    [ -e "$f" ] || return 0
    read -r pid <"$f" 2>/dev/null || true
    say "removing stale ${f#"$ROOT"/} (pid ${pid:-?} is not $1)"
    rm -f "$f"
}

is_required() {
    local r
    for r in "${REQUIRED_SERVICES[@]}"; do [ "$r" = "$1" ] && return 0; done
    return 1
}

# Services whose pool is built (a required one always counts: check_prereqs
# refuses to go on without it).
built_services() {
    local s
    for s in "${SERVICES[@]}"; do
        if is_required "$s" || [ -x "$BIN_DIR/$s-fcgi" ]; then echo "$s"; fi
    done
}

# Services left out because their pool is not built.
unbuilt_services() {
    local s
    for s in "${SERVICES[@]}"; do
        is_required "$s" || [ -x "$BIN_DIR/$s-fcgi" ] || echo "$s"
    done
}

# True if service $1 has a worker to start.
has_worker() {
    [ "${UP_NO_WORKERS:-0}" != 1 ] || return 1
    is_required "$1" || [ -x "$BIN_DIR/$1-worker" ]
}

# The URL of the PostgreSQL server (no database), and of a service's database.
pg_base() {
    if [ "$PG_EXTERNAL" = 1 ]; then echo "${PG_URL%/}"; else echo "postgresql://postgres@127.0.0.1:$(pg_port)"; fi
}
db_url() {
    echo "$(pg_base)/$DB_PREFIX$1"
}
redis_url() {
    if [ "$REDIS_EXTERNAL" = 1 ]; then echo "$REDIS_URL"; else echo "redis://127.0.0.1:$(redis_port)/0"; fi
}

# True unless UP_ONLY is set and does not name component $1.
wanted() {
    [ -z "${UP_ONLY:-}" ] || [[ " $UP_ONLY " == *" $1 "* ]]
}

# Components in start order (down.sh stops them in reverse). "all": every
# service's pool and worker, built or not (what to stop); "built": only what
# is built (what to start and expect running).
components() {
    local s
    [ "$PG_EXTERNAL" = 1 ] || echo postgres
    [ "$REDIS_EXTERNAL" = 1 ] || echo redis
    [ "$UP_ONLY_DATA" != 1 ] || return 0
    if [ "$UP_ONLY_INFRA" != 1 ]; then
        if [ "${1:-}" = all ]; then
            for s in "${SERVICES[@]}"; do echo "$s-fcgi $s-worker"; done
        else
            for s in $(built_services); do
                echo "$s-fcgi"
                if has_worker "$s"; then echo "$s-worker"; fi
            done
        fi
    fi
    echo nginx
}

# Effective PostgreSQL port: the running cluster's, else PG_PORT.
pg_port() {
    local port
    if [ "$PG_EXTERNAL" = 1 ]; then
        port=${PG_URL##*:}
        echo "${port%%/*}"
        return
    fi
    if [ -r "$PG_DATA/postmaster.pid" ] && running_pid postgres >/dev/null; then
        port=$(sed -n 4p "$PG_DATA/postmaster.pid" 2>/dev/null)
        [[ $port =~ ^[0-9]+$ ]] && { echo "$port"; return; }
    fi
    echo "$PG_PORT"
}

# Effective Redis port: the running server's (its generated config), else REDIS_PORT.
redis_port() {
    local port
    if [ "$REDIS_EXTERNAL" = 1 ]; then
        port=${REDIS_URL#redis://}
        port=${port%%/*}
        echo "${port##*:}"
        return
    fi
    if running_pid redis >/dev/null && [ -r "$REDIS_DIR/redis.conf" ]; then
        port=$(awk '$1 == "port" { print $2 }' "$REDIS_DIR/redis.conf")
        [[ $port =~ ^[0-9]+$ ]] && { echo "$port"; return; }
    fi
    echo "$REDIS_PORT"
}

# First listen address, as a URL host (for the readiness checks).
probe_host() {
    local a
    read -r a _ <<<"${LISTEN_ADDR:-127.0.0.1}"
    case $a in
    '*' | 0.0.0.0) echo 127.0.0.1 ;;
    '[::]' | ::) echo '[::1]' ;;
    *:*) [[ $a == \[* ]] && echo "$a" || echo "[$a]" ;;
    *) echo "$a" ;;
    esac
}

status() {
    local name pid rc=0 f svc
    for name in $(components built); do
        if pid=$(running_pid "$name"); then
            case $name in
            postgres) f=" 127.0.0.1:$(pg_port)" ;;
            redis) f=" 127.0.0.1:$(redis_port)" ;;
            *-fcgi) f=" ${RUN#"$ROOT"/}/${name%-fcgi}.sock" ;;
            *) f="" ;;
            esac
            printf '%-20s running  pid %-8s%s\n' "$name" "$pid" "$f"
        else
            [ -e "$RUN/$name.pid" ] && f=" (stale pid file)" || f=""
            printf '%-20s stopped%s\n' "$name" "$f"
            rc=3
        fi
    done
    if [ "$UP_ONLY_INFRA" != 1 ]; then
        for svc in $(unbuilt_services); do
            printf '%-20s not built (%s), skipped\n' "$svc-fcgi" "${BIN_DIR#"$ROOT"/}/$svc-fcgi"
        done
    fi
    return $rc
}

if [ "${MICROSHOP_UP_LIB:-0}" = 1 ]; then
    return 0 # sourced by tools/down.sh for the definitions above
fi

############################################################################
# Starting

# Close every descriptor above 2 in this (sub)shell, so that daemons keep
# neither our lock nor a pipe of whoever ran us (a CI step would wait for it).
close_fds() {
    local fd
    for fd in /proc/$BASHPID/fd/*; do
        fd=${fd##*/}
        if ((fd > 2)); then eval "exec $fd>&-"; fi
    done
}

# Run "$@" in the background in its own session (so that it survives this
# shell and its process group can be signalled as one), output to
# var/log/<name>.log, PID to var/run/<name>.pid. Every program in the chain
# (subshell, setsid, env, spawn-fcgi -n) execs the next, so $! is the final PID.
start_bg() {
    local name=$1
    shift
    (
        close_fds
        exec setsid "$@" </dev/null >>"$LOG/$name.log" 2>&1
    ) &
    echo $! >"$RUN/$name.pid"
}

# Poll until "$@" succeeds or $timeout seconds pass; fails early when the
# process $pid (if given) dies.
wait_for() {
    local timeout=$1 pid=$2 name=$3
    shift 3
    local deadline=$((SECONDS + timeout))
    while ((SECONDS < deadline)); do
        "$@" >/dev/null 2>&1 && return 0
        if [ -n "$pid" ] && ! pid_is "$pid" "$name"; then
            sleep 0.2 # let the program finish exec'ing before judging
            pid_is "$pid" "$name" || return 1
        fi
        sleep 0.1
    done
    "$@" >/dev/null 2>&1
}

# Fail clearly when a TCP port we are about to listen on is taken.
port_free() {
    local port=$1 what=$2
    if ss -Hltn "sport = :$port" 2>/dev/null | grep -q .; then
        die "port $port ($what) is already in use by another program; set $what to a free port"
    fi
}

# Before starting anything: the ports of what is not running yet must be free.
check_ports() {
    [ "$PG_EXTERNAL" = 1 ] || running_pid postgres >/dev/null || port_free "$PG_PORT" PG_PORT
    [ "$REDIS_EXTERNAL" = 1 ] || running_pid redis >/dev/null || port_free "$REDIS_PORT" REDIS_PORT
    if [ "$UP_ONLY_DATA" != 1 ] && ! running_pid nginx >/dev/null; then
        port_free "$HTTP_PORT" HTTP_PORT
        [ -z "$HTTPS_PORT" ] || port_free "$HTTPS_PORT" HTTPS_PORT
    fi
    return 0
}

check_number() {
    [[ $2 =~ ^[0-9]+$ ]] && (($2 >= ${3:-1} && $2 <= ${4:-65535})) || die "$1 must be a number from ${3:-1} to ${4:-65535} (got '$2')"
}

check_prereqs() {
    local t missing=()
    case $ROOT in
    *[!A-Za-z0-9._/+-]*) die "the checkout path '$ROOT' must contain only [A-Za-z0-9._/+-] (it goes unquoted into nginx and PostgreSQL options)" ;;
    esac
    local tools=("$PG_BIN/initdb" "$PG_BIN/pg_ctl" "$PG_BIN/pg_isready" "$PG_BIN/psql"
        "$PG_BIN/createdb" redis-server redis-cli ss setsid flock)
    [ "$UP_ONLY_DATA" = 1 ] || tools+=(nginx spawn-fcgi openssl curl)
    for t in "${tools[@]}"; do
        command -v "$t" >/dev/null 2>&1 || missing+=("$t")
    done
    ((${#missing[@]} == 0)) || die "missing programs: ${missing[*]} (run: make deps)"
    check_number PG_PORT "$PG_PORT" 1024
    check_number REDIS_PORT "$REDIS_PORT" 1024
    if [ "$UP_ONLY_DATA" != 1 ]; then
        check_number HTTP_PORT "$HTTP_PORT"
        [ -z "$HTTPS_PORT" ] || check_number HTTPS_PORT "$HTTPS_PORT"
    fi
    check_number WORKERS "$WORKERS" 1 256
    check_number PG_MAX_CONNECTIONS "$PG_MAX_CONNECTIONS" 20 10000
    [ "$UP_ONLY_INFRA" = 1 ] && return 0
    missing=()
    for t in "${REQUIRED_SERVICES[@]}"; do
        [ -x "$BIN_DIR/$t-fcgi" ] || missing+=("${BIN_DIR#"$ROOT"/}/$t-fcgi")
        [ -x "$BIN_DIR/$t-worker" ] || missing+=("${BIN_DIR#"$ROOT"/}/$t-worker")
    done
    [ -x "$BIN_DIR/microshopctl" ] || missing+=("${BIN_DIR#"$ROOT"/}/microshopctl")
    ((${#missing[@]} == 0)) || die "not built: ${missing[*]} (run: make all, or make up which builds first)"
}

make_dirs() {
    mkdir -p "$RUN" "$LOG" "$REDIS_DIR" "$TLS_DIR" "$PG_DIR"
    # PostgreSQL runs as $PG_OS_USER and must reach var/pg.
    chmod 755 "$VAR" "$PG_DIR"
    chmod 700 "$TLS_DIR"
}

# JWT secrets: from the environment, else generated once into var/secrets.env
# (mode 600) so that tokens survive restarts.
load_secrets() {
    local k v tmp
    if [ ! -s "$SECRETS" ]; then
        tmp=$(mktemp "$VAR/.secrets.XXXXXX")
        chmod 600 "$tmp"
        printf 'JWT_SECRET=%s\nJWT_REFRESH_SECRET=%s\n' "$(openssl rand -hex 48)" \
            "$(openssl rand -hex 48)" >"$tmp"
        mv "$tmp" "$SECRETS"
        say "generated JWT secrets into ${SECRETS#"$ROOT"/}"
    fi
    chmod 600 "$SECRETS"
    while IFS='=' read -r k v; do
        case $k in
        JWT_SECRET) [ -n "${JWT_SECRET:-}" ] || export JWT_SECRET=$v ;;
        JWT_REFRESH_SECRET) [ -n "${JWT_REFRESH_SECRET:-}" ] || export JWT_REFRESH_SECRET=$v ;;
        esac
    done <"$SECRETS"
    [ -n "${JWT_SECRET:-}" ] && [ -n "${JWT_REFRESH_SECRET:-}" ] ||
        die "${SECRETS#"$ROOT"/} lacks JWT_SECRET or JWT_REFRESH_SECRET (delete it to regenerate)"
}

# The cluster's settings in a file of its own that postgresql.conf includes:
# a restart by pg_ctl alone (an operator's, a test's) keeps the port.
write_pg_settings() {
    local conf=$PG_DATA/postgresql.conf kv tmp
    tmp=$(mktemp "$PG_DATA/.microshop.conf.XXXXXX")
    {
        echo "# Written by tools/up.sh on every start; edits are lost."
        echo "listen_addresses = '127.0.0.1'"
        echo "port = $PG_PORT"
        echo "unix_socket_directories = '$PG_SOCK'"
        echo "max_connections = $PG_MAX_CONNECTIONS"
        echo "timezone = 'UTC'"
        echo "log_timezone = 'UTC'"
        for kv in ${PG_SETTINGS:-}; do
            [[ $kv =~ ^[a-z_]+=[A-Za-z0-9_.-]+$ ]] || die "PG_SETTINGS: '$kv' is not name=value"
            echo "${kv%%=*} = '${kv#*=}'"
        done
    } >"$tmp"
    chmod 644 "$tmp"
    mv "$tmp" "$PG_DATA/microshop.conf"
    grep -q "^include_if_exists = 'microshop.conf'" "$conf" ||
        printf "\n# microshop: tools/up.sh's settings\ninclude_if_exists = 'microshop.conf'\n" >>"$conf"
    [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$PG_DATA/microshop.conf"
}

start_postgres() {
    local pid port
    [ "$PG_EXTERNAL" != 1 ] || return 0
    if pid=$(running_pid postgres); then
        port=$(pg_port)
        echo "$pid" >"$RUN/postgres.pid"
        say "postgres already running (pid $pid, 127.0.0.1:$port)"
        [ "$port" = "$PG_PORT" ] || warn "note: PG_PORT=$PG_PORT ignored, the running cluster listens on $port"
        return 0
    fi
    clear_stale postgres
    if [ ! -s "$PG_DATA/PG_VERSION" ]; then
        [ "$(id -u)" -ne 0 ] || chown "$PG_OS_USER:" "$PG_DIR"
        as_pg test -w "$PG_DIR" ||
            die "$PG_OS_USER cannot write $PG_DIR: make the directories above it traversable (chmod o+x) or move the checkout"
        say "creating the PostgreSQL cluster in ${PG_DATA#"$ROOT"/}"
        # --auth=trust: any local user may connect as any role, over the unix
        # socket and 127.0.0.1. Acceptable for this loopback-only development
        # cluster; production uses its own server with passwords or certificates.
        as_pg "$PG_BIN/initdb" -D "$PG_DATA" --auth=trust --username=postgres \
            --encoding=UTF8 --locale=C.UTF-8 >>"$LOG/postgres.log" 2>&1 || {
            log_tail "$LOG/postgres.log"
            die "initdb failed"
        }
    fi
    mkdir -p "$PG_SOCK"
    write_pg_settings
    touch "$LOG/postgres.log"
    if [ "$(id -u)" -eq 0 ]; then
        chown "$PG_OS_USER:" "$PG_DIR" "$PG_SOCK" "$LOG/postgres.log"
        chmod 640 "$LOG/postgres.log"
    fi
    (
        close_fds
        exec </dev/null
        as_pg "$PG_BIN/pg_ctl" -D "$PG_DATA" -l "$LOG/postgres.log" -w -t 60 -s start
    ) || {
        log_tail "$LOG/postgres.log"
        die "PostgreSQL did not start"
    }
    head -n 1 "$PG_DATA/postmaster.pid" >"$RUN/postgres.pid"
    wait_for 30 "" postgres "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -t 1 || {
        log_tail "$LOG/postgres.log"
        die "PostgreSQL does not answer on 127.0.0.1:$PG_PORT"
    }
    say "started postgres (pid $(cat "$RUN/postgres.pid"), 127.0.0.1:$PG_PORT)"
}

create_databases() {
    local db have
    have=$("$PG_BIN/psql" -d "$(pg_base)/postgres" -XAtqc "SELECT datname FROM pg_database") ||
        die "cannot list databases on $(pg_base)"
    for db in "${DATABASES[@]}"; do
        grep -qx "$db" <<<"$have" && continue
        "$PG_BIN/psql" -d "$(pg_base)/postgres" -XAtqc "CREATE DATABASE $db" >/dev/null ||
            die "CREATE DATABASE $db failed"
        say "created database $db"
    done
}

start_redis() {
    local pid
    [ "$REDIS_EXTERNAL" != 1 ] || return 0
    if pid=$(running_pid redis); then
        say "redis already running (pid $pid, 127.0.0.1:$(redis_port))"
        [ "$(redis_port)" = "$REDIS_PORT" ] ||
            warn "note: REDIS_PORT=$REDIS_PORT ignored, the running server listens on $(redis_port)"
        return 0
    fi
    clear_stale redis
    cat >"$REDIS_DIR/redis.conf" <<EOF
# Generated by tools/up.sh on every start of Redis; edits are lost.
bind 127.0.0.1
protected-mode yes
port $REDIS_PORT
daemonize no
supervised no
pidfile $RUN/redis.pid
logfile ""
dir $REDIS_DIR
$(if [ "${REDIS_APPENDONLY:-yes}" = no ]; then
        printf 'appendonly no\nsave ""\n'
    else
        printf 'appendonly yes\nappendfsync everysec\nsave 3600 1 300 100 60 10000\n'
    fi)
EOF
    start_bg redis redis-server "$REDIS_DIR/redis.conf"
    pid=$(cat "$RUN/redis.pid")
    wait_for 15 "$pid" redis redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping || {
        log_tail "$LOG/redis.log"
        die "Redis did not start on 127.0.0.1:$REDIS_PORT"
    }
    # Redis rewrote the pid file itself; make sure it still names our process.
    echo "$pid" >"$RUN/redis.pid"
    say "started redis (pid $pid, 127.0.0.1:$REDIS_PORT)"
}

make_certificate() {
    [ -n "$HTTPS_PORT" ] || return 0
    [ -s "$TLS_DIR/server.crt" ] && [ -s "$TLS_DIR/server.key" ] && return 0
    say "generating a self-signed certificate for localhost in ${TLS_DIR#"$ROOT"/}"
    (
        umask 077
        openssl req -x509 -newkey rsa:2048 -nodes -sha256 -days 825 \
            -subj /CN=localhost \
            -addext "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1" \
            -addext "basicConstraints=critical,CA:FALSE" \
            -addext "extendedKeyUsage=serverAuth" \
            -keyout "$TLS_DIR/server.key" -out "$TLS_DIR/server.crt" >>"$LOG/openssl.log" 2>&1
    ) || {
        log_tail "$LOG/openssl.log"
        die "openssl could not make the certificate"
    }
    chmod 600 "$TLS_DIR/server.key"
    chmod 644 "$TLS_DIR/server.crt"
}

migrate() {
    if [ ! -x "$BIN_DIR/microshopctl" ]; then
        say "skipping migrations: ${BIN_DIR#"$ROOT"/}/microshopctl is not built"
        return 0
    fi
    [ "${UP_NO_MIGRATE:-0}" != 1 ] || return 0
    PG_URL=$(pg_base) DB_PREFIX=$DB_PREFIX SERVICES_ONLY="${SERVICES[*]}" BIN_DIR=$BIN_DIR \
        "$ROOT/tools/migrate-all.sh" || die "migrations failed"
}

# A new shop is not empty: seed a demo catalogue (SEED_PRODUCTS, default 200;
# 0 skips) when the product database has no products yet.
seed_catalogue() {
    local n=${SEED_PRODUCTS:-200} url count
    [ "$n" -gt 0 ] 2>/dev/null || return 0
    [ -d "$ROOT/migrations/product" ] && [ -x "$BIN_DIR/microshopctl" ] || return 0
    url=$(db_url product)
    count=$(psql "$url" -tAc "SELECT count(*) FROM products" 2>/dev/null) || return 0
    [ "$count" = 0 ] || return 0
    DATABASE_URL=$url REDIS_URL="$(redis_url)" \
        "$BIN_DIR/microshopctl" seed --products "$n" >/dev/null ||
        die "seeding the demo catalogue failed"
    say "seeded a demo catalogue of $n products (SEED_PRODUCTS=0 to skip)"
}

# var/stand.env: what bin/microshopctl needs to use this stand when run from
# the checkout with no environment (mode 600: it holds the secrets).
write_stand() {
    local tmp
    tmp=$(mktemp "$VAR/.stand.XXXXXX")
    chmod 600 "$tmp"
    {
        echo "# Written by tools/up.sh on every run; read by bin/microshopctl for each"
        echo "# variable that is not set in its environment. Removed by make down."
        echo "PG_URL=$(pg_base)"
        echo "REDIS_URL=$(redis_url)"
        echo "JWT_SECRET=$JWT_SECRET"
        echo "JWT_REFRESH_SECRET=$JWT_REFRESH_SECRET"
    } >"$tmp"
    mv "$tmp" "$STAND"
}

# Environment of service $1's pool and worker.
service_env() {
    echo "DATABASE_URL=$(db_url "$1")"
    echo "REDIS_URL=$(redis_url)"
    echo "WORKERS=$WORKERS"
}

# Warn when a running program's binary has been rebuilt since it started.
note_rebuilt() {
    local name=$1 pid=$2 exe
    exe=$(readlink "/proc/$pid/exe" 2>/dev/null) || return 0
    if [[ $exe == *" (deleted)" ]]; then
        warn "note: $name (pid $pid) runs an older build of ${exe% (deleted)}; make down && make up restarts it"
    fi
}

start_pool() {
    local svc=$1 name=$1-fcgi pid sock=$RUN/$1.sock env=()
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid, ${sock#"$ROOT"/})"
        note_rebuilt "$name" "$pid"
        return 0
    fi
    clear_stale "$name"
    mapfile -t env < <(service_env "$svc")
    rm -f "$sock" # a socket left by a killed pool would pass the readiness test
    # spawn-fcgi -n binds the socket (mode 0666: nginx's workers run as
    # another user) and execs the pool with it on fd 0.
    start_bg "$name" env "${env[@]}" spawn-fcgi -n -s "$sock" -M 0666 -- "$BIN_DIR/$name"
    pid=$(cat "$RUN/$name.pid")
    wait_for 10 "$pid" "$name" test -S "$sock" || {
        log_tail "$LOG/$name.log"
        die "$name did not start"
    }
    say "started $name (pid $pid, ${sock#"$ROOT"/}, WORKERS=$WORKERS)"
}

start_worker() {
    local svc=$1 name=$1-worker pid env=()
    if pid=$(running_pid "$name"); then
        say "$name already running (pid $pid)"
        note_rebuilt "$name" "$pid"
        return 0
    fi
    clear_stale "$name"
    mapfile -t env < <(service_env "$svc")
    start_bg "$name" env "${env[@]}" "$BIN_DIR/$name"
    say "started $name (pid $(cat "$RUN/$name.pid"))"
}

# UPSTREAM_<SVC> of every built service; an unbuilt one stays unset, so that
# nginx answers its routes with the JSON 503. With UP_ONLY_INFRA=1 every
# service's socket is named (pools started by hand may listen there).
render_nginx() {
    local svc var svcs
    if [ "$UP_ONLY_INFRA" = 1 ]; then svcs="${SERVICES[*]}"; else svcs=$(built_services); fi
    for svc in "${SERVICES[@]}"; do
        var=UPSTREAM_$(tr 'a-z-' 'A-Z_' <<<"$svc")
        unset "$var"
    done
    for svc in $svcs; do
        var=UPSTREAM_$(tr 'a-z-' 'A-Z_' <<<"$svc")
        export "$var=unix:$RUN/$svc.sock"
    done
    RUN_DIR=$RUN LOG_DIR=$LOG CERT_DIR=$TLS_DIR HTTP_PORT=$HTTP_PORT HTTPS_PORT=$HTTPS_PORT \
        "$ROOT/tools/render-nginx.sh" >"$1" || die "could not render the nginx configuration"
}

start_nginx() {
    local pid conf=$RUN/nginx.conf new=$RUN/nginx.conf.new out
    render_nginx "$new"
    if pid=$(running_pid nginx); then
        if cmp -s "$new" "$conf"; then
            rm -f "$new"
            say "nginx already running (pid $pid)"
            return 0
        fi
        out=$(nginx -t -q -c "$new" -p "$RUN/" 2>&1) || {
            echo "$out" >&2
            die "the new nginx configuration is invalid; the running nginx keeps the old one"
        }
        mv "$new" "$conf"
        kill -HUP "$pid"
        say "nginx already running (pid $pid); configuration changed, reloaded"
        sleep 0.5 # the new workers take over; the old ones finish their requests
        return 0
    fi
    clear_stale nginx
    mv "$new" "$conf"
    out=$(nginx -t -q -c "$conf" -p "$RUN/" 2>&1) || {
        echo "$out" >&2
        die "nginx configuration test failed (${conf#"$ROOT"/})"
    }
    # nginx daemonizes and writes var/run/nginx.pid itself.
    out=$(
        close_fds
        nginx -c "$conf" -p "$RUN/" 2>&1 </dev/null
    ) || {
        echo "$out" >&2
        log_tail "$LOG/nginx-error.log"
        die "nginx did not start"
    }
    wait_for 10 "" nginx running_pid nginx || {
        log_tail "$LOG/nginx-error.log"
        die "nginx did not start"
    }
    say "started nginx (pid $(cat "$RUN/nginx.pid"), http :$HTTP_PORT${HTTPS_PORT:+, https :$HTTPS_PORT})"
}

http_code() {
    curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1"
}

answers_200() {
    [ "$(http_code "$1")" = 200 ]
}

wait_ready() {
    local base svc code deadline name pid
    base="http://$(probe_host):$HTTP_PORT"
    wait_for 10 "" nginx answers_200 "$base/health" || {
        log_tail "$LOG/nginx-error.log"
        die "nginx does not answer $base/health"
    }
    [ "$UP_ONLY_INFRA" = 1 ] && return 0
    for svc in $(built_services); do
        deadline=$((SECONDS + 30))
        code=000
        while ((SECONDS < deadline)); do
            code=$(http_code "$base/health/$svc")
            [ "$code" = 200 ] && break
            if ! pid=$(running_pid "$svc-fcgi"); then
                log_tail "$LOG/$svc-fcgi.log"
                die "$svc-fcgi exited during start-up"
            fi
            sleep 0.2
        done
        if [ "$code" != 200 ]; then
            log_tail "$LOG/$svc-fcgi.log"
            log_tail "$LOG/nginx-error.log" 5
            die "$base/health/$svc answers $code, not 200"
        fi
        has_worker "$svc" || continue
        name=$svc-worker
        running_pid "$name" >/dev/null || {
            log_tail "$LOG/$name.log"
            die "$name exited during start-up"
        }
    done
}

print_summary() {
    local host=localhost svc
    echo
    if [ "$UP_ONLY_INFRA" = 1 ]; then
        echo "microshop infrastructure is up (UP_ONLY_INFRA=1: no pools, no workers):"
    else
        echo "microshop is up:"
    fi
    [ -z "$HTTPS_PORT" ] || echo "  https://$host:$HTTPS_PORT    (self-signed: curl --cacert var/tls/server.crt)"
    echo "  http://$host:$HTTP_PORT"
    echo "  health:  http://$host:$HTTP_PORT/health  (nginx)"
    if [ "$UP_ONLY_INFRA" != 1 ]; then
        for svc in $(built_services); do echo "           http://$host:$HTTP_PORT/health/$svc"; done
        for svc in $(unbuilt_services); do
            echo "  not built: $svc (${BIN_DIR#"$ROOT"/}/$svc-fcgi): its routes answer 503"
        done
    fi
    echo "  logs in var/log/, pids in var/run/; status: make status; stop: make down"
    echo
    echo "First admin: register through POST /api/auth/register, then"
    echo "  bin/microshopctl set-role <email> admin"
}

main() {
    case ${1:-} in
    --status)
        PROG=status
        status
        exit
        ;;
    "") ;;
    *) die "usage: tools/up.sh [--status]" ;;
    esac
    WORKERS=${WORKERS:-$((4 * $(nproc) < 256 ? 4 * $(nproc) : 256))}
    PG_MAX_CONNECTIONS=${PG_MAX_CONNECTIONS:-$((5 * WORKERS + 50 > 100 ? 5 * WORKERS + 50 : 100))}
    check_prereqs
    make_dirs
    exec 9>"$VAR/.lock"
    flock -n 9 || die "another tools/up.sh or tools/down.sh is running"
    check_ports
    STARTING=1
    load_secrets
    if [ -n "${UP_ONLY:-}" ]; then
        # one component (or a few) again, the rest already running
        local name svc
        for name in $UP_ONLY; do
            case $name in
            postgres) start_postgres ;;
            redis) start_redis ;;
            nginx) start_nginx ;;
            *-fcgi) start_pool "${name%-fcgi}" ;;
            *-worker) start_worker "${name%-worker}" ;;
            *) die "UP_ONLY: unknown component '$name'" ;;
            esac
        done
        return 0
    fi
    start_postgres
    if [ "$UP_ONLY_DATA" = 1 ]; then
        start_redis
        say "postgres 127.0.0.1:$(pg_port) and redis 127.0.0.1:$(redis_port) are up (UP_ONLY_DATA=1)"
        return 0
    fi
    create_databases
    start_redis
    write_stand
    make_certificate
    migrate
    seed_catalogue
    if [ "$UP_ONLY_INFRA" != 1 ]; then
        local svc
        for svc in $(unbuilt_services); do
            say "note: ${BIN_DIR#"$ROOT"/}/$svc-fcgi is not built: skipping the $svc pool and worker (its routes answer 503)"
        done
        for svc in $(built_services); do
            start_pool "$svc"
            if has_worker "$svc"; then
                start_worker "$svc"
            elif [ "${UP_NO_WORKERS:-0}" != 1 ]; then
                say "note: ${BIN_DIR#"$ROOT"/}/$svc-worker is not built: skipping the $svc worker"
            fi
        done
    fi
    start_nginx
    wait_ready
    print_summary
}

main "$@"
