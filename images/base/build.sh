#!/usr/bin/env bash
# Build the registry-free base image: debootstrap a minbase Debian 12 (bookworm)
# root filesystem from the mirror apt already uses, trim it, and `docker import` it.
#
# Skips when the image already exists, unless FORCE=1.
# Env: BASE_IMAGE (default stackproof/base:bookworm), SUITE (default bookworm),
#      APT_MIRROR / APT_SECURITY_MIRROR (default: read from /etc/apt), FORCE=1,
#      DOCKER (default /usr/bin/docker), WORKDIR (default /var/tmp).
set -euo pipefail

BASE_IMAGE=${BASE_IMAGE:-stackproof/base:bookworm}
SUITE=${SUITE:-bookworm}
FORCE=${FORCE:-0}
DOCKER=${DOCKER:-$( [[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker || true)}
WORKDIR=${WORKDIR:-/var/tmp}
PATH_IN_IMAGE=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

log() { printf '[base] %s\n' "$*" >&2; }
die() { printf '[base] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -n "$DOCKER" ]] || die "no docker CLI; run scripts/docker-engine.sh first"
"$DOCKER" info >/dev/null 2>&1 || die "docker engine not answering; run scripts/docker-engine.sh first"

if [[ "$FORCE" != 1 ]] && "$DOCKER" image inspect "$BASE_IMAGE" >/dev/null 2>&1; then
    log "$BASE_IMAGE exists; skipping (FORCE=1 rebuilds)"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "debootstrap needs root"
if ! command -v debootstrap >/dev/null 2>&1; then
    log "installing debootstrap"
    export DEBIAN_FRONTEND=noninteractive
    apt-get install -y -qq --no-install-recommends debootstrap >/dev/null 2>&1 || {
        apt-get update -qq && apt-get install -y -qq --no-install-recommends debootstrap >/dev/null
    } || die "cannot install debootstrap"
fi

sources=/etc/apt/sources.list.d/debian.sources
if [[ -z "${APT_MIRROR:-}" ]]; then
    APT_MIRROR=$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' "$sources" 2>/dev/null || true)
    [[ -n "$APT_MIRROR" ]] || APT_MIRROR=$(awk '$1=="deb" && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list 2>/dev/null || true)
fi
[[ -n "$APT_MIRROR" ]] || die "cannot find a Debian mirror in /etc/apt; set APT_MIRROR"
if [[ -z "${APT_SECURITY_MIRROR:-}" ]]; then
    APT_SECURITY_MIRROR=$(awk '/^URIs:/ && $2 ~ /security/ {print $2; exit}' "$sources" 2>/dev/null || true)
    [[ -n "$APT_SECURITY_MIRROR" ]] || APT_SECURITY_MIRROR=${APT_MIRROR%/debian}/debian-security
fi

start=$(date +%s)
work=$(mktemp -d "$WORKDIR/stackproof-base.XXXXXX")
trap 'rm -rf --one-file-system "$work"' EXIT
rootfs=$work/rootfs

log "debootstrap --variant=minbase $SUITE from $APT_MIRROR (progress below)"
debootstrap --variant=minbase "$SUITE" "$rootfs" "$APT_MIRROR" 2>&1 \
    | awk '/^I: (Retrieving|Validating|Extracting|Unpacking|Configuring)/ {n++; if (n % 25) next} {print "[base]   " $0; fflush()}' >&2
[[ ${PIPESTATUS[0]} -eq 0 ]] || die "debootstrap failed (see output above)"
log "debootstrap done in $(( $(date +%s) - start ))s"

# apt inside images: same mirror with updates + security, no recommends, no caches kept.
rm -f "$rootfs/etc/apt/sources.list"
cat >"$rootfs/etc/apt/sources.list.d/debian.sources" <<SRC
Types: deb
URIs: $APT_MIRROR
Suites: $SUITE $SUITE-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: $APT_SECURITY_MIRROR
Suites: $SUITE-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
cat >"$rootfs/etc/apt/apt.conf.d/90stackproof" <<'CONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
cat >"$rootfs/etc/dpkg/dpkg.cfg.d/90stackproof-nodoc" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-include /usr/share/locale/locale.alias
CONF
# No service may start during image builds.
printf '#!/bin/sh\nexit 101\n' >"$rootfs/usr/sbin/policy-rc.d"
chmod 0755 "$rootfs/usr/sbin/policy-rc.d"

# Docs and translations are not needed in containers (copyright files and locale.alias stay).
find "$rootfs/usr/share/doc" -mindepth 1 ! -name copyright ! -type d -delete
find "$rootfs/usr/share/doc" -mindepth 1 -type d -empty -delete
find "$rootfs/usr/share/locale" -mindepth 1 -maxdepth 1 ! -name locale.alias -exec rm -rf {} +
rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin \
       "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/log/*.log "$rootfs"/var/log/apt/* \
       "$rootfs"/usr/share/doc/*/changelog* "$rootfs"/usr/share/man/* "$rootfs"/tmp/* \
       "$rootfs"/var/tmp/*
mkdir -p "$rootfs/var/lib/apt/lists/partial"

log "importing $(du -sh "$rootfs" | cut -f1) rootfs as $BASE_IMAGE"
tar --numeric-owner -C "$rootfs" -c . | "$DOCKER" import \
    -c "ENV PATH=$PATH_IN_IMAGE" \
    -c 'ENV LANG=C.UTF-8' \
    -c 'CMD ["/bin/bash"]' \
    -m "debootstrap --variant=minbase $SUITE $APT_MIRROR" \
    - "$BASE_IMAGE" >/dev/null || die "docker import failed"

log "$BASE_IMAGE: $("$DOCKER" image inspect -f '{{.Size}}' "$BASE_IMAGE" | awk '{printf "%.0f MB", $1/1e6}') built in $(( $(date +%s) - start ))s"
