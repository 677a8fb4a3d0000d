"""Elasticsearch role: osmem-server, an in-memory OpenSearch-compatible server.

Data lives in memory only: every (re)start begins with no indices. ``OsmemServer.start``
from the package picks a new port each time and ties the server to a stdin pipe, so the
bundled binary is run directly on a fixed port with ``-no-stdin-watch`` (we own the process
and stop it by signal) and ``-no-ja`` (Japanese analysis costs ~150 MiB).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import httpx
from elastic_transport import HttpHeaders, Urllib3HttpNode
from elastic_transport._node import NodeApiResponse
from elastic_transport.client_utils import DEFAULT, DefaultType
from elasticsearch import Elasticsearch
from osmem_server import resolve_binary

from .base import LOOPBACK, LocalServer, free_port


class CompatibleJsonNode(Urllib3HttpNode):
    """elasticsearch-py node that sends plain JSON media types.

    elasticsearch-py 8/9 send ``application/vnd.elasticsearch+json; compatible-with=N``
    (and ``+x-ndjson`` for bulk); osmem answers 406 to that Content-Type. Rewriting it to
    ``application/json`` / ``application/x-ndjson`` is what a real OpenSearch client sends.
    """

    def perform_request(
        self,
        method: str,
        target: str,
        body: bytes | None = None,
        headers: HttpHeaders | None = None,
        request_timeout: DefaultType | float | None = DEFAULT,
    ) -> NodeApiResponse:
        if headers is not None:
            headers = headers.copy()
            for name in ("accept", "content-type"):
                value = headers.get(name)
                if value and "vnd.elasticsearch+" in value:
                    headers[name] = value.replace("vnd.elasticsearch+", "").split(";")[0].strip()
        return super().perform_request(method, target, body=body, headers=headers, request_timeout=request_timeout)


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

    def client(self, **kwargs: Any) -> Elasticsearch:
        """An elasticsearch-py client for this server (see ``CompatibleJsonNode``)."""
        return Elasticsearch(self.url, node_class=CompatibleJsonNode, **kwargs)

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
