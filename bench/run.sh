#!/usr/bin/env bash
# make bench: see bench/run.py. Needs root (PostgreSQL runs as postgres).
set -euo pipefail
cd "$(dirname "$0")/.."
exec /usr/bin/python3 bench/run.py "$@"
