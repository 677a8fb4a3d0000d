#!/bin/sh
# Create the Kibana data views gateway-logs* and backend-logs* (time field @timestamp).
# Official profile only; runs once in a curl-capable container (e.g. curlimages/curl) after
# Kibana starts:  sh /init/init.sh
#
# Idempotent: a data view is looked up by its fixed id first, and a "duplicate"/"conflict"
# answer to the create call (someone made it meanwhile, or by hand under another id) counts
# as already present. Needs Kibana 8.x (the /api/data_views API).
#
# Environment:
#   KIBANA_URL        default http://kibana:5601
#   KIBANA_TIMEOUT    seconds to wait for Kibana to become available, default 300
#   KIBANA_POLL_INTERVAL  seconds between status checks, default 5
#   KIBANA_USERNAME / KIBANA_PASSWORD   basic auth, only when Kibana has security enabled
set -eu

KIBANA_URL=${KIBANA_URL:-http://kibana:5601}
KIBANA_TIMEOUT=${KIBANA_TIMEOUT:-300}
POLL_INTERVAL=${KIBANA_POLL_INTERVAL:-5}

log() { printf '%s kibana-init: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$*"; }
fail() { log "ERROR: $*"; exit 1; }

# curl with the common options; prints the body, then the HTTP status on its own last line.
# A connection failure yields status 000 instead of an error.
kibana() {
    method=$1 path=$2
    shift 2
    if [ -n "${KIBANA_USERNAME:-}" ]; then
        set -- --user "${KIBANA_USERNAME}:${KIBANA_PASSWORD:-}" "$@"
    fi
    curl --silent --show-error --max-time 10 \
        --request "$method" \
        --header 'kbn-xsrf: true' \
        --header 'Content-Type: application/json' \
        --write-out '\n%{http_code}' \
        "$@" "${KIBANA_URL}${path}" 2>/dev/null || printf '\n000'
}
status_of() { printf '%s\n' "$1" | tail -n 1; }
body_of() { printf '%s\n' "$1" | sed '$d'; }

# ---- wait for Kibana: GET /api/status answers 200 with overall level available ----
deadline=$(( $(date +%s) + KIBANA_TIMEOUT ))
log "waiting up to ${KIBANA_TIMEOUT}s for ${KIBANA_URL}/api/status to report available"
while :; do
    reply=$(kibana GET /api/status)
    code=$(status_of "$reply")
    # overall level from {"status":{"overall":{"level":"available",...}}} (Kibana 8.x)
    level=$(body_of "$reply" | tr -d '\n' \
        | grep -Eo '"overall"[[:space:]]*:[[:space:]]*\{[^}]*"level"[[:space:]]*:[[:space:]]*"[a-z]+"' \
        | grep -Eo '[a-z]+"$' | tr -d '"' || true)
    case "${code}:${level}" in
        200:available|200:degraded) log "Kibana is ${level}"; break ;;
    esac
    if [ "$(date +%s)" -ge "$deadline" ]; then
        fail "Kibana not available within ${KIBANA_TIMEOUT}s. Endpoint: ${KIBANA_URL}/api/status. Expected: HTTP 200 with overall level available. Last: HTTP ${code}, overall level ${level:-unknown}"
    fi
    sleep "$POLL_INTERVAL"
done

# ---- data views ----
# ensure_data_view ID TITLE NAME
ensure_data_view() {
    id=$1 title=$2 name=$3
    reply=$(kibana GET "/api/data_views/data_view/${id}")
    code=$(status_of "$reply")
    case $code in
        200) log "data view ${title} (id ${id}) already exists"; return 0 ;;
        404) ;;
        *) fail "looking up data view ${id}: HTTP ${code}: $(body_of "$reply")" ;;
    esac

    payload=$(printf '{"data_view":{"id":"%s","title":"%s","name":"%s","timeFieldName":"@timestamp"}}' \
        "$id" "$title" "$name")
    reply=$(kibana POST /api/data_views/data_view --data "$payload")
    code=$(status_of "$reply")
    body=$(body_of "$reply")
    case $code in
        200) log "created data view ${title} (id ${id}, time field @timestamp)" ;;
        400|409)
            if printf '%s' "$body" | grep -Eiq 'duplicate|conflict|already exists'; then
                log "data view ${title} already exists (HTTP ${code}: ${body})"
            else
                fail "creating data view ${title}: HTTP ${code}: ${body}"
            fi ;;
        *) fail "creating data view ${title}: HTTP ${code}: ${body}" ;;
    esac
}

ensure_data_view gateway-logs "gateway-logs*" "Gateway logs"
ensure_data_view backend-logs "backend-logs*" "Backend logs"
log "done"
