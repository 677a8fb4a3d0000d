#!/usr/bin/env bash
# Verify the offline images for real, one container at a time, on a throwaway `--internal`
# docker network, each run hardened as compose will run it:
#   --read-only --tmpfs /tmp --cap-drop ALL --security-opt no-new-privileges --memory 512m
# For every image: wait for its HEALTHCHECK (deadline), talk to it from another container
# on that network with the official client (stackproof/probe: pymongo, minio,
# elasticsearch 8, sentry-sdk, curl), check from inside that it listens on its declared
# port(s) only (/proc/net/tcp{,6} state 0A and unconnected /proc/net/udp{,6} sockets;
# loopback-only listeners are listed but not exposed), that it runs as non-root, and, for
# mongo and sentry, that a restart keeps users / DSNs. Records time to healthy and memory.
#
# Only what this script creates is removed (containers, network, volumes carry the label
# stackproof.verify=<run id>); traffic goes only to that network.
#
# Usage: scripts/verify-images.sh [name...]   (default: all six)
# Env:   TAG (default dev), HEALTH_TIMEOUT (s, default 120), KEEP=1 (leave things running)
set -euo pipefail

TAG=${TAG:-${STACK_TAG:-dev}}
DOCKER=${DOCKER:-$( [[ -x /usr/bin/docker ]] && echo /usr/bin/docker || command -v docker || true)}
HEALTH_TIMEOUT=${HEALTH_TIMEOUT:-120}
RUN_ID=${RUN_ID:-$(date +%s)-$$}
PREFIX=spv-$RUN_ID
NET=$PREFIX-net
LABEL=stackproof.verify=$RUN_ID
# shellcheck disable=SC2054  # the commas belong to the --tmpfs option
HARDEN=(--read-only --tmpfs /tmp:rw,nosuid,nodev,size=256m --cap-drop ALL
        --security-opt no-new-privileges --memory 512m --memory-swap 512m
        --label "$LABEL" --network "$NET")
ALL=(prometheus alertmanager mongo elasticsearch minio sentry)
declare -A EXPECTED_PORTS=([prometheus]=9090 [alertmanager]=9093 [mongo]=27017
                           [elasticsearch]=9200 [minio]=9000 [sentry]=9000)

log() { printf '[verify] %s\n' "$*" >&2; }
die() { printf '[verify] ERROR: %s\n' "$*" >&2; exit 1; }

[[ -n $DOCKER ]] || die "no docker CLI; run scripts/docker-engine.sh"
"$DOCKER" info >/dev/null 2>&1 || die "docker engine not answering; run scripts/docker-engine.sh"
if (( $# )); then images=("$@"); else images=("${ALL[@]}"); fi
for name in "${images[@]}" probe; do
    "$DOCKER" image inspect "stackproof/$name:$TAG" >/dev/null 2>&1 \
        || die "image stackproof/$name:$TAG missing; run scripts/build-images.sh $name"
done

cleanup() {
    [[ ${KEEP:-0} == 1 ]] && { log "KEEP=1: leaving containers/network with label $LABEL"; return; }
    local ids
    ids=$("$DOCKER" ps -aq --filter "label=$LABEL")
    [[ -n $ids ]] && "$DOCKER" rm -f -v $ids >/dev/null 2>&1 || true
    ids=$("$DOCKER" volume ls -q --filter "label=$LABEL")
    [[ -n $ids ]] && "$DOCKER" volume rm $ids >/dev/null 2>&1 || true
    "$DOCKER" network rm "$NET" >/dev/null 2>&1 || true
    log "cleaned up run $RUN_ID"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

"$DOCKER" network create --internal --label "$LABEL" "$NET" >/dev/null
log "network $NET (--internal)"

secret() { head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c "${1:-24}"; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Credentials for this run only (never stored).
MONGO_ROOT_PW=$(secret); MONGO_APP_PW=$(secret)
MINIO_USER=verify$(secret 6); MINIO_PW=$(secret 32)
SENTRY_TOKEN=$(head -c 20 /dev/urandom | od -An -tx1 | tr -d ' \n')

declare -A RESULT=() READY=() HEALTHY=() MEM=() PORTS=() CLIENT=() STOP=()
failures=0
fail() { log "FAIL $1: $2"; RESULT[$1]="FAIL"; failures=$((failures + 1)); }

run_env() {
    case $1 in
        mongo) echo "-e MONGO_INITDB_ROOT_USERNAME=root -e MONGO_INITDB_ROOT_PASSWORD=$MONGO_ROOT_PW -e MONGO_APP_USERNAME=app -e MONGO_APP_PASSWORD=$MONGO_APP_PW -e MONGO_DATABASE=ecommerce" ;;
        minio) echo "-e MINIO_ROOT_USER=$MINIO_USER -e MINIO_ROOT_PASSWORD=$MINIO_PW -e MINIO_BUCKETS=ecommerce" ;;
        sentry) echo "-e BASE_URL=http://sentry:9000 -e SENTRY_API_TOKEN=$SENTRY_TOKEN -v $PREFIX-sentry-shared:/shared" ;;
        *) echo "" ;;
    esac
}

