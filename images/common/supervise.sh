# Sourced by entrypoints that run more than one process (bash >= 5.1).
#   start_child NAME CMD...     long-lived child: if it exits, the container stops
#   start_oneshot NAME CMD...   one-off job beside them: exit 0 is fine, anything else stops all
#   supervise                   wait; on TERM/INT, or when a child dies, stop the others
#                               (SIGTERM, then SIGKILL after SUPERVISE_GRACE s, default 20)
#                               and exit: 0 after a requested stop, 1 otherwise.

declare -A _sv_names=()
declare -A _sv_oneshot=()
_sv_stopping=0

_sv_log() { printf '[%s] %s\n' "${SUPERVISE_TAG:-supervise}" "$*" >&2; }

start_child() {
    local name=$1; shift
    "$@" &
    _sv_names[$!]=$name
    _sv_log "started $name (pid $!)"
}

start_oneshot() {
    local name=$1; shift
    "$@" &
    _sv_names[$!]=$name
    _sv_oneshot[$!]=1
    _sv_log "started $name (pid $!)"
}

_sv_stop_all() {
    local pid deadline=$(( SECONDS + ${SUPERVISE_GRACE:-20} ))
    for pid in "${!_sv_names[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${!_sv_names[@]}"; do
        while kill -0 "$pid" 2>/dev/null; do
            if (( SECONDS >= deadline )); then
                _sv_log "${_sv_names[$pid]} (pid $pid) still running ${SUPERVISE_GRACE:-20}s after SIGTERM; SIGKILL"
                kill -KILL "$pid" 2>/dev/null || true
                break
            fi
            sleep 0.1
        done
    done
    wait 2>/dev/null || true
}

_sv_on_signal() { _sv_stopping=1; }

supervise() {
    trap _sv_on_signal TERM INT
    local rc done_pid name
    while (( ${#_sv_names[@]} )); do
        done_pid=""
        rc=0
        wait -n -p done_pid || rc=$?
        if (( _sv_stopping )); then
            _sv_log "stop requested; stopping ${_sv_names[*]}"
            _sv_stop_all
            exit 0
        fi
        [[ -n $done_pid ]] || continue
        name=${_sv_names[$done_pid]:-pid $done_pid}
        unset "_sv_names[$done_pid]"
        if [[ -n ${_sv_oneshot[$done_pid]:-} && $rc -eq 0 ]]; then
            unset "_sv_oneshot[$done_pid]"
            _sv_log "$name finished"
            continue
        fi
        _sv_log "$name (pid $done_pid) exited with status $rc; stopping the container"
        _sv_stop_all
        exit 1
    done
    exit 1
}
