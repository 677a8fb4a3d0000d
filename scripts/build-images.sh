#!/usr/bin/env bash
# Build every image of the offline profile, in dependency order:
#   stackproof/base:bookworm  (images/base/build.sh: debootstrap + docker import)
#   stackproof/<name>:$TAG    for prometheus alertmanager mongo elasticsearch minio sentry edge
# Python wheels come from build/wheelhouse/<name> (scripts/wheelhouse.sh, run here when needed).
# Each image is built with the legacy builder from a staged context build/context/<name>
# (images/<name>/ + images/common/ + its wheels, hard-linked), so unchanged layers are reused
# and a rebuild after touching one entrypoint takes seconds.
#
# Usage: scripts/build-images.sh [name...]      (default: all)
# Env:   TAG (default dev), BASE_IMAGE (default stackproof/base:bookworm), NO_CACHE=1,
#        FORCE_BASE=1 (re-debootstrap the base), DOCKER (default /usr/bin/docker)
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TAG=${TAG:-${STACK_TAG:-dev}}
BASE_IMAGE=${BASE_IMAGE:-stackproof/base:bookworm}
DOCKER=${DOCKER:-$( [[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker || true)}
ALL_IMAGES=(prometheus alertmanager mongo elasticsearch minio sentry edge app)
# (also buildable: probe -- client toolbox for scripts/verify-images.sh, not part of the stack)
CTX_ROOT=$ROOT/build/context
LOG_DIR=$ROOT/build/logs
export DOCKER_BUILDKIT=0   # legacy builder: BuildKit would reach for a registry / a buildx plugin

log() { printf '[build-images] %s\n' "$*" >&2; }
die() { printf '[build-images] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -n $DOCKER ]] || die "no docker CLI; run scripts/docker-engine.sh"
"$DOCKER" info >/dev/null 2>&1 || die "docker engine not answering; run scripts/docker-engine.sh first"

if (( $# )); then images=("$@"); else images=("${ALL_IMAGES[@]}"); fi
for name in "${images[@]}"; do
    [[ -f $ROOT/images/$name/Dockerfile ]] || die "unknown image '$name' (no images/$name/Dockerfile)"
done
mkdir -p "$CTX_ROOT" "$LOG_DIR"

total_start=$(date +%s)
FORCE=${FORCE_BASE:-0} BASE_IMAGE=$BASE_IMAGE DOCKER=$DOCKER "$ROOT/images/base/build.sh"

need_wheels=()
for name in "${images[@]}"; do
    [[ -f $ROOT/images/$name/requirements.txt || $name == app ]] && need_wheels+=("$name")
done
(( ${#need_wheels[@]} )) && "$ROOT/scripts/wheelhouse.sh" "${need_wheels[@]}"

stage_context() {
    local name=$1 ctx=$CTX_ROOT/$1
    rm -rf "$ctx"
    mkdir -p "$ctx"
    cp -a "$ROOT/images/$name/." "$ctx/"
    cp -a "$ROOT/images/common" "$ctx/common"
    if [[ $name == app ]]; then
        cp "$ROOT/services/requirements.txt" "$ctx/requirements.txt"
        tar -C "$ROOT" --exclude=__pycache__ -cf - services ops | tar -C "$ctx" -xf -
    fi
    if [[ -d $ROOT/build/wheelhouse/$name ]]; then
        cp -al "$ROOT/build/wheelhouse/$name" "$ctx/wheels" 2>/dev/null \
            || cp -a "$ROOT/build/wheelhouse/$name" "$ctx/wheels"
        rm -f "$ctx/wheels/.stamp"
    fi
}

declare -A took=()
for name in "${images[@]}"; do
    image=stackproof/$name:$TAG
    start=$(date +%s)
    stage_context "$name"
    logfile=$LOG_DIR/$name.log
    log "building $image (full log: ${logfile#"$ROOT"/})"
    build_args=(build --force-rm --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$image"
                --label "org.opencontainers.image.source=stackproof/images/$name")
    [[ ${NO_CACHE:-0} == 1 ]] && build_args+=(--no-cache)
    set +e
    "$DOCKER" "${build_args[@]}" "$CTX_ROOT/$name" 2>&1 | tee "$logfile" \
        | grep --line-buffered -E '^(Step [0-9]+/[0-9]+ :|Successfully tagged)' \
        | sed -u "s|^|[build-images]   $name: |" >&2
    rc=${PIPESTATUS[0]}
    set -e
    if (( rc != 0 )); then
        tail -n 30 "$logfile" >&2
        die "docker build of $image failed (exit $rc); full log in $logfile"
    fi
    cached=$(grep -c 'Using cache' "$logfile" || true)
    took[$name]=$(( $(date +%s) - start ))
    size=$("$DOCKER" image inspect -f '{{.Size}}' "$image" | awk '{printf "%.0f MB", $1/1e6}')
    log "$image built in ${took[$name]}s ($cached cached steps), $size"
done

log "done in $(( $(date +%s) - total_start ))s:"
for name in "${images[@]}"; do
    printf '[build-images]   %-32s %4ss  %s\n' "stackproof/$name:$TAG" "${took[$name]}" \
        "$("$DOCKER" image inspect -f '{{.Size}}' "stackproof/$name:$TAG" | awk '{printf "%.0f MB", $1/1e6}')" >&2
done