health_cmd() { "$DOCKER" inspect -f '{{json .Config.Healthcheck.Test}}' "$1" | python3 -c 'import json,sys; t=json.load(sys.stdin); print("\n".join(t[1:]))'; }

# Wait until Docker reports healthy; also record when the image's own health command first
# succeeds (Docker 20.10 runs the first check only after `interval`, so that is finer).
wait_healthy() {
    local name=$1 c=$PREFIX-$1 t0=$2 status ready="" deadline
    local -a hc
    mapfile -t hc < <(health_cmd "$c")
    deadline=$(( $(date +%s) + HEALTH_TIMEOUT ))
    while :; do
        status=$("$DOCKER" inspect -f '{{.State.Status}} {{.State.Health.Status}}' "$c" 2>/dev/null || echo "gone -")
        if [[ -z $ready ]] && "$DOCKER" exec "$c" "${hc[@]}" >/dev/null 2>&1; then
            ready=$(elapsed "$t0")
        fi
        case $status in
            "running healthy") break ;;
            "running unhealthy")
                "$DOCKER" inspect -f '{{range .State.Health.Log}}{{.Output}}{{end}}' "$c" | tail -n 5 >&2
                "$DOCKER" logs --tail 30 "$c" >&2 2>&1 || true
                return 1 ;;
            running*) ;;
            *)  log "$name: container is '$status'"; "$DOCKER" logs --tail 40 "$c" >&2 2>&1 || true
                return 1 ;;
        esac
        if (( $(date +%s) >= deadline )); then
            log "$name: not healthy within ${HEALTH_TIMEOUT}s (status: $status)"
            "$DOCKER" logs --tail 40 "$c" >&2 2>&1 || true
            return 1
        fi
        sleep 0.5
    done
    READY[$name]=${ready:-?}
    HEALTHY[$name]=$(elapsed "$t0")
}

