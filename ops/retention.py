"""Log retention: the services' daily log indices (``<service>-logs-YYYY.MM.DD``, named by
``services.common.shipper.index_name``) older than ``LOG_RETENTION_DAYS`` are deleted.

The job goes by the day in the index's name, which both servers keep: it works the same on
official Elasticsearch and on the offline role (osmem-server, OpenSearch API, no ILM). On
Elasticsearch it also writes an ILM policy (:data:`POLICY`: delete ``days`` after creation) and
attaches it to every log index, so Elasticsearch deletes them itself should the job stop.

``schedule`` runs it every ``LOG_RETENTION_INTERVAL`` seconds in the ``log-retention``
service (compose); ``health`` is that service's healthcheck.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from elasticsearch import Elasticsearch

from ops import status as status_file
from services.common.search import client

PATTERN = "*-logs-*"
INDEX = re.compile(r"^(?P<service>.+)-logs-(?P<day>\d{4}\.\d{2}\.\d{2})$")
POLICY = "stackproof-logs-retention"
DEFAULT_DAYS = 30  # the setup guide: 30 days of logs in production
DEFAULT_INTERVAL_S = 3600
STATUS = status_file.RETENTION


@dataclass(frozen=True)
class Settings:
    url: str
    days: int
    interval_s: int

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        days, interval = _whole(env, "LOG_RETENTION_DAYS", DEFAULT_DAYS), _whole(
            env, "LOG_RETENTION_INTERVAL", DEFAULT_INTERVAL_S)
        return cls(env.get("ELASTICSEARCH_URL", "http://elasticsearch:9200"), days, interval)


def _whole(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name) or str(default)
    if not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{name} must be a whole number of at least 1, got {raw!r}")
    return int(raw)


def index_day(name: str) -> dt.date | None:
    found = INDEX.match(name)
    if found is None:
        return None
    try:
        return dt.datetime.strptime(found["day"], "%Y.%m.%d").date()
    except ValueError:
        return None


def expired(names: list[str], today: dt.date, days: int) -> list[str]:
    """Log indices whose day is more than ``days`` before ``today``: with 30, on 31 Jan the
    index of 1 Jan stays (30 days old) and that of 31 Dec goes. Other indices are never touched."""
    if days < 1:
        raise ValueError(f"retention must be at least 1 day, got {days}")
    cutoff = today - dt.timedelta(days=days)
    return sorted(name for name in names if (day := index_day(name)) is not None and day < cutoff)


def has_ilm(es: Elasticsearch) -> bool:
    """Official Elasticsearch has ILM; OpenSearch-compatible servers (osmem) report their
    distribution and have none."""
    version: dict[str, Any] = es.info()["version"]
    return version.get("distribution") != "opensearch"


def ilm_policy(days: int) -> dict[str, Any]:
    return {"phases": {"hot": {"min_age": "0ms", "actions": {}},
                       "delete": {"min_age": f"{days}d", "actions": {"delete": {}}}}}


@dataclass(frozen=True)
class Outcome:
    deleted: list[str]
    kept: int
    ilm: bool


def apply(es: Elasticsearch, days: int, today: dt.date | None = None) -> Outcome:
    names = sorted(es.indices.get(index=PATTERN, allow_no_indices=True))
    ilm = has_ilm(es)
    if ilm:
        es.ilm.put_lifecycle(name=POLICY, policy=ilm_policy(days))
        if names:
            es.indices.put_settings(index=PATTERN, settings={"index.lifecycle.name": POLICY})
    gone = expired(names, today or dt.datetime.now(dt.UTC).date(), days)
    for name in gone:
        es.indices.delete(index=name)
        print(f"log-retention: deleted {name} (older than {days} days)", flush=True)
    return Outcome(gone, len(names) - len(gone), ilm)


def schedule(settings: Settings, status: Path, runs: int | None = None) -> None:
    """Every ``interval_s`` seconds, forever (or ``runs`` times): a failed run is recorded and retried."""
    done = 0
    while runs is None or done < runs:
        es = client(settings.url)
        try:
            outcome = apply(es, settings.days)
            record: dict[str, Any] = {"ok": True, "deleted": outcome.deleted, "kept": outcome.kept, "ilm": outcome.ilm}
        except Exception as exc:  # noqa: BLE001 (reported; the next run retries)
            print(f"log-retention: run failed: {exc!r}", file=sys.stderr, flush=True)
            record = {"ok": False, "error": repr(exc)[:500]}
        finally:
            es.close()
        status_file.write(status, {**record, "at": time.time(), "interval_s": settings.interval_s})
        done += 1
        if runs is None or done < runs:
            time.sleep(settings.interval_s)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.retention", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["once", "schedule", "health"])
    parser.add_argument("--status", type=Path, default=STATUS)
    args = parser.parse_args(argv)
    if args.action == "health":
        return status_file.retention_health(args.status)
    settings = Settings.from_env(os.environ)
    if args.action == "once":
        es = client(settings.url)
        try:
            outcome = apply(es, settings.days)
        finally:
            es.close()
        print(f"log-retention: {len(outcome.deleted)} deleted, {outcome.kept} kept, ILM {'on' if outcome.ilm else 'absent'}")
        return 0
    schedule(settings, args.status)
    return 0


if __name__ == "__main__":
    sys.exit(main())
