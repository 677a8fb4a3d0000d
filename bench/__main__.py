"""GET /api/products directly, through the gateway, and through nginx, against one backend.

The backend and gateway run as real uvicorn processes against the real MongoDB- and
S3-role servers; nginx (1 worker, upstream keepalive 32) is the reference proxy. wrk
drives the three in alternating rounds so drift on the machine hits every side alike.
On 2 cores every side is CPU-bound, so the stable figure is CPU per request (utime+stime
of the proxy's and the backend's process groups, from /proc, over each round); the host's
steal time shows a noisy run. Printed and kept in reports/bench.json (medians over rounds):
req/s, p50, p99, proxy and backend CPU per request, and the ratio gateway ÷ direct: the
median of each round's own ratio (the two sides run next to each other in every round, so
a slow spell on the host cancels out; the ratio of the two medians is kept beside it). The
gateway runs with its production compose command (the edge protocol class and options).
Goals: gateway CPU ≤ 600 µs per request, backend ≤ 1000 µs, ratio ≥ 0.8.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import httpx
from minio import Minio

from bench.procs import Nginx, Sample, group_cpu_seconds, nginx_binary, steal_seconds
from harness.apps import ComposeGateway, ServiceProcess, backend_env
from harness.servers import MongoServer, ObjectStore

UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


@dataclass
class Run:
    round_no: int
    side: str
    rps: float
    p50_ms: float
    p99_ms: float
    errors: int
    requests: int
    proxy_cpu_us: float | None = None  # CPU of the proxy's process group per request
    backend_cpu_us: float = 0.0  # CPU of the backend per request
    steal_cores: float = 0.0  # the host's steal time over the round, in cores


SIDES = ("direct", "gateway", "nginx")
MIN_ROUNDS = 5  # the figures are medians of at least this many rounds per side
# The goals, read from the summary's medians: (what, side, key, upper limit).
CPU_GOALS = (("gateway CPU per request, µs", "gateway", "proxy_cpu_us", 600.0),
             ("backend CPU per request, µs", "direct", "backend_cpu_us", 1000.0))
MIN_RATIO = 0.8
MAX_STEAL = 0.1  # cores, in the noisiest round: above it, the figures say more about the host


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)([a-z]+)", text).groups()  # type: ignore[union-attr]
    return float(number) * UNITS[unit]


def wrk(side: str, url: str, seconds: int, connections: int, round_no: int = 0) -> Run:
    out = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--latency", "--timeout", "5s", url],
        capture_output=True, text=True, check=True, timeout=seconds + 30,
    ).stdout
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    if len(percentiles) < 2:
        raise RuntimeError(f"bench: wrk against {side} ({url}) measured no latencies:\n{out}")
    errors = sum(int(n) for n in re.findall(r"(?:connect|read|write|timeout) (\d+)", out))
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return Run(round_no, side, float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),  # type: ignore[union-attr]
               _ms(percentiles["50"]), _ms(percentiles["99"]), errors + (int(non_2xx.group(1)) if non_2xx else 0),
               int(re.search(r"(\d+) requests in", out).group(1)))  # type: ignore[union-attr]


def _rounds(raw: str) -> int:
    rounds = int(raw)
    if rounds < MIN_ROUNDS:
        raise argparse.ArgumentTypeError(f"{rounds} rounds: the medians need at least {MIN_ROUNDS} per side")
    return rounds


def verdict(summary: dict[str, dict[str, float | int | None]], ratio: float, steal: float) -> list[str]:
    """One line per goal: the figure, its limit, and whether it holds."""
    def line(holds: bool, text: str) -> str:
        return f"{'ok  ' if holds else 'MISS'} {text}"

    lines = [line(ratio >= MIN_RATIO, f"gateway ÷ direct throughput {ratio:.2f} (goal ≥ {MIN_RATIO})")]
    for what, side, key, limit in CPU_GOALS:
        value = summary[side][key]
        lines.append(line(value is not None and float(value) <= limit, f"{what} {value} (goal ≤ {limit:g})"))
    lines.append(line(steal < MAX_STEAL, f"host steal in the noisiest round {steal} cores (want < {MAX_STEAL})"))
    return lines


def sample(proxy_pgid: int | None, backend_pgid: int) -> Sample:
    return Sample(time.monotonic(), group_cpu_seconds(proxy_pgid) if proxy_pgid else 0.0,
                  group_cpu_seconds(backend_pgid), steal_seconds())


def measured_round(round_no: int, side: str, url: str, proxy_pgid: int | None, backend_pgid: int,
                   args: argparse.Namespace) -> Run:
    """One wrk round, with the CPU each process group spent serving it."""
    before = sample(proxy_pgid, backend_pgid)
    run = wrk(side, url, args.seconds, args.connections, round_no)
    after = sample(proxy_pgid, backend_pgid)
    served = max(run.requests, 1)
    run.backend_cpu_us = round((after.backend - before.backend) / served * 1e6, 1)
    run.proxy_cpu_us = round((after.proxy - before.proxy) / served * 1e6, 1) if proxy_pgid else None
    run.steal_cores = round((after.steal - before.steal) / (after.at - before.at), 3)
    return run


def summarise(runs: list[Run]) -> dict[str, dict[str, float | int | None]]:
    summary: dict[str, dict[str, float | int | None]] = {}
    for side in SIDES:
        mine = [r for r in runs if r.side == side]
        summary[side] = {key: round(statistics.median(getattr(r, key) for r in mine), 2)
                         for key in ("rps", "p50_ms", "p99_ms", "backend_cpu_us", "steal_cores")}
        proxy = [r.proxy_cpu_us for r in mine if r.proxy_cpu_us is not None]
        summary[side]["proxy_cpu_us"] = round(statistics.median(proxy), 1) if proxy else None
        summary[side]["errors"] = sum(r.errors for r in mine)
    return summary


def round_ratios(runs: list[Run]) -> list[float]:
    """Gateway ÷ direct throughput within each round."""
    by_round: dict[int, dict[str, float]] = {}
    for run in runs:
        by_round.setdefault(run.round_no, {})[run.side] = run.rps
    return [round(sides["gateway"] / sides["direct"], 3) for _, sides in sorted(by_round.items())
            if sides.get("direct") and "gateway" in sides]


def print_table(summary: dict[str, dict[str, float | int | None]], args: argparse.Namespace, steal: float,
                ratio: float) -> None:
    direct = float(summary["direct"]["rps"] or 1)
    print(f"\nGET /api/products, {args.connections} connections, {args.rounds} × {args.seconds} s per side (medians)")
    print(f"  {'':8s} {'req/s':>9s} {'ratio':>6s} {'p50 ms':>8s} {'p99 ms':>8s} {'proxy CPU/req':>14s} "
          f"{'backend CPU/req':>16s} {'steal':>6s}")
    for side in SIDES:
        s = summary[side]
        proxy = "—" if s["proxy_cpu_us"] is None else f"{s['proxy_cpu_us']:.0f} µs"
        print(f"  {side:8s} {s['rps']:9.1f} {float(s['rps'] or 0) / direct:6.2f} {s['p50_ms']:8.2f} {s['p99_ms']:8.2f} "
              f"{proxy:>14s} {s['backend_cpu_us']:13.0f} µs {s['steal_cores']:6.3f}")
    for line in verdict(summary, ratio, steal):
        print(f"  {line}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=8, help="length of one round (default 8)")
    parser.add_argument("--rounds", type=_rounds, default=MIN_ROUNDS, help=f"rounds per side (at least {MIN_ROUNDS})")
    parser.add_argument("--connections", type=int, default=16, help="concurrent connections (default 16)")
    parser.add_argument("--out", type=Path, default=Path("reports/bench.json"))
    args = parser.parse_args()
    missing = [tool for tool, found in (("wrk", shutil.which("wrk")), ("nginx", nginx_binary())) if not found]
    if missing:
        print(f"bench: {' and '.join(missing)} not found (`make bench` runs scripts/bench-tools.sh, as root)", file=sys.stderr)
        return 2

    load_before = os.getloadavg()
    print("bench: starting MongoDB-role and S3-role servers, backend, gateway and nginx …", flush=True)
    with MongoServer() as mongo, ObjectStore() as store:
        Minio(store.endpoint, store.access_key, store.secret_key, secure=False).make_bucket("ecommerce")
        env = backend_env(mongo, store, LOG_LEVEL="warning")
        with ServiceProcess("backend", env, "/api/health") as backend, \
             ComposeGateway({"BACKEND_URL": backend.url, "LOG_LEVEL": "warning"}) as gateway, \
             Nginx(backend.url.removeprefix("http://")) as nginx:
            for n in range(20):
                httpx.post(f"{backend.url}/api/products", json={"name": f"bench {n}", "price": n}).raise_for_status()
            sides = {"direct": (backend.url, None), "gateway": (gateway.url, gateway.pid), "nginx": (nginx.url, nginx.pid)}
            for side, (url, _) in sides.items():  # warm-up: connection pools, caches
                wrk(side, f"{url}/api/products", 2, args.connections)
            runs: list[Run] = []
            for round_no in range(args.rounds):
                # Alternating order, so drift on the machine hits every side alike.
                order = list(SIDES) if round_no % 2 == 0 else list(reversed(SIDES))
                for side in order:
                    url, pgid = sides[side]
                    run = measured_round(round_no + 1, side, f"{url}/api/products", pgid, backend.pid or 0, args)
                    runs.append(run)
                    print(f"  round {round_no + 1} {side:8s} {run.rps:9.1f} req/s  p50 {run.p50_ms:7.2f} ms  "
                          f"p99 {run.p99_ms:7.2f} ms  proxy {run.proxy_cpu_us} µs  backend {run.backend_cpu_us} µs  "
                          f"steal {run.steal_cores}  errors {run.errors}", flush=True)

    summary = summarise(runs)
    steal = max(r.steal_cores for r in runs)
    ratios = round_ratios(runs)
    ratio = statistics.median(ratios)
    of_medians = float(summary["gateway"]["rps"] or 0) / float(summary["direct"]["rps"] or 1)
    print_table(summary, args, steal, ratio)
    print(f"  gateway ÷ direct by round {ratios}; ratio of the medians {of_medians:.2f}")
    # The host's load beside the steal: another job on the machine shows here, not in steal.
    load = {"before": [round(x, 2) for x in load_before], "after": [round(x, 2) for x in os.getloadavg()]}
    print(f"  load average (1, 5, 15 min) before {load['before']}, after {load['after']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"summary": summary, "ratio": round(ratio, 3), "ratio_by_round": ratios,
                                    "ratio_of_medians": round(of_medians, 3), "load_average": load,
                                           "max_steal_cores": steal,
                                           "goals": verdict(summary, ratio, steal), "runs": [asdict(r) for r in runs]}, indent=2))
    errors = sum(int(summary[side]["errors"] or 0) for side in SIDES)
    if errors:
        print(f"bench: {errors} failed requests: figures are not trustworthy", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