# Listening sockets from inside the container; exposed = not loopback.
check_ports() {
    local name=$1 c=$PREFIX-$1
    local dump
    dump=$(mktemp)
    "$DOCKER" exec "$c" sh -c 'for f in tcp tcp6 udp udp6; do echo "## $f"; cat /proc/net/$f; done' >"$dump"
    python3 - "$name" "${EXPECTED_PORTS[$name]}" "$dump" <<'PY' || { rm -f "$dump"; return 1; }
import ipaddress, sys
name, expected = sys.argv[1], {int(p) for p in sys.argv[2].split(",")}
proto, exposed, internal = None, set(), set()
for line in open(sys.argv[3]):
    parts = line.split()
    if line.startswith("## "):
        proto = parts[1]; continue
    if len(parts) < 4 or parts[0] == "sl":
        continue
    local, remote, state = parts[1], parts[2], parts[3]
    hexip, hexport = local.split(":")
    port = int(hexport, 16)
    if proto.startswith("tcp") and state != "0A":
        continue                          # only LISTEN
    if proto.startswith("udp") and (state != "07" or not remote.startswith("0" * (len(remote) - 5))):
        continue                          # only unconnected (bound) UDP sockets
    raw = bytes.fromhex(hexip)
    if len(raw) == 4:
        ip = ipaddress.IPv4Address(raw[::-1])
    else:
        ip = ipaddress.IPv6Address(b"".join(raw[i:i + 4][::-1] for i in range(0, 16, 4)))
        ip = ip.ipv4_mapped or ip
    desc = f"{proto}:{ip}:{port}"
    if str(ip) == "127.0.0.11":
        continue                          # Docker's embedded DNS resolver
    (internal if ip.is_loopback else exposed).add((port, desc))
got = {p for p, _ in exposed}
ok = got == expected
print(("PASS" if ok else "FAIL") + f" exposed={sorted(d for _, d in exposed)} expected={sorted(expected)}"
      + f" loopback-only={sorted(p for p, _ in internal)}")
sys.exit(0 if ok else 1)
PY
    rm -f "$dump"
}

probe() {  # probe NAME SCRIPT-ON-STDIN [extra docker args...]
    local name=$1; shift
    "$DOCKER" run -i --rm --name "$PREFIX-probe-$name" "${HARDEN[@]}" "$@" \
        -e MONGO_APP_PW="$MONGO_APP_PW" -e MONGO_ROOT_PW="$MONGO_ROOT_PW" \
        -e MINIO_USER="$MINIO_USER" -e MINIO_PW="$MINIO_PW" -e SENTRY_TOKEN="$SENTRY_TOKEN" \
        "stackproof/probe:$TAG" python3 -
}

client_check() {
    local name=$1
    case $name in
    prometheus) probe "$name" <<'PY'
import requests
r = requests.get("http://prometheus:9090/api/v1/query", params={"query": "up"}, timeout=10)
r.raise_for_status(); assert r.json()["status"] == "success", r.text
b = requests.get("http://prometheus:9090/api/v1/status/buildinfo", timeout=10).json()["data"]
print(f"query API ok, Prometheus {b['version']}")
PY
    ;;
    alertmanager) probe "$name" <<'PY'
import requests, time
base = "http://alertmanager:9093/api/v2"
st = requests.get(f"{base}/status", timeout=10).json()
alert = [{"labels": {"alertname": "VerifyImages", "severity": "info"}, "annotations": {"summary": "probe"}}]
requests.post(f"{base}/alerts", json=alert, timeout=10).raise_for_status()
deadline = time.monotonic() + 10
while time.monotonic() < deadline:
    got = [a for a in requests.get(f"{base}/alerts", timeout=10).json() if a["labels"].get("alertname") == "VerifyImages"]
    if got: break
    time.sleep(0.2)
assert got, "posted alert not listed"
print(f"v2 API ok, Alertmanager {st['versionInfo']['version']}, cluster {st['cluster']['status']}, alert round-trip ok")
PY
    ;;
    mongo) probe "$name" <<'PY'
import os, uuid
from pymongo import MongoClient, WriteConcern
from pymongo.errors import OperationFailure
app = MongoClient(f"mongodb://app:{os.environ['MONGO_APP_PW']}@mongo:27017/ecommerce", serverSelectionTimeoutMS=5000)
col = app.ecommerce.get_collection("verify", write_concern=WriteConcern(w=1, j=True))
col.create_index("sku", unique=True)
before = col.count_documents({})
sku = f"verify-{uuid.uuid4()}"
col.insert_one({"sku": sku})
try:
    col.insert_one({"sku": sku}); raise SystemExit("duplicate key accepted")
except OperationFailure as e:
    assert e.code == 11000, e
