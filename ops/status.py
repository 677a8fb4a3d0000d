"""The last outcome of the scheduled ops jobs (nightly backup, log retention), as a small JSON
file, and the healthchecks that read it. Kept apart from the jobs so that a healthcheck
imports only the standard library: it runs every few seconds, under ``timeout`` (4-10 s), on a
loaded machine too, and importing the jobs' clients (pymongo, minio, elasticsearch) alone took
longer than that."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

BACKUP = Path("/backups/.status.json")
RETENTION = Path("/tmp/log-retention.json")


def read(path: Path) -> dict[str, Any]:
    try:
        return dict(json.loads(path.read_text()))
    except (OSError, ValueError):
        return {}


def write(path: Path, status: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(status))


def backup_health(status: Path = BACKUP) -> int:
    """Scheduled, and the last night's backup (if any) worked."""
    found = read(status)
    if "next_run" not in found:
        print(f"unhealthy: no schedule in {status}")
        return 1
    last = found.get("last")
    if last is not None and not last.get("ok"):
        print(f"unhealthy: last backup failed: {last.get('error')}")
        return 1
    print(f"healthy: next {found['next_run']}, last {last}")
    return 0


def retention_health(status: Path = RETENTION, now: float | None = None) -> int:
    """The last run succeeded, and it is recent (within three intervals)."""
    last = read(status)
    if "at" not in last:
        print(f"unhealthy: no run recorded in {status}")
        return 1
    if not last.get("ok"):
        print(f"unhealthy: last run failed: {last.get('error')}")
        return 1
    age = (now or time.time()) - float(last["at"])
    if age > 3 * float(last["interval_s"]):
        print(f"unhealthy: last run {age:.0f} s ago, interval {last['interval_s']} s")
        return 1
    print(f"healthy: last run {age:.0f} s ago, deleted {last['deleted']}, kept {last['kept']}, ilm {last['ilm']}")
    return 0


def main(argv: list[str]) -> int:
    """``python3 -m ops.status backup|retention [STATUS_FILE]``"""
    if not argv or argv[0] not in {"backup", "retention"}:
        print("usage: python3 -m ops.status backup|retention [STATUS_FILE]", file=sys.stderr)
        return 2
    check = backup_health if argv[0] == "backup" else retention_health
    return check(Path(argv[1])) if len(argv) > 1 else check()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
