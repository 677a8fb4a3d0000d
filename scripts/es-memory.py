#!/usr/bin/env python3
"""Memory of the Elasticsearch role across repeated runs, with and without log retention.

Each run stands for one day of the stack: it ships a day's worth of log documents (copies of
the access logs the services shipped today, re-dated) into that day's ``sim-logs-YYYY.MM.DD``
index, the days counting up to yesterday. It then waits two of the log-retention service's
intervals and reads the role's memory as ``docker stats`` does (cgroup usage minus inactive
file cache). Without retention (the service stopped) the indices pile up; with it, every day
older than LOG_RETENTION_DAYS goes. The role's container is restarted before each series (the
offline role keeps everything in memory, so both series start from the same empty state).

    .venv/bin/python scripts/es-memory.py --project stackproof-ops --runs 3 --docs 20000

Only the named compose project's containers are touched; the log-retention service is
started again at the end.
"""

from __future__ import annotations

import argparse
import datetime as dt
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from elasticsearch import Elasticsearch, helpers

from fixtures.clients.search import connect
from fixtures.stack import ComposeStack
from fixtures.waits import wait_for

ROLE = "elasticsearch"
RETENTION = "log-retention"


def memory_mib(stack: ComposeStack) -> float:
    """``docker stats``' MEM USAGE: cgroup usage minus inactive file pages (cgroup v2 ``inactive_file``)."""
    stats: dict[str, Any] = stack.container(ROLE).stats(stream=False)
    memory = stats["memory_stats"]
    cache = (memory.get("stats") or {}).get("inactive_file", 0)
    return round((int(memory["usage"]) - int(cache)) / 2**20, 1)


def day_of_logs(es: Elasticsearch, day: dt.date, docs: int) -> int:
    samples = [hit["_source"] for hit in es.search(index="gateway-logs-*,backend-logs-*", size=200)["hits"]["hits"]]
    if not samples:
        raise SystemExit("no shipped logs to copy: send some traffic first (make smoke)")
    index = f"sim-logs-{day:%Y.%m.%d}"
    stamp = f"{day:%Y-%m-%d}T12:00:00Z"
    actions = ({"_index": index, "_source": {**samples[n % len(samples)], "@timestamp": stamp, "sim.n": n}}
               for n in range(docs))
    done, _ = helpers.bulk(es.options(request_timeout=120), actions, chunk_size=1000)
    return int(done)


def series(stack: ComposeStack, retention: bool, runs: int, docs: int, interval: float) -> list[float]:
    stack.container(ROLE).restart(timeout=10)
    wait_for(lambda: stack.state(ROLE).healthy, target=f"{stack.target} {ROLE}", expectation="healthy after restart",
             timeout=120, interval=1.0)
    with connect(stack, timeout=120) as es:
        wait_for(lambda: es.count(index="gateway-logs-*,backend-logs-*", allow_no_indices=True)["count"] > 0,
                 target=f"{stack.target} {ROLE}", expectation="the services' logs shipped again (make smoke traffic)",
                 timeout=120, interval=1.0, transient=(Exception,))
        if retention:
            stack.start(RETENTION)
        else:
            stack.container(RETENTION).stop(timeout=10)
        figures = [memory_mib(stack)]
        print(f"retention {'on ' if retention else 'off'} start: {figures[0]} MiB", flush=True)
        today = dt.datetime.now(dt.UTC).date()
        for run in range(runs):
            day = today - dt.timedelta(days=runs - run + 1)
            shipped = day_of_logs(es, day, docs)
            time.sleep(2 * interval)  # two retention runs, then what the role holds
            indices = sorted(es.indices.get(index="sim-logs-*", allow_no_indices=True))
            figures.append(memory_mib(stack))
            print(f"retention {'on ' if retention else 'off'} run {run + 1}: shipped {shipped} docs for {day}, "
                  f"sim indices {indices}, memory {figures[-1]} MiB", flush=True)
        es.indices.delete(index="sim-logs-*", allow_no_indices=True)
    return figures


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--project", required=True)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--docs", type=int, default=20000, help="log documents per simulated day")
    args = parser.parse_args()
    stack = ComposeStack(args.project)
    interval = float(stack.state(RETENTION).env.get("LOG_RETENTION_INTERVAL") or 3600)
    try:
        results = {mode: series(stack, mode, args.runs, args.docs, interval) for mode in (False, True)}
    finally:
        stack.start(RETENTION)
    for mode, figures in results.items():
        print(f"retention {'on ' if mode else 'off'}: MiB at start then after each run: {figures}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
