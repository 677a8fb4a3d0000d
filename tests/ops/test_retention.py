"""Log retention: which indices go, against the offline role's real server (osmem-server),
and the ILM policy official Elasticsearch gets, against a local server answering as its API
documents (no Elasticsearch can run here)."""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from harness.servers import SearchServer
from ops.retention import POLICY, Settings, apply, expired, ilm_policy
from ops.status import retention_health as health
from services.common.search import client

TODAY = dt.date(2026, 1, 31)


def test_expired_counts_days_from_the_index_name() -> None:
    names = ["gateway-logs-2026.01.01", "gateway-logs-2025.12.31", "backend-logs-2026.01.31",
             "backend-logs-2025.01.01", "gateway-logs-2026.13.01", "products", "gateway-logs-latest"]
    assert expired(names, TODAY, 30) == ["backend-logs-2025.01.01", "gateway-logs-2025.12.31"]
    assert expired(names, TODAY, 1) == ["backend-logs-2025.01.01", "gateway-logs-2025.12.31", "gateway-logs-2026.01.01"]
    with pytest.raises(ValueError, match="at least 1"):
        expired(names, TODAY, 0)


def test_settings_refuse_nonsense() -> None:
    assert Settings.from_env({}) == Settings("http://elasticsearch:9200", 30, 3600)
    assert Settings.from_env({"LOG_RETENTION_DAYS": "1", "LOG_RETENTION_INTERVAL": "5"}).days == 1
    for bad in ("0", "-3", "30d", ""):
        if bad:
            with pytest.raises(ValueError, match="LOG_RETENTION_DAYS"):
                Settings.from_env({"LOG_RETENTION_DAYS": bad})


@pytest.mark.servers
def test_old_indices_go_on_the_offline_role(search_server: SearchServer) -> None:
    es = client(search_server.url)
    tag = uuid.uuid4().hex[:8]
    old, edge, new, other = (f"r{tag}-logs-2025.12.30", f"r{tag}-logs-2026.01.01", f"r{tag}-logs-2026.01.31",
                             f"r{tag}-notes")
    try:
        for name in (old, edge, new, other):
            es.indices.create(index=name)
        outcome = apply(es, 30, today=TODAY)
        left = set(es.indices.get(index=f"r{tag}-*"))
    finally:
        es.indices.delete(index=f"r{tag}-*", allow_no_indices=True)
        es.close()
    assert old in outcome.deleted and not outcome.ilm
    assert left == {edge, new, other}


class FakeElasticsearch(BaseHTTPRequestHandler):
    """Answers as Elasticsearch 8 does (product header, version without a distribution) and
    records every request: method, path, body."""

    seen: ClassVar[list[tuple[str, str, object]]] = []

    def _answer(self, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("x-elastic-product", "Elasticsearch")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _handle(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        self.seen.append((self.command, self.path.split("?")[0], body))
        if self.path == "/":
            self._answer({"version": {"number": "8.15.3", "build_flavor": "default"}, "tagline": "You Know, for Search"})
        elif self.path.startswith("/*-logs-*") and self.command == "GET":
            self._answer({"gateway-logs-2025.01.01": {}, "gateway-logs-2026.01.31": {}})
        else:
            self._answer({"acknowledged": True})

    do_GET = do_PUT = do_DELETE = _handle

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def fake_es() -> Iterator[str]:
    FakeElasticsearch.seen = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeElasticsearch)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_official_elasticsearch_gets_an_ilm_policy(fake_es: str) -> None:
    es = client(fake_es)
    outcome = apply(es, 30, today=TODAY)
    es.close()
    writes = [(method, path, body) for method, path, body in FakeElasticsearch.seen if method != "GET"]
    assert outcome.ilm and outcome.deleted == ["gateway-logs-2025.01.01"]
    assert writes == [
        ("PUT", f"/_ilm/policy/{POLICY}", {"policy": ilm_policy(30)}),
        ("PUT", "/*-logs-*/_settings", {"index.lifecycle.name": POLICY}),
        ("DELETE", "/gateway-logs-2025.01.01", None),
    ]
    assert ilm_policy(30)["phases"]["delete"] == {"min_age": "30d", "actions": {"delete": {}}}


def test_health_needs_a_recent_successful_run(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    assert health(status) == 1
    status.write_text(json.dumps({"ok": True, "at": 1000.0, "interval_s": 5, "deleted": [], "kept": 2, "ilm": False}))
    assert health(status, now=1010.0) == 0
    assert health(status, now=1016.0) == 1
    status.write_text(json.dumps({"ok": False, "at": 1000.0, "interval_s": 5, "error": "ConnectionError"}))
    assert health(status, now=1001.0) == 1
