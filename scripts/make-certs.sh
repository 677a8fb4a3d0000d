#!/usr/bin/env bash
# A local CA and a server certificate for the edge (compose/edge.yaml), for development and
# CI; production uses certbot (README, "Edge"). Written to CERT_DIR (default build/certs):
#   ca.crt        the CA to trust (the tls layer verifies the edge's chain against it)
#   ca.key        the CA's key: never mounted anywhere
#   edge/server.crt  the edge's certificate followed by the CA (the chain nginx serves)
#   edge/server.key  its key, readable by the edge's uid 101 only (when run as root)
# edge/ is the directory compose/edge.yaml mounts (EDGE_CERT_DIR): the CA's key stays out.
# SAN: localhost, 127.0.0.1, edge, the GATEWAY_BIND address (unless 0.0.0.0) and any of
# CERT_SAN (comma-separated names or addresses). Idempotent: the CA is kept; the server
# certificate is re-issued only when missing, not made by that CA, lacking one of the
# names, or expiring within 30 days.
#
# Usage: GATEWAY_BIND=127.0.0.13 scripts/make-certs.sh
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DIR=${CERT_DIR:-$ROOT/build/certs}
EDGE_UID=101
DAYS=${CERT_DAYS:-825}   # the longest validity clients accept for a server certificate

log() { printf '[certs] %s\n' "$*" >&2; }

names=(DNS:localhost IP:127.0.0.1 DNS:edge)
add() { # NAME-OR-ADDRESS
    local entry
    if [[ $1 =~ ^[0-9.]+$ || $1 == *:* ]]; then entry=IP:$1; else entry=DNS:$1; fi
    [[ " ${names[*]} " == *" $entry "* ]] || names+=("$entry")
}
bind=${GATEWAY_BIND:-127.0.0.1}
[[ $bind == 0.0.0.0 || $bind == "::" ]] || add "$bind"
IFS=, read -ra extra <<<"${CERT_SAN:-}"
for name in "${extra[@]}"; do [[ -n $name ]] && add "$name"; done
san=$(IFS=,; echo "${names[*]}")

mkdir -p "$DIR/edge"
cd "$DIR"

if [[ ! -s ca.key || ! -s ca.crt ]]; then
    log "new CA in ${DIR#"$ROOT"/}/ca.crt"
    (umask 077; openssl ecparam -name prime256v1 -genkey -noout -out ca.key)
    openssl req -x509 -new -key ca.key -sha256 -days 3650 -subj "/CN=stackproof local CA" \
        -addext "basicConstraints=critical,CA:TRUE,pathlen:0" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" -out ca.crt
    rm -f edge/server.crt
fi

current() { # the server certificate is there, from this CA, with every name, valid 30 more days
    [[ -s edge/server.crt && -s edge/server.key ]] || return 1
    openssl verify -CAfile ca.crt edge/server.crt >/dev/null 2>&1 || return 1
    openssl x509 -in edge/server.crt -noout -checkend $((30 * 86400)) >/dev/null || return 1
    local have
    have=$(openssl x509 -in edge/server.crt -noout -ext subjectAltName | tail -n +2 | tr -d ' ' | sed 's/IPAddress:/IP:/g')
    local name
    for name in "${names[@]}"; do [[ ",$have," == *",$name,"* ]] || return 1; done
}

if current; then
    log "server certificate current (SAN ${san})"
else
    log "server certificate for ${san}"
    (umask 077; openssl ecparam -name prime256v1 -genkey -noout -out edge/server.key)
    openssl req -new -key edge/server.key -subj "/CN=edge" -out server.csr
    printf '%s\n' "subjectAltName=${san}" "basicConstraints=critical,CA:FALSE" \
        "keyUsage=critical,digitalSignature" "extendedKeyUsage=serverAuth" > server.ext
    openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -sha256 \
        -days "$DAYS" -extfile server.ext -out leaf.crt 2>/dev/null
    cat leaf.crt ca.crt > edge/server.crt
    rm -f server.csr server.ext leaf.crt ca.srl
fi

# The edge runs as uid 101 with no capabilities: it must own its key to read it. Not root
# here, that cannot be arranged, and the key (a development key) is made world-readable.
if [[ $(id -u) == 0 ]]; then
    chown "$EDGE_UID:$EDGE_UID" edge/server.key
    chmod 0600 edge/server.key
else
    chmod 0644 edge/server.key
fi
chmod 0644 ca.crt edge/server.crt
chmod 0755 . edge
