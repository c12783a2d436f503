#!/usr/bin/env bash
# Render nginx/microshop.conf.in to stdout from the environment (no envsubst).
#
#   RUN_DIR=/abs/run UPSTREAM_USER=unix:/abs/run/user.sock tools/render-nginx.sh > nginx.conf
#
# Variables (defaults in brackets):
#   RUN_DIR                 absolute directory for the pid file and temp dirs (required)
#   LOG_DIR                 absolute directory for nginx-error.log, nginx-access.log [RUN_DIR]
#   HTTP_PORT               plain HTTP port [8080]
#   HTTPS_PORT              TLS port; empty or unset: no TLS listener []
#   CERT_DIR                directory holding server.crt and server.key (needed with HTTPS_PORT)
#   LISTEN_ADDR             space-separated listen addresses, e.g. "127.0.0.1 [::1]" [127.0.0.1]
#   UPSTREAM_<SERVICE>      one per @UPSTREAM_<SERVICE>@ in the template: "unix:/abs/path.sock"
#                           or "host:port"; several space-separated servers balance one service.
#                           Required for @UPSTREAM_X@; for an optional @UPSTREAM_X?@ an unset or
#                           empty value renders a server marked "down" (unix:RUN_DIR/<svc>.sock
#                           down), so that the service's routes answer the JSON 503
#   RATE_LIMIT              "off" disables both rate limits [on]
#   RATE_LIMIT_AUTH         /api/auth rate per client address, nginx syntax (10r/s, 30r/m) [10r/s]
#   RATE_LIMIT_AUTH_BURST   /api/auth burst, requests [20]
#   RATE_LIMIT_API          rate for the rest of /api (and unknown paths) [100r/s]
#   RATE_LIMIT_API_BURST    its burst, requests [200]
#   ACCESS_LOG              "off" disables the JSON access log (benchmarks) [on]
#   NGINX_USER              worker user when nginx starts as root [www-data if it exists, else nobody]
#   FASTCGI_PARAMS          fastcgi_params file to include [/etc/nginx/fastcgi_params]
#   NGINX_TEMPLATE          template to render [nginx/microshop.conf.in]
#
# Exits non-zero with a message on stderr, and prints nothing, when a value is
# missing or malformed (values are checked so that none can inject directives).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TEMPLATE=${NGINX_TEMPLATE:-$ROOT/nginx/microshop.conf.in}

die() {
    echo "render-nginx: $*" >&2
    exit 1
}

# An absolute path nginx can take unquoted.
check_path() {
    [[ $2 =~ ^/[A-Za-z0-9._/+-]*$ ]] || die "$1 must be an absolute path of [A-Za-z0-9._/+-] (got '$2')"
}
check_port() {
    [[ $2 =~ ^[0-9]{1,5}$ ]] && (($2 >= 1 && $2 <= 65535)) || die "$1 must be a port number (got '$2')"
}
check_rate() {
    [[ $2 =~ ^[1-9][0-9]*r/[sm]$ ]] || die "$1 must be an nginx rate such as 10r/s or 30r/m (got '$2')"
}
check_count() { # nginx refuses burst=0
    [[ $2 =~ ^[1-9][0-9]{0,6}$ ]] || die "$1 must be a positive integer (got '$2')"
}

[ -r "$TEMPLATE" ] || die "cannot read template $TEMPLATE"

RUN_DIR=${RUN_DIR:-}
[ -n "$RUN_DIR" ] || die "RUN_DIR is not set"
check_path RUN_DIR "$RUN_DIR"
LOG_DIR=${LOG_DIR:-$RUN_DIR}
check_path LOG_DIR "$LOG_DIR"
HTTP_PORT=${HTTP_PORT:-8080}
check_port HTTP_PORT "$HTTP_PORT"
HTTPS_PORT=${HTTPS_PORT:-}
CERT_DIR=${CERT_DIR:-}
if [ -n "$HTTPS_PORT" ]; then
    check_port HTTPS_PORT "$HTTPS_PORT"
    [ "$HTTPS_PORT" != "$HTTP_PORT" ] || die "HTTPS_PORT and HTTP_PORT must differ"
    [ -n "$CERT_DIR" ] || die "HTTPS_PORT is set but CERT_DIR is not"
    check_path CERT_DIR "$CERT_DIR"
    for f in server.crt server.key; do
        [ -f "$CERT_DIR/$f" ] || die "HTTPS_PORT is set but $CERT_DIR/$f does not exist"
    done
