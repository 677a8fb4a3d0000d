#!/usr/bin/env bash
# Validate the monitoring configuration with the real tools (promtool, amtool) from the
# offline images, for BOTH variants:
#   production    compose/prometheus, compose/alertmanager
#   verification  build/verify/, generated here by scripts/verify-config.py
# plus the Grafana provisioning (YAML/JSON syntax, panel PromQL parsed by promtool) and the
# Kibana init script (sh -n, shellcheck when installed).
#
#   bash scripts/check-monitoring.sh          # exit 0 only if every check passed
#   PROM_IMAGE=... AM_IMAGE=... VERIFY_DIR=... bash scripts/check-monitoring.sh
#   VERBOSE=1 bash scripts/check-monitoring.sh   # show tool output for passing checks too
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
PROM_IMAGE=${PROM_IMAGE:-stackproof/prometheus:${STACK_TAG:-dev}}
AM_IMAGE=${AM_IMAGE:-stackproof/alertmanager:${STACK_TAG:-dev}}
VERIFY_DIR=${VERIFY_DIR:-$ROOT/build/verify}
WORK_DIR=$ROOT/build/check-monitoring
VERBOSE=${VERBOSE:-0}

passed=0
failed=()

# check NAME COMMAND...: run, print PASS/FAIL with the output indented on failure.
check() {
    local name=$1 out rc
    shift
    out=$("$@" 2>&1)
    rc=$?
    if [ "$rc" -eq 0 ]; then
        printf '  PASS  %s\n' "$name"
        passed=$((passed + 1))
        if [ "$VERBOSE" = 1 ] || [ "${SHOW:-0}" = 1 ]; then
            [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/        /'
        fi
    else
        printf '  FAIL  %s (exit %s)\n' "$name" "$rc"
        [ -n "$out" ] && printf '%s\n' "$out" | sed 's/^/        /'
        failed+=("$name")
    fi
    return 0
}

# Tools run in throwaway containers: no network, the host user (so any readable file
# works), config directories mounted read-only where the real services mount them.
promtool() { # PROM_DIR ARGS...
    local dir=$1
    shift
    docker run --rm --network none --user "$(id -u):$(id -g)" \
        -v "$dir:/etc/prometheus:ro" --entrypoint promtool "$PROM_IMAGE" "$@"
}
amtool() { # AM_DIR ARGS...
    local dir=$1
    shift
    docker run --rm --network none --user "$(id -u):$(id -g)" \
        -v "$dir:/etc/alertmanager:ro" --entrypoint amtool "$AM_IMAGE" "$@"
}

# in_container HOST_DIR CONTAINER_DIR GLOB: container paths of the files matching GLOB
in_container() {
    local host=$1 mount=$2 pattern=$3 f
    for f in "$host"/$pattern; do
        [ -e "$f" ] && printf '%s\n' "$mount/${f#"$host"/}"
    done
}

check_variant() { # LABEL PROM_DIR AM_DIR
    local label=$1 prom=$2 am=$3 rules tests
    echo "[$label] prometheus: ${prom#"$ROOT"/}  alertmanager: ${am#"$ROOT"/}"
    mapfile -t rules < <(in_container "$prom" /etc/prometheus 'rules/*.yml')
    mapfile -t tests < <(in_container "$prom" /etc/prometheus 'tests/*.test.yml')
    check "$label: promtool check config" promtool "$prom" check config /etc/prometheus/prometheus.yml
    if [ "${#rules[@]}" -gt 0 ]; then
        check "$label: promtool check rules (${#rules[@]} file(s))" promtool "$prom" check rules "${rules[@]}"
    else
        check "$label: promtool check rules (no rules/*.yml found)" false
    fi
    if [ "${#tests[@]}" -gt 0 ]; then
        check "$label: promtool test rules (${#tests[@]} file(s))" promtool "$prom" test rules "${tests[@]}"
    else
        check "$label: promtool test rules (no tests/*.test.yml found)" false
    fi
    check "$label: amtool check-config" amtool "$am" check-config /etc/alertmanager/alertmanager.yml
    check "$label: amtool routes Watchdog -> receiver" amtool "$am" config routes test \
        --config.file=/etc/alertmanager/alertmanager.yml --verify.receivers=receiver alertname=Watchdog
    check "$label: amtool routes ServiceDown -> receiver" amtool "$am" config routes test \
        --config.file=/etc/alertmanager/alertmanager.yml --verify.receivers=receiver alertname=ServiceDown job=backend
    check "$label: amtool routes PipelineBroken -> receiver" amtool "$am" config routes test \
        --config.file=/etc/alertmanager/alertmanager.yml --verify.receivers=receiver alertname=PipelineBroken pipeline=logs
}

# Grafana: provisioning YAML parses, dashboard JSON parses, every panel target has a plain
# `expr` with no Grafana variables and a provisioned datasource uid; the exprs are then
# written as recording rules so promtool parses them.
grafana_exprs() {
    python3 - "$ROOT/compose/grafana" "$WORK_DIR/grafana/rules/panels.yml" <<'PY'
import json, pathlib, sys
import yaml
root, out = pathlib.Path(sys.argv[1]), pathlib.Path(sys.argv[2])
uids = set()
for path in sorted((root / "provisioning").rglob("*.yml")):
    doc = yaml.safe_load(path.read_text())
    uids |= {d["uid"] for d in doc.get("datasources", [])}
    print(f"YAML ok: {path.relative_to(root.parent.parent)}")
rules, problems = [], []
for path in sorted((root / "dashboards").glob("*.json")):
    dash = json.loads(path.read_text())
    print(f"JSON ok: {path.relative_to(root.parent.parent)} ({dash.get('title')!r}, {len(dash.get('panels', []))} panels)")
    def flat(items):
        for item in items:
            if item.get("type") == "row":  # a row only groups: its panels carry the queries
                yield from flat(item.get("panels", []))
            else:
                yield item
    for panel in flat(dash.get("panels", [])):
        ds = panel.get("datasource", {})
        if ds.get("uid") not in uids:
            problems.append(f"{panel.get('title')}: datasource uid {ds.get('uid')!r} is not provisioned ({sorted(uids)})")
        targets = panel.get("targets") or []
        if not targets:
            problems.append(f"{panel.get('title')}: no targets")
        for target in targets:
            expr = target.get("expr", "")
            if not expr.strip():
                problems.append(f"{panel.get('title')}/{target.get('refId')}: no expr")
            elif "$" in expr:
                problems.append(f"{panel.get('title')}/{target.get('refId')}: Grafana variable in {expr!r}")
            if target.get("datasource", ds).get("uid") not in uids:
                problems.append(f"{panel.get('title')}/{target.get('refId')}: datasource not provisioned")
            rules.append({"record": f"grafana:panel_{len(rules) + 1}", "expr": expr})
if problems:
    sys.exit("\n".join(problems))
out.parent.mkdir(parents=True, exist_ok=True)
out.parent.chmod(0o755)
out.write_text(yaml.safe_dump({"groups": [{"name": "grafana-panels", "rules": rules}]}, sort_keys=False))
out.chmod(0o644)
print(f"{len(rules)} panel exprs -> {out.relative_to(root.parent.parent)}")
PY
}

echo "== monitoring config checks (prometheus image $PROM_IMAGE, alertmanager image $AM_IMAGE)"
missing=0
for image in "$PROM_IMAGE" "$AM_IMAGE"; do
    if ! docker image inspect "$image" >/dev/null 2>&1; then
        echo "  FAIL  image $image not found locally (build it first: scripts/build-images.sh)"
        missing=1
    fi
done
[ "$missing" = 0 ] || exit 1

echo "[verification] generate with scripts/verify-config.py"
before=${#failed[@]}
SHOW=1 check "verify-config.py -> ${VERIFY_DIR#"$ROOT"/}" python3 "$ROOT/scripts/verify-config.py" "$VERIFY_DIR"
generated=$(( ${#failed[@]} == before ))

check_variant production "$ROOT/compose/prometheus" "$ROOT/compose/alertmanager"
if [ "$generated" = 1 ]; then
    check_variant verification "$VERIFY_DIR/prometheus" "$VERIFY_DIR/alertmanager"
else
    echo "[verification] skipped: verify-config.py failed, ${VERIFY_DIR#"$ROOT"/} may be stale"
fi

echo "[grafana] compose/grafana"
check "grafana: provisioning YAML, dashboard JSON, panel targets" grafana_exprs
if [ -f "$WORK_DIR/grafana/rules/panels.yml" ]; then
    check "grafana: panel exprs parse (promtool check rules)" \
        promtool "$WORK_DIR/grafana" check rules /etc/prometheus/rules/panels.yml
fi

echo "[kibana] compose/kibana"
check "kibana: init.sh syntax (sh -n)" sh -n "$ROOT/compose/kibana/init.sh"
if command -v shellcheck >/dev/null 2>&1; then
    check "kibana: init.sh shellcheck -s sh" shellcheck -s sh "$ROOT/compose/kibana/init.sh"
fi

echo "== ${passed} passed, ${#failed[@]} failed"
if [ "${#failed[@]}" -gt 0 ]; then
    printf '   failed: %s\n' "${failed[@]}"
    exit 1
fi
