"""The Sentry role's projects and their DSNs, at first start (idempotent: run again, same DSNs).

Through Bugsink's REST API (bearer ``SENTRY_API_TOKEN``): ensure the team ``SENTRY_TEAM`` and
one project per name in ``SENTRY_PROJECTS``, then write their DSNs to ``SENTRY_DSN_DIR`` (the
``sentry-shared`` volume) as ``sentry-dsns.env`` (``SENTRY_DSN_<NAME>=...``, what the services'
``SENTRY_DSN_FILE`` reads) and ``sentry-dsns.json``. Compose starts the gateway and the
backend only once this job has exited 0.
"""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API_PATH = "/api/canonical/0"


@dataclass(frozen=True)
class Wanted:
    url: str
    token: str
    team: str
    projects: tuple[str, ...]
    dsn_dir: Path


def wanted(environ: Mapping[str, str]) -> Wanted:
    token = environ.get("SENTRY_API_TOKEN", "").strip()
    if not token:
        raise SystemExit("sentry-init: SENTRY_API_TOKEN is not set")
    projects = tuple(p.strip() for p in environ.get("SENTRY_PROJECTS", "gateway,backend").split(",") if p.strip())
    if not projects:
        raise SystemExit("sentry-init: SENTRY_PROJECTS names no project")
    return Wanted(url=environ.get("SENTRY_URL", "http://sentry:9000").rstrip("/"), token=token,
                  team=environ.get("SENTRY_TEAM", "ecommerce"), projects=projects,
                  dsn_dir=Path(environ.get("SENTRY_DSN_DIR", "/run/sentry")))


def pages(http: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
    """Every item of a paginated list (``results`` + ``next``)."""
    url: str | None = path
    while url:
        response = http.get(url)
        response.raise_for_status()
        page = response.json()
        yield from page.get("results", [])
        url = page.get("next")


def ensure(http: httpx.Client, kind: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
    """The ``kind`` (teams, projects) called ``name``, created with ``body`` when there is none."""
    path = f"/{kind}/"
    for item in pages(http, path):
        if item.get("name") == name:
            return item
    response = http.post(path, json=body)
    response.raise_for_status()
    print(f"sentry-init: created {kind} {name!r}")
    created: dict[str, Any] = response.json()
    return created


def dsns(want: Wanted) -> dict[str, str]:
    with httpx.Client(base_url=want.url + API_PATH, timeout=30,
                      headers={"authorization": f"Bearer {want.token}", "accept": "application/json"}) as http:
        team = ensure(http, "teams", want.team, {"name": want.team})
        found = {}
        for name in want.projects:
            project = ensure(http, "projects", name, {"team": team["id"], "name": name})
            detail = http.get(f"/projects/{project['id']}/")
            detail.raise_for_status()
            found[name] = str(detail.json()["dsn"])
        return found


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)  # read by the gateway and the backend, as their own user
    os.replace(tmp, path)


def write_dsns(found: dict[str, str], directory: Path) -> None:
    lines = [f"SENTRY_DSN_{re.sub(r'[^A-Z0-9]', '_', name.upper())}={dsn}" for name, dsn in found.items()]
    write_atomic(directory / "sentry-dsns.env", "\n".join(lines) + "\n")
    write_atomic(directory / "sentry-dsns.json", json.dumps(found, indent=2) + "\n")


def main() -> int:
    want = wanted(os.environ)
    try:
        found = dsns(want)
    except httpx.HTTPStatusError as exc:
        raise SystemExit(f"sentry-init: {exc.request.method} {exc.request.url} -> HTTP {exc.response.status_code}: "
                         f"{exc.response.text[:300]}") from None
    except httpx.TransportError as exc:
        raise SystemExit(f"sentry-init: {want.url} unreachable: {exc!r}") from None
    write_dsns(found, want.dsn_dir)
    print(f"sentry-init: projects {', '.join(found)} at {want.url}; DSNs in {want.dsn_dir}/sentry-dsns.env")
    return 0


if __name__ == "__main__":
    sys.exit(main())