fi

LISTEN_ADDRS=()
for a in ${LISTEN_ADDR:-127.0.0.1}; do
    if [[ $a =~ ^\[?([0-9A-Fa-f]*:[0-9A-Fa-f:.]*)\]?$ ]]; then
        a="[${BASH_REMATCH[1]}]" # IPv6 needs brackets before :port
    elif ! [[ $a =~ ^([0-9.]+|[A-Za-z0-9][A-Za-z0-9.-]*|\*)$ ]]; then
        die "LISTEN_ADDR: '$a' is not an address"
    fi
    LISTEN_ADDRS+=("$a")
done
((${#LISTEN_ADDRS[@]} > 0)) || die "LISTEN_ADDR is empty"

case ${RATE_LIMIT:-on} in
on | yes | 1) RATE_LIMIT_KEY='$binary_remote_addr' ;;
off | no | 0) RATE_LIMIT_KEY='""' ;;
*) die "RATE_LIMIT must be on or off (got '$RATE_LIMIT')" ;;
esac
RATE_LIMIT_AUTH=${RATE_LIMIT_AUTH:-10r/s}
RATE_LIMIT_API=${RATE_LIMIT_API:-100r/s}
RATE_LIMIT_AUTH_BURST=${RATE_LIMIT_AUTH_BURST:-20}
RATE_LIMIT_API_BURST=${RATE_LIMIT_API_BURST:-200}
check_rate RATE_LIMIT_AUTH "$RATE_LIMIT_AUTH"
check_rate RATE_LIMIT_API "$RATE_LIMIT_API"
check_count RATE_LIMIT_AUTH_BURST "$RATE_LIMIT_AUTH_BURST"
check_count RATE_LIMIT_API_BURST "$RATE_LIMIT_API_BURST"

# Seconds until the slower zone lets one more request through (1/rate, rounded
# up): the Retry-After of every 429.
retry_after_s() {
    local n=${1%r/*} unit=${1##*/}
    [ "$unit" = m ] && echo $(((60 + n - 1) / n)) || echo $(((1 + n - 1) / n))
}
RETRY_AFTER_S=$(retry_after_s "$RATE_LIMIT_AUTH")
a=$(retry_after_s "$RATE_LIMIT_API")
((a <= RETRY_AFTER_S)) || RETRY_AFTER_S=$a

case ${ACCESS_LOG:-on} in
on | yes | 1) ACCESS_LOG_VALUE="$LOG_DIR/nginx-access.log microshop_json buffer=64k flush=1s" ;;
off | no | 0) ACCESS_LOG_VALUE=off ;;
*) die "ACCESS_LOG must be on or off (got '$ACCESS_LOG')" ;;
esac

if [ -z "${NGINX_USER:-}" ]; then
    if id -u www-data >/dev/null 2>&1; then NGINX_USER=www-data; else NGINX_USER=nobody; fi
fi
[[ $NGINX_USER =~ ^[a-z_][a-z0-9_-]*$ ]] || die "NGINX_USER: '$NGINX_USER' is not a user name"
IS_ROOT=false
[ "$(id -u)" -eq 0 ] && IS_ROOT=true

FASTCGI_PARAMS=${FASTCGI_PARAMS:-/etc/nginx/fastcgi_params}
check_path FASTCGI_PARAMS "$FASTCGI_PARAMS"
[ -r "$FASTCGI_PARAMS" ] || die "cannot read $FASTCGI_PARAMS (FASTCGI_PARAMS)"

