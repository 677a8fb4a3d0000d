#!/usr/bin/env bash
# Write .env from .env.example with every <placeholder> replaced by a generated secret.
# Never overwrites an existing .env: a setting .env.example gained since it was written
# (e.g. MINIO_APP_ACCESS_KEY) is appended to it, generated the same way; the rest is kept.
# Usage: scripts/make-env.sh [TARGET] (default .env)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-.env}
command -v openssl >/dev/null || { echo "[env] ERROR: openssl is needed to generate secrets" >&2; exit 1; }
umask 077
placeholder='^([A-Z0-9_]+)=<[^>]*>$'

generate() {
    case $1 in
        SENTRY_API_TOKEN) openssl rand -hex 20 ;;                  # Bugsink wants 40 hex
        SENTRY_SECRET_KEY) openssl rand -hex 32 ;;                 # Bugsink's check --deploy: >= 50
        MINIO_ACCESS_KEY) echo "stackproof-$(openssl rand -hex 6)" ;;
        MINIO_APP_ACCESS_KEY) echo "stackproof-app-$(openssl rand -hex 6)" ;;
        *)                openssl rand -hex 24 ;;                  # hex: safe in URIs
    esac
}

if [[ -e $target ]]; then
    added=()
    while IFS= read -r line; do
        if [[ $line =~ $placeholder ]] && ! grep -q "^${BASH_REMATCH[1]}=" "$target"; then
            name=${BASH_REMATCH[1]}
            printf '%s=%s\n' "$name" "$(generate "$name")" >>"$target"
            added+=("$name")
        fi
    done < .env.example
    if (( ${#added[@]} )); then
        echo "[env] $target kept; appended generated ${added[*]} (new in .env.example)"
    else
        echo "[env] $target exists: left as it is"
    fi
    exit 0
fi
while IFS= read -r line; do
    if [[ $line =~ $placeholder ]]; then
        printf '%s=%s\n' "${BASH_REMATCH[1]}" "$(generate "${BASH_REMATCH[1]}")"
    else
        printf '%s\n' "$line"
    fi
done < .env.example > "$target"
echo "[env] wrote $target with generated secrets (mode 600)"
