"""The gateway and backend as real uvicorn processes, and the settings that wire them
to the harness servers."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

import httpx
import yaml

from harness.servers import MongoServer, ObjectStore, SearchServer
from harness.servers.base import LOOPBACK, LocalServer, free_port

ROOT = Path(__file__).resolve().parent.parent


def backend_env(mongo: MongoServer, store: ObjectStore, **overrides: str) -> dict[str, str]:
    env = {
        "MONGO_URL": mongo.app_uri,
        "MONGO_DATABASE": mongo.database,
        "MINIO_ENDPOINT": store.endpoint,
        "MINIO_ACCESS_KEY": store.access_key,
        "MINIO_SECRET_KEY": store.secret_key,
        "MINIO_BUCKET": "ecommerce",
        "ENVIRONMENT": "test",
        "LOG_LEVEL": "info",
    }
    env.update(overrides)
    return env


def with_search(env: dict[str, str], search: SearchServer) -> dict[str, str]:
    return {**env, "ELASTICSEARCH_URL": search.url, "LOG_FLUSH_SECONDS": "0.2"}


class HttpProcess(LocalServer):
    """A process serving HTTP on a free loopback port, ready when ``health_path`` answers
    (503 too: a dependency may be down on purpose)."""

    startup_timeout = 30.0
    transient = (httpx.TransportError, OSError)

    def __init__(self, health_path: str) -> None:
        super().__init__()
        self._health_path = health_path
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def _allocate_ports(self) -> None:
        self.port = free_port()

    def _probe(self) -> Any:
        return httpx.get(self.url + self._health_path, timeout=1.0).status_code in {200, 503}

    def _expected(self) -> str:
        return f"GET {self.url}{self._health_path} answers"


class ServiceProcess(HttpProcess):
    """``uvicorn --factory services.<name>.app:app`` on a free loopback port."""

    def __init__(self, name: str, env: dict[str, str], health_path: str) -> None:
        self.name = name
        super().__init__(health_path)
        self._service_env = env

    def _command(self) -> list[str]:
        return [sys.executable, "-m", "uvicorn", "--factory", f"services.{self.name}.app:app",
                "--host", LOOPBACK, "--port", str(self.port), "--no-access-log", "--log-level", "warning"]

    def _env(self) -> dict[str, str]:
        # Only what the service needs: a test must not pass because of the runner's environment.
        base = {key: os.environ[key] for key in ("PATH", "HOME", "LANG") if key in os.environ}
        return {**base, "PYTHONPATH": str(ROOT), **self._service_env}


class ComposeGateway(ServiceProcess):
    """The gateway with its production compose ``command:`` (protocol class and options as
    shipped), listening on a free loopback port."""

    def __init__(self, env: dict[str, str], health_path: str = "/health") -> None:
        super().__init__("gateway", env, health_path)

    def _command(self) -> list[str]:
        compose = yaml.safe_load((ROOT / "compose" / "compose.production.yaml").read_text())
        command = [str(part) for part in compose["services"]["gateway"]["command"]]
        if command[0] != "uvicorn":
            raise RuntimeError(f"the gateway's compose command does not start uvicorn: {command}")
        for flag, value in (("--host", LOOPBACK), ("--port", str(self.port))):
            command[command.index(flag) + 1] = value
        return [sys.executable, "-m", *command]
