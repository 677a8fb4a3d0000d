#!/bin/bash
# Entrypoint of the minio role: `weed mini` with every port on 127.0.0.1 + nginx on
# 0.0.0.0:9000 (see nginx.conf), supervised together.
# Env: MINIO_ACCESS_KEY / MINIO_SECRET_KEY (or MINIO_ROOT_USER / MINIO_ROOT_PASSWORD):
#        the admin identity (required; secret >= 8 characters);
#      MINIO_BUCKETS: comma-separated buckets to create at start (optional, e.g. ecommerce);
#      WEED_VOLUME_SIZE_LIMIT_MB (default 64). Extra arguments are passed to `weed mini`.
set -euo pipefail

log() { printf '[minio-entrypoint] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $# -gt 0 && $1 != -* ]]; then
    exec "$@"
fi

access_key=${MINIO_ACCESS_KEY:-${MINIO_ROOT_USER:-}}
secret_key=${MINIO_SECRET_KEY:-${MINIO_ROOT_PASSWORD:-}}
[[ -n $access_key && -n $secret_key ]] \
    || die "set MINIO_ACCESS_KEY and MINIO_SECRET_KEY (or MINIO_ROOT_USER and MINIO_ROOT_PASSWORD)"
(( ${#access_key} >= 3 )) || die "the access key must have at least 3 characters"
(( ${#secret_key} >= 8 )) || die "the secret key must have at least 8 characters"
for value in "$access_key" "$secret_key"; do
    [[ $value =~ ^[][A-Za-z0-9\ \!\#\$%\&\'\(\)\*+,./:\;\<=\>?@^_\`{|}~-]+$ ]] \
        || die "access/secret keys may only contain printable ASCII other than '\"' and '\\'"
done
[[ -w /data ]] || die "/data is not writable by uid $(id -u); mount a volume owned by it"
[[ -w /tmp ]] || die "/tmp is not writable; run with a tmpfs on /tmp"

# Identities live on the tmpfs only, readable by this user only.
umask 077
conf_dir=/tmp/stackproof-s3
mkdir -p "$conf_dir"
printf '{"identities":[{"name":"admin","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}]}\n' \
    "$access_key" "$secret_key" >"$conf_dir/identities.json"
unset MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_ROOT_USER MINIO_ROOT_PASSWORD access_key secret_key value
umask 022

weed_args=(mini -dir=/data
    -ip=127.0.0.1 -ip.bind=127.0.0.1 -metricsIp=127.0.0.1 -metricsPort=9327
    -s3.port=8333 -s3.config="$conf_dir/identities.json"
    -master.telemetry=false -master.volumeSizeLimitMB="${WEED_VOLUME_SIZE_LIMIT_MB:-64}"
    -webdav=false -admin.ui=false -s3.port.iceberg=0 -s3.port.lance=0)
[[ -n ${MINIO_BUCKETS:-} ]] && weed_args+=(-bucket="$MINIO_BUCKETS")

# shellcheck disable=SC2034  # read by supervise.sh
SUPERVISE_TAG=minio-entrypoint
# shellcheck source=../common/supervise.sh
source /usr/local/lib/stackproof/supervise.sh
start_child weed /usr/local/bin/weed "${weed_args[@]}" "$@"
start_child nginx /usr/sbin/nginx -e stderr -g 'daemon off;'
supervise
