#!/bin/bash
# Entrypoint of the minio role: `weed mini` with every port on 127.0.0.1 + nginx on
# 0.0.0.0:9000 (see nginx.conf), supervised together.
# Env: MINIO_ACCESS_KEY / MINIO_SECRET_KEY (or MINIO_ROOT_USER / MINIO_ROOT_PASSWORD):
#        the admin identity (required; secret >= 8 characters);
#      MINIO_BUCKETS: comma-separated buckets to create at start (optional, e.g. ecommerce);
#      MINIO_APP_ACCESS_KEY / MINIO_APP_SECRET_KEY / MINIO_APP_BUCKET: a second identity that may
#        read, write and list objects of MINIO_APP_BUCKET only (the backend's key; optional).
#        SeaweedFS has no admin API to create it later, as objectstore-init does on MinIO.
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
app_key=${MINIO_APP_ACCESS_KEY:-}
app_secret=${MINIO_APP_SECRET_KEY:-}
app_bucket=${MINIO_APP_BUCKET:-}
if [[ -n $app_key || -n $app_secret ]]; then
    [[ -n $app_key && -n $app_secret && -n $app_bucket ]] \
        || die "set MINIO_APP_ACCESS_KEY, MINIO_APP_SECRET_KEY and MINIO_APP_BUCKET together"
    [[ $app_key != "$access_key" ]] || die "MINIO_APP_ACCESS_KEY must differ from the admin key"
    (( ${#app_secret} >= 8 )) || die "the app secret key must have at least 8 characters"
    [[ $app_bucket =~ ^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$ ]] || die "MINIO_APP_BUCKET is not a bucket name: $app_bucket"
fi
for value in "$access_key" "$secret_key" "$app_key" "$app_secret"; do
    [[ -z $value ]] && continue
    [[ $value =~ ^[][A-Za-z0-9\ \!\#\$%\&\'\(\)\*+,./:\;\<=\>?@^_\`{|}~-]+$ ]] \
        || die "access/secret keys may only contain printable ASCII other than '\"' and '\\'"
done
[[ -w /data ]] || die "/data is not writable by uid $(id -u); mount a volume owned by it"
[[ -w /tmp ]] || die "/tmp is not writable; run with a tmpfs on /tmp"

# Identities live on the tmpfs only, readable by this user only.
umask 077
conf_dir=/tmp/stackproof-s3
mkdir -p "$conf_dir"
identities=$(printf '{"name":"admin","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Admin","Read","Write","List","Tagging"]}' \
    "$access_key" "$secret_key")
if [[ -n $app_key ]]; then
    identities+=$(printf ',{"name":"app","credentials":[{"accessKey":"%s","secretKey":"%s"}],"actions":["Read:%s","Write:%s","List:%s","Tagging:%s"]}' \
        "$app_key" "$app_secret" "$app_bucket" "$app_bucket" "$app_bucket" "$app_bucket")
    log "identity app: objects of bucket $app_bucket only"
fi
printf '{"identities":[%s]}\n' "$identities" >"$conf_dir/identities.json"
unset MINIO_ACCESS_KEY MINIO_SECRET_KEY MINIO_ROOT_USER MINIO_ROOT_PASSWORD MINIO_APP_ACCESS_KEY MINIO_APP_SECRET_KEY \
    access_key secret_key app_key app_secret identities value
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
