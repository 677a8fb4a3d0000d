#!/bin/bash
# Entrypoint of the sentry role (Bugsink): migrate, then gunicorn (0.0.0.0:$PORT) + snappea
# worker, supervised together, plus a one-off provisioning job (stackproof_provision.py).
# Env (see also Bugsink's docker settings, all read at run time):
#   BASE_URL          URL other containers use, ends up in the DSNs (default http://sentry:9000)
#   SECRET_KEY        Django secret (>= 50 chars); if unset, generated once into /data/secret_key
#   SENTRY_API_TOKEN  40 hex chars: ensured as a full-access API token; if unset one is
#                     generated once into /data/api-token (0600)
#   SENTRY_TEAM (ecommerce), SENTRY_PROJECTS (gateway,backend), SENTRY_SHARED_DIR (/shared)
#   GUNICORN_WORKERS (2), SNAPPEA_NUM_WORKERS (2), CREATE_SUPERUSER (email:password, optional)
set -euo pipefail

log() { printf '[sentry-entrypoint] %s\n' "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

if [[ $# -gt 0 && $1 != -* ]]; then
    exec "$@"
fi

data_dir=$(dirname "${DATABASE_PATH:-/data/db.sqlite3}")
[[ -w $data_dir ]] || die "$data_dir is not writable by uid $(id -u); mount a volume owned by it"
[[ -w /tmp ]] || die "/tmp is not writable; run with a tmpfs on /tmp (snappea's queue lives there)"
shared=${SENTRY_SHARED_DIR:-/shared}
[[ -w $shared ]] || die "$shared is not writable by uid $(id -u); mount a volume owned by it"

if [[ -z ${SECRET_KEY:-} ]]; then
    if [[ ! -s $data_dir/secret_key ]]; then
        (umask 077; python3 -c 'import secrets; print(secrets.token_urlsafe(64))' >"$data_dir/secret_key")
        log "generated SECRET_KEY into $data_dir/secret_key"
    fi
    SECRET_KEY=$(<"$data_dir/secret_key")
    export SECRET_KEY
fi
if [[ -z ${ALLOWED_HOSTS:-} ]]; then
    base_host=${BASE_URL#*://}; base_host=${base_host%%/*}; base_host=${base_host%%:*}
    export ALLOWED_HOSTS="$base_host,localhost,127.0.0.1"
fi
rm -f /tmp/stackproof-provisioned

start=$SECONDS
bugsink-manage migrate --noinput -v 0
bugsink-manage migrate snappea --database=snappea --noinput -v 0
bugsink-manage prestart
log "database ready in $(( SECONDS - start ))s (BASE_URL=$BASE_URL)"

# shellcheck disable=SC2034  # read by supervise.sh
SUPERVISE_TAG=sentry-entrypoint
# shellcheck source=../common/supervise.sh
source /usr/local/lib/stackproof/supervise.sh
start_child gunicorn gunicorn --config /opt/venv/lib/python3.11/site-packages/bugsink/gunicorn.docker.conf.py \
    --workers "${GUNICORN_WORKERS:-2}" --bind "0.0.0.0:${PORT:-9000}" --worker-tmp-dir /tmp \
    --access-logfile - --error-logfile - bugsink.wsgi
start_child snappea bugsink-runsnappea
start_oneshot provision python3 /opt/bugsink/stackproof_provision.py
supervise
