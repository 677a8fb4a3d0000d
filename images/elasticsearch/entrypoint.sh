#!/bin/bash
# Entrypoint of the elasticsearch role: osmem-server on 127.0.0.1:9201 + nginx on 0.0.0.0:9200,
# supervised together (if either exits, the container exits).
# Env: OSMEM_JAPANESE=1 keeps Japanese analysis (+~150 MiB; off by default).
# Extra arguments are passed to osmem-server (e.g. -seed DIR).
set -euo pipefail

if [[ $# -gt 0 && $1 != -* ]]; then
    exec "$@"
fi

# shellcheck disable=SC2034  # read by supervise.sh
SUPERVISE_TAG=elasticsearch-entrypoint
# shellcheck source=../common/supervise.sh
source /usr/local/lib/stackproof/supervise.sh

osmem_args=(-addr 127.0.0.1:9201 -no-stdin-watch)
[[ ${OSMEM_JAPANESE:-0} == 1 ]] || osmem_args+=(-no-ja)

start_child osmem-server /usr/local/bin/osmem-server "${osmem_args[@]}" "$@"
start_child nginx /usr/sbin/nginx -e stderr -g 'daemon off;'
supervise
