#!/usr/bin/env bash
# Make a Docker engine available on this machine (Debian 12, root, no systemd).
#
# Idempotent: if `docker info` already answers, nothing is installed or started.
# Otherwise installs Debian's docker.io + iptables and starts ONE dockerd in the
# background (log: $DOCKERD_LOG), then polls `docker info` against a deadline.
# It never starts a second dockerd and never stops any process.
#
# Prefer Debian's CLI (/usr/bin/docker): a docker 28 CLI at /usr/local/bin/docker
# fails with BuildKit ("buildx component is missing") against this engine.
#
# Env: DOCKERD_LOG (default /var/log/dockerd.log), DOCKER_START_TIMEOUT (s, default 60)
set -euo pipefail

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd.log}
DOCKER_START_TIMEOUT=${DOCKER_START_TIMEOUT:-60}

log() { printf '[docker-engine] %s\n' "$*" >&2; }
die() { printf '[docker-engine] ERROR: %s\n' "$*" >&2; exit 1; }

docker_cli() {
    if [[ -x /usr/bin/docker ]]; then echo /usr/bin/docker
    elif command -v docker >/dev/null 2>&1; then command -v docker
    else echo ""
    fi
}

engine_up() {
    local cli; cli=$(docker_cli)
    [[ -n "$cli" ]] && "$cli" info >/dev/null 2>&1
}

# PIDs of running dockerd processes (reads /proc: works without procps).
dockerd_pids() {
    local p
    for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == dockerd ]] && printf '%s ' "${p#/proc/}"
    done
    return 0
}

start=$(date +%s)

if engine_up; then
    log "engine already answering ($("$(docker_cli)" version --format '{{.Server.Version}}' 2>/dev/null || echo '?')); nothing to do"
    exit 0
fi

[[ $(id -u) -eq 0 ]] || die "docker is not answering and installing/starting it needs root (run: sudo $0)"

if ! command -v dockerd >/dev/null 2>&1 || ! command -v iptables >/dev/null 2>&1 || [[ ! -x /usr/bin/docker ]]; then
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-cache policy docker.io 2>/dev/null | grep -q 'Candidate: [0-9]'; then
        log "apt-get update"
        apt-get update -qq || die "apt-get update failed"
    fi
    log "installing docker.io iptables"
    apt-get install -y -qq --no-install-recommends docker.io iptables >/dev/null \
        || die "apt-get install docker.io iptables failed"
fi

# Never start a second daemon: if a dockerd process exists, only wait for it.
running=$(dockerd_pids)
if [[ -n $running ]]; then
    log "a dockerd is already running (pid ${running% }); waiting for it, not starting another"
else
    [[ -S /var/run/docker.sock ]] && log "stale /var/run/docker.sock with no dockerd; dockerd will replace it"
    log "starting dockerd (log: $DOCKERD_LOG)"
    mkdir -p "$(dirname "$DOCKERD_LOG")"
    nohup dockerd >>"$DOCKERD_LOG" 2>&1 </dev/null &
    log "dockerd pid $!"
fi

deadline=$(( $(date +%s) + DOCKER_START_TIMEOUT ))
until engine_up; do
    if (( $(date +%s) >= deadline )); then
        log "last lines of $DOCKERD_LOG:"
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        die "docker engine did not answer 'docker info' within ${DOCKER_START_TIMEOUT}s"
    fi
    if [[ -z $(dockerd_pids) ]]; then
        tail -n 20 "$DOCKERD_LOG" >&2 || true
        die "dockerd exited during start-up (see $DOCKERD_LOG)"
    fi
    sleep 0.5
done

log "engine up: server $("$(docker_cli)" version --format '{{.Server.Version}}') via $(docker_cli) in $(( $(date +%s) - start ))s"
