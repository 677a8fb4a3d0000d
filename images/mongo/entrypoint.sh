#!/bin/bash
# Entrypoint of the mongo role (SecantusDB).
#  1. Provision users (idempotent, see mongo_provision.py): on first start, or when the
#     MONGO_* credentials changed, SecantusDB is started WITHOUT auth on 127.0.0.1:27018
#     only, users are created/updated, it is stopped cleanly and a marker is left on
#     the data volume.
#  2. exec SecantusDB with --auth on 0.0.0.0:27017.
# Env: MONGO_INITDB_ROOT_USERNAME/_PASSWORD (required), MONGO_APP_USERNAME/_PASSWORD
#      (required), MONGO_DATABASE (default ecommerce; the app user gets readWrite on it only),
#      MONGO_CACHE_SIZE (default 256M), MONGO_SYNC_ON_COMMIT=1 (fsync every commit),
#      MONGO_DATA_DIR (default /data/db). Extra arguments are passed to secantusd-py.
set -euo pipefail

log() { printf '[mongo-entrypoint] %s\n' "$*" >&2; }

# `docker run IMAGE some-command` runs that command instead of the server.
if [[ $# -gt 0 && $1 != -* ]]; then
    exec "$@"
fi

export MONGO_DATA_DIR=${MONGO_DATA_DIR:-/data/db}
if [[ ! -w $MONGO_DATA_DIR ]]; then
    log "ERROR: data directory $MONGO_DATA_DIR is not writable by uid $(id -u); mount a volume owned by it"
    exit 1
fi

python3 /usr/local/lib/stackproof/mongo_provision.py

args=(--host 0.0.0.0 --port 27017 --storage-path "$MONGO_DATA_DIR" --standalone
      --cache-size "${MONGO_CACHE_SIZE:-256M}" --auth)
[[ ${MONGO_SYNC_ON_COMMIT:-0} == 1 ]] && args+=(--sync-on-commit)
log "starting secantusd-py ${args[*]} $*"
exec secantusd-py "${args[@]}" "$@"
