#!/usr/bin/env bash
# Make `docker compose` (v2) work on Debian 12, which ships only compose v1.
#
# Idempotent: if `docker compose version` already reports v2, only prints it.
# Otherwise downloads Debian 13 (trixie)'s docker-compose (and docker-buildx)
# .debs from the mirror already configured for apt, through a PRIVATE sources list
# and private apt state (nothing under /etc/apt or /var/lib/apt is touched),
# unpacks them with dpkg-deb -x and installs the CLI plugins into $PLUGIN_DIR.
# Both binaries depend only on libc6 (>= 2.34), which bookworm has.
#
# Env: PLUGIN_DIR (default /usr/local/lib/docker/cli-plugins, searched by every
#      docker CLI), COMPOSE_SUITE (default trixie), WITH_BUILDX (default 1),
#      APT_MIRROR (default: first URI of suite bookworm in /etc/apt/sources.list.d/debian.sources)
set -euo pipefail

PLUGIN_DIR=${PLUGIN_DIR:-/usr/local/lib/docker/cli-plugins}
COMPOSE_SUITE=${COMPOSE_SUITE:-trixie}
WITH_BUILDX=${WITH_BUILDX:-1}
DOCKER=${DOCKER:-$( [[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker || true)}

log() { printf '[compose-v2] %s\n' "$*" >&2; }
die() { printf '[compose-v2] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -n "$DOCKER" ]] || die "no docker CLI found; run scripts/docker-engine.sh first"

compose_v2() { "$DOCKER" compose version --short 2>/dev/null | grep -Eq '^v?2\.'; }

if compose_v2 && { [[ "$WITH_BUILDX" != 1 ]] || "$DOCKER" buildx version >/dev/null 2>&1; }; then
    log "already installed: $("$DOCKER" compose version)"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "installing into $PLUGIN_DIR needs root"

start=$(date +%s)
if [[ -z "${APT_MIRROR:-}" ]]; then
    APT_MIRROR=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
    if [[ -z "$APT_MIRROR" ]]; then
        APT_MIRROR=$(awk '$1=="deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
    fi
fi
[[ -n "$APT_MIRROR" ]] || die "cannot find the Debian mirror in /etc/apt; set APT_MIRROR=http://..."

work=$(mktemp -d /tmp/compose-v2.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/etc/preferences.d" "$work/dl"
cat >"$work/etc/sources.list" <<SRC
deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $APT_MIRROR $COMPOSE_SUITE main
SRC
: >"$work/status"

apt_private=(
    -o Dir::Etc::sourcelist="$work/etc/sources.list"
    -o Dir::Etc::sourceparts=-
    -o Dir::Etc::preferencesparts="$work/etc/preferences.d"
    -o Dir::State::lists="$work/lists"
    -o Dir::State::status="$work/status"
    -o Dir::Cache="$work/cache"
    -o Dir::Cache::archives="$work/cache/archives"
    -o APT::Get::List-Cleanup=false
    -o APT::Sandbox::User=root
)

log "fetching the $COMPOSE_SUITE package index from $APT_MIRROR (private apt state in $work)"
apt-get "${apt_private[@]}" update -qq || die "apt-get update of suite $COMPOSE_SUITE failed (mirror $APT_MIRROR)"

pkgs=(docker-compose)
[[ "$WITH_BUILDX" == 1 ]] && pkgs+=(docker-buildx)
log "downloading ${pkgs[*]}"
(cd "$work/dl" && apt-get "${apt_private[@]}" download "${pkgs[@]}") >/dev/null \
    || die "apt-get download ${pkgs[*]} from $COMPOSE_SUITE failed"

mkdir -p "$PLUGIN_DIR"
for deb in "$work"/dl/*.deb; do
    log "unpacking $(basename "$deb")"
    dpkg-deb -x "$deb" "$work/root"
done
for plugin in docker-compose docker-buildx; do
    src="$work/root/usr/libexec/docker/cli-plugins/$plugin"
    [[ -f "$src" ]] || continue
    install -m 0755 "$src" "$PLUGIN_DIR/$plugin"
    log "installed $PLUGIN_DIR/$plugin"
done

compose_v2 || die "docker compose still does not report v2 after installing into $PLUGIN_DIR"
log "$("$DOCKER" compose version) ($(( $(date +%s) - start ))s)"