assert col.count_documents({"sku": sku}) == 1
assert col.count_documents({}) == before + 1
for what, fn in [("other db", lambda: app.other.x.insert_one({})),
                 ("createUser", lambda: app.admin.command("createUser", "x", pwd="y", roles=["root"]))]:
    try: fn(); raise SystemExit(f"app user allowed: {what}")
    except OperationFailure: pass
root = MongoClient(f"mongodb://root:{os.environ['MONGO_ROOT_PW']}@mongo:27017/admin", serverSelectionTimeoutMS=5000)
roles = root.ecommerce.command("usersInfo", "app")["users"][0]["roles"]
bad = MongoClient("mongodb://app:wrong@mongo:27017/ecommerce", serverSelectionTimeoutMS=3000)
try: bad.ecommerce.x.find_one(); raise SystemExit("wrong password accepted")
except OperationFailure: pass
anon = MongoClient("mongodb://mongo:27017", serverSelectionTimeoutMS=3000)
try: anon.ecommerce.x.find_one(); raise SystemExit("unauthenticated read accepted")
except OperationFailure: pass
print(f"pymongo: j=True write+E11000 ok ({before} docs before), app roles {roles}, "
      "other db/createUser/wrong pw/anonymous denied")
PY
    ;;
    elasticsearch) probe "$name" <<'PY'
import requests
from elasticsearch import Elasticsearch, helpers
h = requests.get("http://elasticsearch:9200/_cluster/health", timeout=10).json()
ctl = requests.post("http://elasticsearch:9200/_osmem/clones", timeout=10).status_code
assert ctl == 403, f"/_osmem control API answered {ctl}"
es = Elasticsearch("http://elasticsearch:9200", request_timeout=10)
es.indices.create(index="gateway-logs-verify", mappings={"properties": {"level": {"type": "keyword"}}})
n, _ = helpers.bulk(es, ({"_index": "gateway-logs-verify", "_source": {"level": "error" if i % 4 == 0 else "info", "msg": f"m{i}"}} for i in range(200)), refresh=True)
r = es.search(index="gateway-logs-*", size=0, aggs={"lv": {"terms": {"field": "level"}}})
counts = {b["key"]: b["doc_count"] for b in r["aggregations"]["lv"]["buckets"]}
assert counts == {"info": 150, "error": 50}, counts
print(f"health {h['status']}, elasticsearch-py 8 unmodified: bulk {n} + terms agg ok, /_osmem -> 403")
PY
    ;;
    minio) probe "$name" <<'PY'
import datetime, io, os, socket, urllib.request, urllib.error
import requests
from minio import Minio
from minio.commonconfig import ENABLED
from minio.versioningconfig import VersioningConfig
from minio.error import S3Error
for p in ("/minio/health/live", "/minio/health/ready"):
    assert requests.get(f"http://minio:9000{p}", timeout=5).status_code == 200, p
metrics = requests.get("http://minio:9000/minio/v2/metrics/cluster", timeout=5).text
assert "SeaweedFS_s3_request" in metrics or "go_goroutines" in metrics
m = Minio("minio:9000", access_key=os.environ["MINIO_USER"], secret_key=os.environ["MINIO_PW"], secure=False)
assert m.bucket_exists("ecommerce"), "bucket ecommerce not created at start"
m.set_bucket_versioning("ecommerce", VersioningConfig(ENABLED))
assert m.get_bucket_versioning("ecommerce").status == "Enabled"
m.put_object("ecommerce", "products/p1.png", io.BytesIO(b"a" * 1000), 1000, content_type="image/png")
m.put_object("ecommerce", "products/p1.png", io.BytesIO(b"b" * 1000), 1000, content_type="image/png")
versions = [o.version_id for o in m.list_objects("ecommerce", prefix="products/p1.png", include_version=True)]
assert len(versions) == 2, versions
big = b"z" * (11 * 1024 * 1024)
m.put_object("ecommerce", "big.bin", io.BytesIO(big), len(big), part_size=5 * 1024 * 1024)
url = m.presigned_get_object("ecommerce", "products/p1.png", expires=datetime.timedelta(minutes=5))
assert urllib.request.urlopen(url).read() == b"b" * 1000
def denied(u):
    try: urllib.request.urlopen(u); return False
    except urllib.error.HTTPError as e: return e.code == 403