declare -A VARS=(
    [RUN_DIR]=$RUN_DIR [LOG_DIR]=$LOG_DIR [CERT_DIR]=$CERT_DIR
    [HTTP_PORT]=$HTTP_PORT [HTTPS_PORT]=$HTTPS_PORT
    [RATE_LIMIT_KEY]=$RATE_LIMIT_KEY
    [RATE_LIMIT_AUTH]=$RATE_LIMIT_AUTH [RATE_LIMIT_API]=$RATE_LIMIT_API
    [RATE_LIMIT_AUTH_BURST]=$RATE_LIMIT_AUTH_BURST [RATE_LIMIT_API_BURST]=$RATE_LIMIT_API_BURST
    [RETRY_AFTER_S]=$RETRY_AFTER_S
    [ACCESS_LOG]=$ACCESS_LOG_VALUE [NGINX_USER]=$NGINX_USER [FASTCGI_PARAMS]=$FASTCGI_PARAMS
)

# Value of UPSTREAM_<SERVICE>: its servers joined so that "server @X@;" lists them all.
# With $2 = "?" (optional) an unset or empty value gives a server marked down.
upstream_value() {
    local name=$1 optional=${2:-} v s out="" sock
    v=${!name:-}
    sock=unix:$RUN_DIR/$(tr 'A-Z_' 'a-z-' <<<"${name#UPSTREAM_}").sock
    if [ -z "${v// /}" ]; then
        [ "$optional" = "?" ] || die "$name is not set (e.g. $name=$sock)"
        printf '%s down' "$sock"
        return 0
    fi
    for s in $v; do
        [[ $s =~ ^unix:/[A-Za-z0-9._/+-]+$ || $s =~ ^[A-Za-z0-9.-]+:[0-9]{1,5}$ ||
            $s =~ ^\[[0-9A-Fa-f:.]+\]:[0-9]{1,5}$ ]] ||
            die "$name: '$s' is not unix:/abs/path or host:port"
        out+=${out:+"; server "}$s
    done
    printf '%s' "$out"
}

