#!/usr/bin/env bash
# Which image source the bundled stack uses: `official` when a registry answers,
# `offline` otherwise. STACK_IMAGES=offline|official overrides; the answer is cached in
# build/stack-images so the registry is asked once per checkout.
set -euo pipefail
cd "$(dirname "$0")/.."
cache=build/stack-images
if [[ -n ${STACK_IMAGES:-} ]]; then
    [[ $STACK_IMAGES == offline || $STACK_IMAGES == official ]] \
        || { echo "STACK_IMAGES must be offline or official, not '$STACK_IMAGES'" >&2; exit 2; }
    echo "$STACK_IMAGES"
    exit 0
fi
if [[ -s $cache ]]; then cat "$cache"; exit 0; fi
# No engine yet (before `make setup` installed it): nothing to ask, and nothing cached.
if ! docker info >/dev/null 2>&1; then echo offline; exit 0; fi
mkdir -p build
# One light query to the default registry through the engine; no answer within 10 s
# (no network, no DNS, no registry) means offline.
if timeout 10 docker search --limit 1 mongo >/dev/null 2>&1; then answer=official; else answer=offline; fi
echo "$answer" > "$cache"
echo "$answer"
