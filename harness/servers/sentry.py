"""Sentry role: Bugsink (Sentry-compatible ingestion, REST API with bearer tokens).

Ingestion is made synchronous with Bugsink's own ``SNAPPEA["TASK_ALWAYS_EAGER"]`` (the
setting its ``local`` config template recommends): the digest task runs inside the request
that delivered the envelope, through the same code the snappea worker would run. So no
worker process is needed, and an event is readable through the API as soon as
``sentry_sdk.flush()`` has returned.

In Bugsink's event JSON (``/api/canonical/0/events/<id>/``) the tags the SDK sent are under
``data.tags`` (a dict from the Python SDK, a list of ``[key, value]`` pairs from some others);
``release``, ``environment``, ``server_name`` and ``transaction`` are top-level keys of
``data``, which Bugsink also indexes as tags (searchable with ``/events/?issue=..&q=key:value``).
"""

from __future__ import annotations

import atexit
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import httpx

from .base import LOOPBACK, LocalServer, ServerError, find_executable, free_port, iter_pages, log_tail

_SETTINGS_MODULE = "stackproof_bugsink_conf"
_TEAM = "stackproof"
_API = "/api/canonical/0"

_CONF_TEMPLATE = '''\
# Written by harness/servers/sentry.py for one harness instance.
from bugsink.settings.default import *  # noqa: F401,F403
from bugsink.settings.default import DATABASES

SECRET_KEY = {secret_key!r}
TIME_ZONE = "UTC"
DATABASES["default"]["NAME"] = {db!r}
DATABASES["snappea"]["NAME"] = {snappea_db!r}
EMAIL_BACKEND = "bugsink.email_backends.QuietConsoleEmailBackend"

# Digest each event inside the request that delivers it: no snappea worker to run, and the
# event is in the API once the SDK's request has been answered.
SNAPPEA = {{"TASK_ALWAYS_EAGER": True, "WAKEUP_CALLS_DIR": {wakeup!r}}}

BUGSINK = {{
    "BASE_URL": {base_url!r},  # ends up in every DSN
    "PHONEHOME": False,
    "INGEST_STORE_BASE_DIR": {ingest!r},
}}
'''

_GUNICORN_TEMPLATE = '''\
bind = {bind!r}
workers = 1
threads = 4
graceful_timeout = 5
# A stopping worker waits out idle keep-alive connections (sentry_sdk keeps one): 2 s per stop.
keepalive = 0
accesslog = "-"
# gunicorn >= 26 otherwise opens a control socket in ~/.gunicorn/ (older ones ignore this).
control_socket_disable = True
'''

# One interpreter start instead of two (migrate, then create_auth_token): ~1 s saved.
_BOOTSTRAP = '''\
import contextlib, io, pathlib
from django.core.management import call_command
call_command("migrate", skip_checks=True, verbosity=0)
out = io.StringIO()
with contextlib.redirect_stdout(out):
    call_command("create_auth_token")
pathlib.Path({token_path!r}).write_text(out.getvalue().strip())
'''


class _BootstrapCache:
    """The first bootstrapped database of this test process, copied into later instances.

    ``migrate`` is ~2.5 s of CPU (123 migrations); a copy of its result is the same schema.
    Instances seeded from it share its auth token, which is harmless: they are separate
    servers with separate projects and DSN keys.
    """

    _dir: tempfile.TemporaryDirectory[str] | None = None

    @classmethod
    def _files(cls, workdir: Path) -> list[Path]:
        return [*workdir.glob("db.sqlite3*"), workdir / "auth-token"]

    @classmethod
    def restore(cls, workdir: Path) -> bool:
        if cls._dir is None:
            return False
        for path in Path(cls._dir.name).iterdir():
            shutil.copy2(path, workdir / path.name)
        return True

    @classmethod
    def save(cls, workdir: Path) -> None:
        if cls._dir is not None:
            return
        cls._dir = tempfile.TemporaryDirectory(prefix="stackproof-bugsink-bootstrap-")
        atexit.register(cls._dir.cleanup)
        for path in cls._files(workdir):
            shutil.copy2(path, Path(cls._dir.name) / path.name)


# Top-level event fields that Bugsink indexes as tags too (tags/utils.py, deduce_tags), and that
# Sentry's UI shows as tags: they win over a custom tag of the same name, as in Bugsink.
STANDARD_TAG_FIELDS = ("server_name", "release", "environment", "transaction")


def event_tags(event: dict[str, Any], *, standard: bool = True) -> dict[str, str]:
    """The tags of a Bugsink event (as returned by ``/events/<id>/``) as a dict.

    Custom tags are ``data.tags`` (a dict, or a list of pairs from some SDKs); with
    ``standard`` the fields of ``STANDARD_TAG_FIELDS`` present in ``data`` are added.
    """
    data = event.get("data", {})
    raw = data.get("tags") or {}
    pairs = raw.items() if isinstance(raw, dict) else raw
    tags = {str(k): str(v) for k, v in pairs}
    if standard:
        tags.update({k: str(data[k]) for k in STANDARD_TAG_FIELDS if data.get(k) not in (None, "")})
    return tags