assert denied(url.replace("X-Amz-Signature=", "X-Amz-Signature=0")), "tampered presigned URL accepted"
assert denied("http://minio:9000/ecommerce/products/p1.png"), "anonymous read accepted"
try:
    Minio("minio:9000", access_key=os.environ["MINIO_USER"], secret_key="wrong-secret", secure=False).list_buckets()
    raise SystemExit("wrong secret accepted")
except S3Error as e:
    assert e.code in ("SignatureDoesNotMatch", "AccessDenied", "InvalidAccessKeyId"), e.code
open_ports = []
for port in (7333, 8333, 8888, 9001, 9327, 9333, 9340, 18333, 18888, 19000, 19333, 19340, 23646, 33646):
    s = socket.socket(); s.settimeout(1)
    try: s.connect(("minio", port)); open_ports.append(port)
    except OSError: pass
    finally: s.close()
assert not open_ports, f"weed ports reachable from the network: {open_ports}"
print("minio-py: bucket/versioning/multipart/presigned ok; wrong secret, tampered URL, anonymous denied; "
      "health+metrics paths ok; no weed port reachable from the network")
PY
    ;;
    sentry) probe "$name" -v "$PREFIX-sentry-shared:/shared:ro" <<'PY'
import json, os, time, requests, sentry_sdk
dsns = json.load(open("/shared/sentry-dsns.json"))
assert set(dsns) == {"gateway", "backend"}, dsns
env = open("/shared/sentry-dsns.env").read()
assert "SENTRY_DSN_GATEWAY=" in env and "SENTRY_DSN_BACKEND=" in env
assert all("@sentry:9000/" in d for d in dsns.values()), dsns
assert requests.get("http://sentry:9000/health/ready", timeout=5).status_code == 200
sentry_sdk.init(dsn=dsns["backend"])
try: 1 / 0
except ZeroDivisionError as exc: sentry_sdk.capture_exception(exc)
sentry_sdk.flush(5)
h = {"Authorization": f"Bearer {os.environ['SENTRY_TOKEN']}"}
project = dsns["backend"].rsplit("/", 1)[1]
deadline = time.monotonic() + 30
issues = []
while time.monotonic() < deadline and not issues:
    issues = requests.get(f"http://sentry:9000/api/canonical/0/issues/?project={project}", headers=h, timeout=5).json().get("results", [])
    time.sleep(0.3)
assert issues, "event not visible through the REST API within 30 s"
assert requests.get("http://sentry:9000/api/canonical/0/projects/", timeout=5).status_code in (401, 403)
key = dsns["backend"].split("//")[1].split("@")[0]
bad_dsn = dsns["backend"].replace(key, "0" * 32)
r = requests.post(f"http://sentry:9000/api/{project}/envelope/",
                  data=json.dumps({"dsn": bad_dsn}) + '\n{"type":"event"}\n{}\n',
                  headers={"X-Sentry-Auth": "Sentry sentry_key=" + "0" * 32}, timeout=5)
assert r.status_code == 403, r.status_code
print(f"sentry-sdk event -> issue via REST ok ({issues[0].get('calculated_type')}); DSNs from shared volume; "
      "wrong key 403, no token 401/403")
PY
    ;;
    esac
}

