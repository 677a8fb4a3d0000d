"""GET /api/products through the gateway vs directly against the backend.

Both run as real uvicorn processes against the real MongoDB- and S3-role servers; wrk
drives them in alternating rounds (direct, gateway, gateway, direct, ...) so drift on
the machine hits both sides alike. Printed: requests/s, p50 and p99 per side (median
over rounds) and the ratio gateway ÷ direct. Goal: ratio ≥ 0.8.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import statistics
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from minio import Minio

from tests.apps import ServiceProcess, backend_env
from tests.servers import MongoServer, ObjectStore

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Run:
    side: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(side: str, url: str, seconds: int, connections: int) -> Run:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.M))
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(side, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
               _ms(percentiles["50"]), _ms(percentiles["99"]), errors + (int(non_2xx.group(1)) if non_2xx else 0))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="length of one round (default 8)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds per side (default 3)")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        print("bench: wrk is not installed (Debian package 'wrk'; `make bench` installs it as root)", file=sys.stderr)
        return 2

    print("bench: starting MongoDB-role and S3-role servers, backend and gateway …", flush=True)
    with MongoServer() as mongo, ObjectStore() as store:
        Minio(store.endpoint, store.access_key, store.secret_key, secure=False).make_bucket("ecommerce")
        env = backend_env(mongo, store, LOG_LEVEL="warning")
        with ServiceProcess("backend", env, "/api/health") as backend, \
             ServiceProcess("gateway", {"BACKEND_URL": backend.url, "LOG_LEVEL": "warning"}, "/health") as gateway:
            for n in range(20):
                httpx.post(f"{backend.url}/api/products", json={"name": f"bench {n}", "price": n}).raise_for_status()
            urls = {"direct": f"{backend.url}/api/products", "gateway": f"{gateway.url}/api/products"}
            for side, url in urls.items():  # warm-up: connection pools, caches
                wrk(side, url, 2, args.connections)
            runs: list[Run] = []
            for round_no in range(args.rounds):
                order = ["direct", "gateway"] if round_no % 2 == 0 else ["gateway", "direct"]
                for side in order:
                    run = wrk(side, urls[side], args.seconds, args.connections)
                    runs.append(run)
                    print(f"  round {round_no + 1} {side:8s} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms  "
                          f"p99 {run.p99_ms:7.2f} ms  errors {run.errors}", flush=True)

    summary = {}
    for side in ("direct", "gateway"):
        mine = [r for r in runs if r.side == side]
        summary[side] = {key: round(statistics.median(getattr(r, key) for r in mine), 2)
                         for key in ("rps", "p50_ms", "p99_ms")}
        summary[side]["errors"] = sum(r.errors for r in mine)
    ratio = summary["gateway"]["rps"] / summary["direct"]["rps"]
    print(f"\nGET /api/products, {args.connections} connections, {args.rounds} × {args.seconds} s per side (medians)")
    print(f"  {'':8s} {'req/s':>9s} {'p50 ms':>8s} {'p99 ms':>8s}")
    for side in ("direct", "gateway"):
        s = summary[side]
        print(f"  {side:8s} {s['rps']:9.1f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f}")
    print(f"  ratio gateway ÷ direct: throughput {ratio:.2f} (goal ≥ 0.80), "
          f"p50 {summary['gateway']['p50_ms'] / summary['direct']['p50_ms']:.2f}×, "
          f"p99 {summary['gateway']['p99_ms'] / summary['direct']['p99_ms']:.2f}×")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "ratio": round(ratio, 3), "runs": [asdict(r) for r in runs]}, indent=2))
    errors = summary["direct"]["errors"] + summary["gateway"]["errors"]
    if errors:
        print(f"bench: {errors} failed requests: figures are not trustworthy", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