class SentryServer(LocalServer):
    name = "sentry"
    transient = (httpx.TransportError, OSError)
    bootstrap_timeout = 120.0

    def __init__(self, *, port: int | None = None, workdir: Path | None = None) -> None:
        super().__init__(workdir)
        self.port = port or 0
        self.caller_chose_ports = port is not None
        self._token_path = self.workdir / "auth-token"
        self._secret_key = secrets.token_urlsafe(50)
        self._projects: dict[str, int] = {}
        self._team_id: str | None = None

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    @property
    def token(self) -> str:
        """Bearer token with full access to the REST API."""
        if not self._token_path.exists():
            raise ServerError(f"{self!r} has no auth token yet: start it first")
        return self._token_path.read_text().strip()

    # --- REST API -----------------------------------------------------------------------

    def api(self) -> httpx.Client:
        return httpx.Client(
            base_url=self.url + _API,
            headers={"Authorization": f"Bearer {self.token}"},
            timeout=10.0,
        )

    def _get(self, path: str, **params: Any) -> Any:
        with self.api() as client:
            response = client.get(path, params=params)
            response.raise_for_status()
            return response.json()

    def _list(self, path: str, **params: Any) -> list[dict[str, Any]]:
        with self.api() as client:

            def fetch(next_url: str | None) -> dict[str, Any]:
                response = client.get(next_url) if next_url else client.get(path, params=params)
                response.raise_for_status()
                page: dict[str, Any] = response.json()
                return page

            return list(iter_pages(fetch))

    def _team(self) -> str:
        if self._team_id is None:
            teams = [t for t in self._list("/teams/") if t["name"] == _TEAM]
            if teams:
                self._team_id = str(teams[0]["id"])
            else:
                with self.api() as client:
                    response = client.post("/teams/", json={"name": _TEAM})
                    response.raise_for_status()
                    self._team_id = str(response.json()["id"])
        return self._team_id

    def project_id(self, name: str) -> int:
        if name not in self._projects:
            matches = [p for p in self._list("/projects/") if p["name"] == name]
            if not matches:
                raise KeyError(f"no Bugsink project named {name!r} on {self.url}")
            self._projects[name] = int(matches[0]["id"])
        return self._projects[name]

    def create_project(self, name: str) -> str:
        """Create the project (or reuse one of that name) and return its DSN."""
        try:
            project_id = self.project_id(name)
        except KeyError:
            with self.api() as client:
                response = client.post("/projects/", json={"name": name, "team": self._team()})
                response.raise_for_status()
                project_id = int(response.json()["id"])
            self._projects[name] = project_id
        dsn: str = self._get(f"/projects/{project_id}/")["dsn"]
        return dsn

    def issues(self, project_name: str) -> list[dict[str, Any]]:
        return self._list("/issues/", project=self.project_id(project_name))

    def events(self, project_name: str) -> list[dict[str, Any]]:
        """Every event of the project in full (with ``data``, where the tags are)."""
        full = []
        for issue in self.issues(project_name):
            for summary in self._list("/events/", issue=issue["id"]):
                full.append(self._get(f"/events/{summary['id']}/"))
        return full

    event_tags = staticmethod(event_tags)

    # --- LocalServer --------------------------------------------------------------------

    def _allocate_ports(self) -> None:
        if not self.caller_chose_ports:
            self.port = free_port()

    def _env(self) -> dict[str, str]:
        env = super()._env()
        env["DJANGO_SETTINGS_MODULE"] = _SETTINGS_MODULE
        env["PYTHONPATH"] = str(self.workdir) + (":" + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        return env

    def _before_first_start(self) -> None:
        w = self.workdir
        # Rewritten on every first-start attempt: the port is part of BASE_URL, hence the DSNs.
        (w / f"{_SETTINGS_MODULE}.py").write_text(
            _CONF_TEMPLATE.format(
                secret_key=self._secret_key,
                db=str(w / "db.sqlite3"),
                snappea_db=str(w / "snappea.sqlite3"),
                wakeup=str(w / "snappea-wakeup"),
                base_url=self.url,
                ingest=str(w / "ingestion"),
            )
        )
        (w / "gunicorn.conf.py").write_text(_GUNICORN_TEMPLATE.format(bind=f"{LOOPBACK}:{self.port}"))
        if not self._token_path.exists() and not _BootstrapCache.restore(w):
            self._bootstrap()
            _BootstrapCache.save(w)

    def _bootstrap(self) -> None:
        script = _BOOTSTRAP.format(token_path=str(self._token_path))
        argv = [find_executable("bugsink-manage"), "shell", "-c", script]
        with self.log_path.open("ab") as log:
            log.write(b"\n=== stackproof bootstrap: migrate + create_auth_token\n")
            log.flush()
            try:
                result = subprocess.run(
                    argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                    cwd=self.workdir, env=self._env(), timeout=self.bootstrap_timeout, check=False,
                    start_new_session=True,
                )
            except subprocess.TimeoutExpired as exc:
                raise ServerError(
                    f"Bugsink bootstrap did not finish within {self.bootstrap_timeout} s\n"
                    f"--- tail of {self.log_path} ---\n{log_tail(self.log_path)}"
                ) from exc
        if result.returncode != 0 or not self._token_path.exists():
            raise ServerError(
                f"Bugsink bootstrap exited with {result.returncode}\n"
                f"--- tail of {self.log_path} ---\n{log_tail(self.log_path)}"
            )

    def _command(self) -> list[str]:
        return [
            find_executable("gunicorn"),
            "--config", str(self.workdir / "gunicorn.conf.py"),
            "bugsink.wsgi",
        ]

    def _probe(self) -> bool:
        return httpx.get(self.url + "/health/ready", timeout=1.0).status_code == 200

    def _expected(self) -> str:
        return f"200 from {self.url}/health/ready"

    def __repr__(self) -> str:
        return f"SentryServer({self.url}, pid={self.pid}, workdir={str(self.workdir)!r})"