restart_check() {  # restart keeps state: users (mongo), projects/DSNs (sentry)
    local name=$1 c=$PREFIX-$1 before after t0
    case $name in
        mongo|sentry) ;;
        *) return 0 ;;
    esac
    [[ $name == sentry ]] && before=$("$DOCKER" exec "$c" cat /shared/sentry-dsns.json)
    "$DOCKER" restart -t 30 "$c" >/dev/null
    t0=$(now)
    wait_healthy "$name" "$t0" || return 1
    if [[ $name == sentry ]]; then
        after=$("$DOCKER" exec "$c" cat /shared/sentry-dsns.json)
        [[ $before == "$after" ]] || { log "sentry: DSNs changed across restart"; return 1; }
        echo "restart: healthy again in ${HEALTHY[$name]}s, DSNs unchanged"
    else
        "$DOCKER" logs "$c" 2>&1 | grep -q 'already provisioned' || { log "mongo: provisioning ran again"; return 1; }
        out=$(client_check mongo) || return 1
        [[ $out == *"(1 docs before)"* ]] || { log "mongo: data not kept across restart: $out"; return 1; }
        echo "restart: healthy again in ${HEALTHY[$name]}s, users and data kept (provisioning skipped)"
    fi
}

for name in "${images[@]}"; do
    c=$PREFIX-$name
    RESULT[$name]=PASS
    log "── $name: starting stackproof/$name:$TAG"
    [[ $name == sentry ]] && "$DOCKER" volume create --label "$LABEL" "$PREFIX-sentry-shared" >/dev/null
    t0=$(now)
    # shellcheck disable=SC2046
    "$DOCKER" run -d --name "$c" --network-alias "$name" "${HARDEN[@]}" $(run_env "$name") \
        "stackproof/$name:$TAG" >/dev/null
    if ! wait_healthy "$name" "$t0"; then fail "$name" "not healthy"; continue; fi
    log "$name: health command ok after ${READY[$name]}s, Docker healthy after ${HEALTHY[$name]}s"
    user=$("$DOCKER" exec "$c" id -u)
    [[ $user != 0 ]] || fail "$name" "runs as root"
    if out=$(client_check "$name" 2>&1); then CLIENT[$name]=$(tail -n 1 <<<"$out"); log "$name: ${CLIENT[$name]}"
    else printf '%s\n' "$out" >&2; fail "$name" "client check"; CLIENT[$name]="FAILED"; fi
    if out=$(check_ports "$name"); then PORTS[$name]=$out
    else PORTS[$name]=$out; fail "$name" "listening ports: $out"; fi
    log "$name: ports ${PORTS[$name]}"
    MEM[$name]=$("$DOCKER" stats --no-stream --format '{{.MemUsage}}' "$c" | cut -d/ -f1 | tr -d ' ')
    if out=$(restart_check "$name" 2>&1); then [[ -n $out ]] && log "$name: $out"
    else printf '%s\n' "$out" >&2; fail "$name" "restart"; fi
    if [[ ${KEEP:-0} != 1 ]]; then
        t0=$(now)
        "$DOCKER" stop -t 30 "$c" >/dev/null
        STOP[$name]=$(elapsed "$t0")
        if awk -v s="${STOP[$name]}" 'BEGIN { exit !(s > 10) }'; then
            log "$name: slow stop (${STOP[$name]}s); last log lines:"
            "$DOCKER" logs -t --tail 15 "$c" >&2 2>&1 || true
        fi
        code=$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$c")
        STOP[$name]+="(exit $code)"
        [[ $code == 0 || $code == 143 ]] || fail "$name" "unclean stop: exit code $code"
        "$DOCKER" rm -f -v "$c" >/dev/null
    fi
    log "$name: uid $user, memory ${MEM[$name]}, docker stop ${STOP[$name]:-skipped}s"
done

printf '\n%-14s %-6s %8s %10s %10s %13s  %s\n' image result ready_s healthy_s memory stop_s ports >&2
for name in "${images[@]}"; do
    printf '%-14s %-6s %8s %10s %10s %13s  %s\n' "$name" "${RESULT[$name]}" "${READY[$name]:--}" \
        "${HEALTHY[$name]:--}" "${MEM[$name]:--}" "${STOP[$name]:--}" "${PORTS[$name]:--}" >&2
done
(( failures == 0 )) || die "$failures check(s) failed"
log "all ${#images[@]} image(s) verified"
