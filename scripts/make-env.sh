#!/usr/bin/env bash
# Write .env from .env.example with every <placeholder> replaced by a generated secret.
# Never overwrites an existing .env. Usage: scripts/make-env.sh [TARGET] (default .env)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-.env}
if [[ -e $target ]]; then
    echo "[env] $target exists: left as it is"
    exit 0
fi
command -v openssl >/dev/null || { echo "[env] ERROR: openssl is needed to generate secrets" >&2; exit 1; }
umask 077
placeholder='^([A-Z0-9_]+)=<[^>]*>$'
while IFS= read -r line; do
    if [[ $line =~ $placeholder ]]; then
        name=${BASH_REMATCH[1]}
        case $name in
            SENTRY_API_TOKEN) value=$(openssl rand -hex 20) ;;          # Bugsink wants 40 hex
            SENTRY_SECRET_KEY) value=$(openssl rand -hex 32) ;;         # Bugsink's check --deploy: >= 50
            MINIO_ACCESS_KEY) value=stackproof-$(openssl rand -hex 6) ;;
            *)                value=$(openssl rand -hex 24) ;;          # hex: safe in URIs
        esac
        printf '%s=%s\n' "$name" "$value"
    else
        printf '%s\n' "$line"
    fi
done < .env.example > "$target"
echo "[env] wrote $target with generated secrets (mode 600)"