# Replace every @NAME@ in $1; prints the result.
substitute() {
    local rest=$1 out="" name val opt
    while [[ $rest == *@* ]]; do
        out+=${rest%%@*}
        rest=${rest#*@}
        if [[ $rest =~ ^([A-Z][A-Z0-9_]*)(\??)@ ]]; then
            name=${BASH_REMATCH[1]}
            opt=${BASH_REMATCH[2]}
            if [[ $name == UPSTREAM_* ]]; then
                val=$(upstream_value "$name" "$opt") || exit 1
            elif [ -n "$opt" ]; then
                die "only UPSTREAM_<SERVICE> placeholders can be optional (@$name?@)"
            elif [[ -v VARS[$name] ]]; then
                val=${VARS[$name]}
            else
                die "template uses unknown placeholder @$name@"
            fi
            out+=$val
            rest=${rest:${#name}+${#opt}+1}
        else
            out+=@
        fi
    done
    printf '%s\n' "$out$rest"
}

# One template line: comments are copied as they are; a line naming
# @LISTEN_ADDR@ is repeated for every listen address.
emit() {
    local line=$1 a
    if [[ $line =~ ^[[:space:]]*# ]]; then
        printf '%s\n' "$line"
    elif [[ $line == *@LISTEN_ADDR@* ]]; then
        for a in "${LISTEN_ADDRS[@]}"; do
            VARS[LISTEN_ADDR]=$a
            substitute "$line" || exit 1
        done
        unset 'VARS[LISTEN_ADDR]'
    else
        substitute "$line" || exit 1
    fi
}

# The services of services.list: SVC_NAMES (in order) and SVC_PATHS[name].
SERVICES_LIST=${SERVICES_LIST:-$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/services.list}
[ -r "$SERVICES_LIST" ] || die "cannot read $SERVICES_LIST (SERVICES_LIST)"
SVC_NAMES=()
declare -A SVC_PATHS
while read -r svc paths; do
    [[ -z $svc || $svc == \#* ]] && continue
    [[ $svc =~ ^[a-z][a-z0-9]*$ ]] || die "$SERVICES_LIST: '$svc' is not a service name"
    [[ -n $paths && $paths =~ ^[a-z0-9\ -]+$ ]] || die "$SERVICES_LIST: $svc needs its /api path prefixes"
    SVC_NAMES+=("$svc")
    SVC_PATHS[$svc]=$paths
done <"$SERVICES_LIST"
((${#SVC_NAMES[@]} > 0)) || die "$SERVICES_LIST names no service"
VARS[DEFAULT_POOL]=${SVC_NAMES[0]}_pool

# {{services upstreams|routes}} at indentation $2.
emit_services() {
    local what=$1 indent=$2 svc var opt alts
    for svc in "${SVC_NAMES[@]}"; do
        var=UPSTREAM_$(tr 'a-z-' 'A-Z_' <<<"$svc")
        [ "$svc" = "${SVC_NAMES[0]}" ] && opt="" || opt="?"
        case $what in
        upstreams) emit "${indent}upstream ${svc}_pool { server @${var}${opt}@; }" ;;
        routes)
            alts=${SVC_PATHS[$svc]// /|}
            emit "${indent}~^/(?:api/(?:${alts})|(?:health|metrics)/${svc})(?:/|\$)  ${svc}_pool;"
            ;;
        *) die "template uses unknown {{services $what}}" ;;
        esac
    done
}

condition() {
    case $1 in
    TLS) [ -n "$HTTPS_PORT" ] ;;
    ROOT) $IS_ROOT ;;
    *) die "template uses unknown condition '$1'" ;;
    esac
}

declare -A BLOCKS
MARKER='^([[:space:]]*)#[[:space:]]*\{\{([a-z]+)( [A-Za-z_]+)?\}\}[[:space:]]*$'

# Insert block $1 with indentation $2 (blocks may use other blocks).
use_block() {
    local name=$1 indent=$2 depth=${3:-0} line
    [[ -v BLOCKS[$name] ]] || die "template uses block '$name' before defining it"
    ((depth < 8)) || die "blocks nested too deep at '$name'"
    while IFS= read -r line; do
        if [[ $line =~ $MARKER && ${BASH_REMATCH[2]} == use ]]; then
            use_block "${BASH_REMATCH[3]# }" "$indent" $((depth + 1))
        else
            emit "$indent${line#"${line%%[![:space:]]*}"}"
        fi
    done <<<"${BLOCKS[$name]%$'\n'}"
}

render() {
    local line kw arg defining="" active=() lineno=0 skip i
    while IFS= read -r line || [ -n "$line" ]; do
        lineno=$((lineno + 1))
        if [[ $line =~ $MARKER ]]; then
            kw=${BASH_REMATCH[2]}
            arg=${BASH_REMATCH[3]# }
            if [ -n "$defining" ]; then
                case $kw in
                end) defining="" ;;
                use) BLOCKS[$defining]+=$line$'\n' ;;
                *) die "line $lineno: {{$kw}} inside a block definition" ;;
                esac
                continue
            fi
            skip=false
            for i in "${active[@]}"; do [ "$i" = 1 ] || skip=true; done
            case $kw in
            if)
                if condition "$arg"; then active+=(1); else active+=(0); fi
                ;;
            end)
                ((${#active[@]} > 0)) || die "line $lineno: {{end}} without {{if}} or {{define}}"
                unset 'active[-1]'
                ;;
            define)
                [ -n "$arg" ] || die "line $lineno: {{define}} needs a name"
                defining=$arg
                BLOCKS[$arg]=""
                ;;
            use) $skip || use_block "$arg" "${BASH_REMATCH[1]}" ;;
            services) $skip || emit_services "$arg" "${BASH_REMATCH[1]}" ;;
            *) die "line $lineno: unknown marker {{$kw}}" ;;
            esac
            continue
        fi
        if [ -n "$defining" ]; then
            BLOCKS[$defining]+=$line$'\n'
            continue
        fi
        skip=false
        for i in "${active[@]}"; do [ "$i" = 1 ] || skip=true; done
        $skip || emit "$line"
    done <"$TEMPLATE"
    [ -z "$defining" ] || die "block '$defining' is not closed"
    ((${#active[@]} == 0)) || die "an {{if}} is not closed"
}

# Render completely before printing, so that a failure prints nothing.
out=$(render) || exit 1
printf '%s\n' "$out"
