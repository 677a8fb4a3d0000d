"""Elasticsearch role: osmem-server, an in-memory OpenSearch-compatible server.

Data lives in memory only: every (re)start begins with no indices. ``OsmemServer.start``
from the package picks a new port each time and ties the server to a stdin pipe, so the
bundled binary is run directly on a fixed port with ``-no-stdin-watch`` (we own the process
and stop it by signal) and ``-no-ja`` (Japanese analysis costs ~150 MiB).

osmem answers 406 to elasticsearch-py's ``vnd.elasticsearch+json`` media types: clients come
from ``services.common.search``, which rewrites them, so there is one fix for tests and services.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import httpx
from elasticsearch import Elasticsearch
from osmem_server import resolve_binary

from services.common.search import client as search_client

from .base import LOOPBACK, LocalServer, free_port


class SearchServer(LocalServer):
    name = "search"
    transient = (httpx.TransportError, OSError)
    stop_timeout = 5.0

    def __init__(
        self,
        *,
        port: int | None = None,
        seed: Sequence[Path] = (),
        workdir: Path | None = None,
    ) -> None:
        super().__init__(workdir)
        self.port = port or 0
        self.caller_chose_ports = port is not None
        self.seed = tuple(seed)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def client(self, *, request_timeout: float = 10.0, max_retries: int = 1) -> Elasticsearch:
        """The services' own elasticsearch-py client (``services.common.search``) for this
        server: the tests then speak to osmem exactly as the services do."""
        return search_client(self.url, timeout=request_timeout, max_retries=max_retries)

    def _allocate_ports(self) -> None:
        if not self.caller_chose_ports:
            self.port = free_port()

    def _command(self) -> list[str]:
        argv = [
            resolve_binary(),
            "-addr", f"{LOOPBACK}:{self.port}",
            "-no-ja",
            "-no-stdin-watch",
            # If the test run dies without stopping us, the server goes too.
            "-parent-pid", str(os.getpid()),
        ]
        for path in self.seed:
            argv += ["-seed", str(path)]
        return argv

    def _probe(self) -> bool:
        response = httpx.get(self.url + "/", timeout=1.0)
        return response.status_code == 200 and "version" in response.json()

    def _expected(self) -> str:
        return f"200 with a version from {self.url}/"

    def __repr__(self) -> str:
        return f"SearchServer({self.url}, pid={self.pid}, workdir={str(self.workdir)!r})"
