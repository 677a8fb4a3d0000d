"""One-off provisioning of the sentry role (Bugsink), run beside gunicorn at every start.

1. Ensure a full-access API token: SENTRY_API_TOKEN (40 hex chars) if given, else the one
   kept in <data>/api-token, else a new one (stored there, mode 0600).
2. Through Bugsink's REST API (bearer token): ensure team SENTRY_TEAM and one project per
   name in SENTRY_PROJECTS.
3. Write the DSNs to SENTRY_SHARED_DIR: sentry-dsns.env (SENTRY_DSN_<NAME>=...) and
   sentry-dsns.json ({"gateway": "...", ...}), atomically, mode 0644.
4. Touch /tmp/stackproof-provisioned (the healthcheck waits for it).
Idempotent: existing teams/projects are reused, so DSNs stay stable across restarts.
"""
from __future__ import annotations

import json
import os
import re
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

API = f"http://127.0.0.1:{os.environ.get('PORT', '9000')}/api/canonical/0"
READY_URL = f"http://127.0.0.1:{os.environ.get('PORT', '9000')}/health/ready"
START_TIMEOUT_S = float(os.environ.get("SENTRY_PROVISION_TIMEOUT", "120"))


def log(msg: str) -> None:
    print(f"[sentry-provision] {msg}", file=sys.stderr, flush=True)


def wait_ready() -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    last: object = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(READY_URL, timeout=2) as resp:
                if resp.status == 200:
                    return
                last = f"HTTP {resp.status}"
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.2)
    raise SystemExit(f"[sentry-provision] ERROR: {READY_URL} not ready within "
                     f"{START_TIMEOUT_S:.0f}s (last: {last})")


def ensure_token() -> str:
    import django

    django.setup()
    from bsmain.models import AuthToken

    data_dir = Path(os.environ.get("DATABASE_PATH", "/data/db.sqlite3")).parent
    token_file = data_dir / "api-token"
    wanted = os.environ.get("SENTRY_API_TOKEN", "").strip().lower()
    if wanted:
        if not re.fullmatch(r"[0-9a-f]{40}", wanted):
            raise SystemExit("[sentry-provision] ERROR: SENTRY_API_TOKEN must be 40 hexadecimal characters")
        if not AuthToken.objects.filter(token=wanted).exists():
            AuthToken.create_full_access(token=wanted, description="stackproof (SENTRY_API_TOKEN)")
            log("created the API token given in SENTRY_API_TOKEN")
        return wanted
    if token_file.exists():
        token = token_file.read_text().strip()
        if AuthToken.objects.filter(token=token).exists():
            return token
    token = AuthToken.create_full_access(description="stackproof provisioning").token
    fd = os.open(token_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(token + "\n")
    log(f"created an API token, stored in {token_file}")
    return token


def api(token: str, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
    url = path if path.startswith("http") else f"{API}/{path.lstrip('/')}"
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(url, data=data, method=method, headers={
        "Authorization": f"Bearer {token}",
        "Accept": "application/json",
        **({"Content-Type": "application/json"} if data is not None else {}),
    })
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return json.loads(resp.read() or b"null")
    except urllib.error.HTTPError as exc:
        detail = exc.read().decode(errors="replace")[:500]
        raise SystemExit(f"[sentry-provision] ERROR: {method} {url} -> HTTP {exc.code}: {detail}") from None


def list_all(token: str, path: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page: Any = api(token, "GET", path)
    while True:
        if isinstance(page, list):
            return items + page
        items.extend(page.get("results", []))
        nxt = page.get("next")
        if not nxt:
            return items
        page = api(token, "GET", nxt)


def write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    os.replace(tmp, path)


def main() -> None:
    started = time.monotonic()
    token = ensure_token()
    wait_ready()

    team_name = os.environ.get("SENTRY_TEAM") or "ecommerce"
    projects = [p.strip() for p in os.environ.get("SENTRY_PROJECTS", "gateway,backend").split(",") if p.strip()]
    if not projects:
        raise SystemExit("[sentry-provision] ERROR: SENTRY_PROJECTS is empty")

    team = next((t for t in list_all(token, "teams/") if t.get("name") == team_name), None)
    if team is None:
        team = api(token, "POST", "teams/", {"name": team_name})
        log(f"created team {team_name}")
    existing = {p["name"]: p for p in list_all(token, "projects/")}
    for name in projects:
        if name not in existing:
            api(token, "POST", "projects/", {"team": team["id"], "name": name})
            log(f"created project {name}")
    by_name = {p["name"]: p for p in list_all(token, "projects/")}
    dsns = {name: by_name[name]["dsn"] for name in projects}

    shared = Path(os.environ.get("SENTRY_SHARED_DIR", "/shared"))
    env_lines = [f"SENTRY_DSN_{re.sub(r'[^A-Z0-9]', '_', n.upper())}={d}" for n, d in dsns.items()]
    write_atomic(shared / "sentry-dsns.env", "\n".join(env_lines) + "\n")
    write_atomic(shared / "sentry-dsns.json", json.dumps(dsns, indent=2) + "\n")
    Path("/tmp/stackproof-provisioned").touch()
    log(f"projects {', '.join(projects)} ready; DSNs in {shared}/sentry-dsns.env and .json "
        f"({time.monotonic() - started:.1f}s)")


if __name__ == "__main__":
    main()
