#!/usr/bin/env bash
# Apply every service's migrations (`make migrate`; also run by tools/up.sh):
# for each migrations/<service>/ holding *.sql files, run
#   DATABASE_URL=postgresql://postgres@127.0.0.1:$PG_PORT/microshop_<service> \
#       bin/microshopctl migrate <service>
# against the local cluster of `make up`.
#
#   PG_PORT [5433]  PG_HOST [127.0.0.1]  PG_USER [postgres]  BIN_DIR [bin]
#   DATABASE_URL_<SERVICE> (e.g. DATABASE_URL_USER) overrides one service's DSN.
set -euo pipefail
shopt -s nullglob

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BIN_DIR=${BIN_DIR:-$ROOT/bin}
PG_PORT=${PG_PORT:-5433}
PG_HOST=${PG_HOST:-127.0.0.1}
PG_USER=${PG_USER:-postgres}
CTL=$BIN_DIR/microshopctl

die() {
    echo "migrate: $*" >&2
    exit 1
}

[ -x "$CTL" ] || die "${CTL#"$ROOT"/} is not built (run: make all)"
if command -v pg_isready >/dev/null 2>&1; then
    pg_isready -q -h "$PG_HOST" -p "$PG_PORT" -t 2 ||
        die "no PostgreSQL on $PG_HOST:$PG_PORT (run: make up, or set PG_PORT)"
fi

cd "$ROOT" # microshopctl reads migrations/<service>/ from here
n=0
for svc in $(sed -e 's/#.*//' services.list | awk 'NF { print $1 }'); do
    dir=migrations/$svc/
    compgen -G "$dir*.sql" >/dev/null || {
        echo "migrate: $svc: no migrations yet"
        continue
    }
    override=DATABASE_URL_$(tr 'a-z-' 'A-Z_' <<<"$svc")
    url=${!override:-postgresql://$PG_USER@$PG_HOST:$PG_PORT/microshop_$svc}
    echo "migrate: $svc"
    DATABASE_URL=$url "$CTL" migrate "$svc" || die "$svc: microshopctl migrate failed"
    n=$((n + 1))
done
echo "migrate: done ($n service(s))"
