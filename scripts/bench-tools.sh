#!/usr/bin/env bash
# The bench's tools: wrk (Debian package, installed as root) and nginx, unpacked from
# Debian's package into build/bench/nginx without installing it: installing the package
# would start a system nginx on port 80, and the bench starts its own, on loopback.
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench-tools] %s\n' "$*" >&2; }
if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y -qq --no-install-recommends wrk >/dev/null 2>&1 \
        || { apt-get update -qq && apt-get install -y -qq --no-install-recommends wrk >/dev/null; }
fi
dest=build/bench/nginx
if [[ ! -x $dest/usr/sbin/nginx ]]; then
    log "unpacking Debian's nginx into $dest"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    (cd "$tmp" && { apt-get download nginx >/dev/null 2>&1 || { apt-get update -qq && apt-get download nginx >/dev/null; }; })
    mkdir -p "$dest"
    dpkg-deb -x "$tmp"/nginx_*.deb "$dest"
fi
"$dest/usr/sbin/nginx" -v
