#!/usr/bin/env bash
# Pull the registry images of the official profile: every image the production and development
# compose files name under COMPOSE_PROFILES=official, minus ours (stackproof/*: built here, never
# pulled — an image of that name on a registry must not replace the local build), plus the app
# image's base (BASE_IMAGE), which must be here before scripts/build-images.sh app runs: without
# it images/base/build.sh would debootstrap an image under the base's name.
#
# The base is pulled first, with the short bound PROBE_TIMEOUT: it is small, so if it does not
# come the registry is not reachable and the rest are tried with the same short bound (all at
# once), so that a machine with no registry gets its answer within about 2 × PROBE_TIMEOUT.
# Otherwise the rest are pulled in parallel, each within PULL_TIMEOUT.
#
# Ends with "pulled N images", or with one message naming every image it could not pull (the
# daemon's errors go to build/logs/pull-official.log) and exit 1.
#
# Usage: scripts/pull-official.sh
# Env:   BASE_IMAGE (default python:3.11-slim-bookworm), ENV_FILE (default .env, else .env.example:
#        the image list needs no secret), PROBE_TIMEOUT (default 60 s), PULL_TIMEOUT (default 900 s),
#        DOCKER (default: docker on PATH), PULL_LOG (default build/logs/pull-official.log)
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT" || exit 1
DOCKER=${DOCKER:-docker}
BASE_IMAGE=${BASE_IMAGE:-python:3.11-slim-bookworm}
ENV_FILE=${ENV_FILE:-.env}
[[ -f $ENV_FILE ]] || ENV_FILE=.env.example
PROBE_TIMEOUT=${PROBE_TIMEOUT:-60}
PULL_TIMEOUT=${PULL_TIMEOUT:-900}
FILES=(compose/compose.production.yaml compose/compose.development.yaml)
LOG=${PULL_LOG:-$ROOT/build/logs/pull-official.log}

fail() { printf 'official profile: %s\n' "$*" >&2; exit 1; }

"$DOCKER" info >/dev/null 2>&1 || fail "the docker engine is not answering (make engine starts it)."
"$DOCKER" compose version >/dev/null 2>&1 || fail "no docker compose v2 (make engine installs it)."

# --- the image list -------------------------------------------------------------------------
declare -A seen=()
images=("$BASE_IMAGE")
seen[$BASE_IMAGE]=1
for file in "${FILES[@]}"; do
    if ! listed=$(COMPOSE_PROFILES=official "$DOCKER" compose --env-file "$ENV_FILE" -f "$file" config --images 2>&1); then
        fail "cannot list the images of $file: $(printf '%s' "$listed" | tr '\n' ' ')"
    fi
    while read -r image; do
        [[ -z $image || $image == stackproof/* || $image == docker.io/stackproof/* ]] && continue
        [[ -n ${seen[$image]:-} ]] && continue
        seen[$image]=1
        images+=("$image")
    done <<<"$listed"
done
# compose lists in no fixed order: sorted, so that the message reads the same each time.
if (( ${#images[@]} > 1 )); then
    mapfile -t rest < <(printf '%s\n' "${images[@]:1}" | sort)
    images=("$BASE_IMAGE" "${rest[@]}")
fi
total=${#images[@]}

# --- the pulls ------------------------------------------------------------------------------
mkdir -p "$(dirname "$LOG")"
: >"$LOG"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# pull INDEX BOUND: one bounded pull; its output in $work/INDEX.out, its exit code in $work/INDEX.rc.
pull() {
    timeout "$2" "$DOCKER" pull -q "${images[$1]}" >"$work/$1.out" 2>&1
    echo $? >"$work/$1.rc"
}

pull 0 "$PROBE_TIMEOUT"
bound=$PULL_TIMEOUT
[[ $(cat "$work/0.rc") == 0 ]] || bound=$PROBE_TIMEOUT
for (( i = 1; i < total; i++ )); do pull "$i" "$bound" & done
wait

failed=()
for (( i = 0; i < total; i++ )); do
    rc=$(cat "$work/$i.rc")
    if [[ $rc == 0 ]]; then
        printf '%s: pulled\n' "${images[$i]}" >>"$LOG"
    else
        failed+=("${images[$i]}")
        [[ $rc == 124 ]] && reason="no answer within ${bound}s" || reason="exit $rc"
        { printf '%s: %s\n' "${images[$i]}" "$reason"; sed 's/^/    /' "$work/$i.out"; } >>"$LOG"
    fi
done

if (( ${#failed[@]} )); then
    list=$(printf '%s, ' "${failed[@]}")
    fail "could not pull ${#failed[@]} of $total images (no registry reachable?): ${list%, }." \
         "Use STACK_IMAGES=offline to build everything here. (Daemon errors: ${LOG#"$ROOT"/})"
fi
echo "pulled $total images"
