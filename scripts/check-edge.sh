#!/usr/bin/env bash
# `nginx -t` on the edge's config (images/edge/nginx.conf) in the edge's own image, mounted
# as compose/edge.yaml mounts it: read-only root, /tmp tmpfs, uid 101, no capabilities, no
# network (the gateway's name is resolved at request time, so none is needed). The
# certificates are a throwaway pair (scripts/make-certs.sh into build/check-edge), so the
# check needs no `make certs` and never touches build/certs.
#
#   scripts/check-edge.sh                 # image: stackproof/edge:$STACK_TAG (offline) or
#                                         # compose/edge.yaml's (official)
#   EDGE_IMAGE=... scripts/check-edge.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ -z ${EDGE_IMAGE:-} ]]; then
    if [[ $("$ROOT/scripts/stack-images.sh") == offline ]]; then
        EDGE_IMAGE=stackproof/edge:${STACK_TAG:-dev}
    else
        EDGE_IMAGE=$(sed -n 's/^ *image: *\(nginxinc\/[^ ]*\)$/\1/p' "$ROOT/compose/edge.yaml")
    fi
fi
WORK=$ROOT/build/check-edge

echo "== edge config check (image $EDGE_IMAGE)"
if [[ $EDGE_IMAGE == stackproof/* ]] && ! docker image inspect "$EDGE_IMAGE" >/dev/null 2>&1; then
    echo "  FAIL  image $EDGE_IMAGE not found locally (build it first: scripts/build-images.sh edge)"
    exit 1
fi
CERT_DIR=$WORK GATEWAY_BIND=127.0.0.1 "$ROOT/scripts/make-certs.sh" 2>/dev/null
if out=$(docker run --rm --network none --read-only --tmpfs /tmp --user 101:101 --cap-drop ALL \
        --security-opt no-new-privileges:true \
        -v "$ROOT/images/edge/nginx.conf:/etc/nginx/nginx.conf:ro" -v "$WORK/edge:/etc/nginx/certs:ro" \
        --entrypoint nginx "$EDGE_IMAGE" -e stderr -t 2>&1); then
    echo "  PASS  nginx -t images/edge/nginx.conf"
    [[ ${VERBOSE:-0} == 1 ]] && printf '%s\n' "$out" | sed 's/^/        /'
    exit 0
fi
echo "  FAIL  nginx -t images/edge/nginx.conf"
printf '%s\n' "$out" | sed 's/^/        /'
exit 1
