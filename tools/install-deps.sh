#!/usr/bin/env bash
# Install the Debian 12 packages microshop needs to build, test and run.
# Does nothing when they are all present; needs root otherwise.
set -euo pipefail

PKGS=(build-essential pkg-config libfcgi-dev spawn-fcgi libpq-dev postgresql
      postgresql-client libhiredis-dev redis-server libcjson-dev libjwt-dev libssl-dev
      check nginx libcrypt-dev curl openssl wrk python3 procps iproute2)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "install-deps: missing packages: ${missing[*]}" >&2
    echo "install-deps: run as root (or: sudo apt-get install ${missing[*]})" >&2
    exit 1
fi
echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
# Debian starts the packaged daemons; microshop runs its own on other ports and
# leaves the system ones alone.
