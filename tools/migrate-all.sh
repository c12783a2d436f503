#!/usr/bin/env bash
# Apply every service's migrations (`make migrate`; also run by tools/up.sh):
# for each migrations/<service>/ holding *.sql files, run
#   DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/microshop_<service> \
#       bin/microshopctl migrate <service>
# against the local cluster of `make up`.
#
#   PG_PORT [5433]  PG_HOST [127.0.0.1]  PG_USER [postgres]  BIN_DIR [bin]
#   PG_URL (postgresql://user@host:port, instead of the three above)
#   DB_PREFIX [microshop_]  SERVICES_ONLY (a subset of services.list)
#   DATABASE_URL_<SERVICE> (e.g. DATABASE_URL_USER) overrides one service's DSN.
set -euo pipefail
shopt -s nullglob

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/bin}
PG_PORT=${PG_PORT:-5433}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_USER=${PG_USER:-postgres}
PG_URL=${PG_URL:-postgresql://$PG_USER@$PG_HOST:$PG_PORT}
PG_URL=${PG_URL%/}
DB_PREFIX=${DB_PREFIX:-microshop_}
CTL=$BIN_DIR/microshopctl

die() {
    echo "migrate: $*" >&2
    exit 1
}

[ -x "$CTL" ] || die "${CTL#"$ROOT"/} is not built (run: make all)"
if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -d "$PG_URL/postgres" -t 2 ||
        die "no PostgreSQL at $PG_URL (run: make up, or set PG_PORT)"
fi

cd "$ROOT" # microshopctl reads migrations/<service>/ from here
n=0
for svc in $(sed -e 's/#.*//' services.list | awk 'NF { print $1 }'); do
    [ -z "${SERVICES_ONLY:-}" ] || [[ " $SERVICES_ONLY " == *" $svc "* ]] || continue
    dir=migrations/$svc/
    compgen -G "$dir*.sql" >/dev/null || {
        echo "migrate: $svc: no migrations yet"
        continue
    }
    override=DATABASE_URL_$(tr 'a-z-' 'A-Z_' <<<"$svc")
    url=${!override:-$PG_URL/$DB_PREFIX$svc}
    echo "migrate: $svc"
    DATABASE_URL=$url "$CTL" migrate "$svc" || die "$svc: microshopctl migrate failed"
    n=$((n + 1))
done
echo "migrate: done ($n service(s))"
