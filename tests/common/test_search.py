"""services.common.search: elasticsearch-py clients that osmem-server (OpenSearch-compatible)
accepts, because they send plain JSON media types instead of ``vnd.elasticsearch+…``."""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from elasticsearch import helpers as es_helpers

from harness.servers import SearchServer
from services.common.search import async_client, client

Seen = list[tuple[str, str | None, str | None]]


class _Recorder(BaseHTTPRequestHandler):
    """Answers every request like Elasticsearch and keeps the media types it was sent."""

    seen: Seen

    def _answer(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.seen.append((self.path, self.headers.get("Content-Type"), self.headers.get("Accept")))
        body = json.dumps({"took": 1, "errors": False, "items": [], "result": "created"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        # elasticsearch-py refuses answers that do not say they come from Elasticsearch.
        self.send_header("X-Elastic-Product", "Elasticsearch")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_PUT = do_POST = _answer

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def recorder() -> Iterator[tuple[str, Seen]]:
    seen: Seen = []
    handler = type("Recorder", (_Recorder,), {"seen": seen})
    with ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}", seen
        finally:
            server.shutdown()


# What elasticsearch-py 8/9 would send as vnd.elasticsearch+json / +x-ndjson, rewritten.
EXPECTED = [
    ("/docs/_doc/1", "application/json", "application/json"),
    ("/_bulk", "application/x-ndjson", "application/json"),
]
BULK = [{"index": {"_index": "docs", "_id": "2"}}, {"n": 2}]


def test_sync_client_sends_plain_media_types(recorder: tuple[str, Seen]) -> None:
    url, seen = recorder
    with client(url) as es:
        es.index(index="docs", id="1", document={"n": 1})
        es.bulk(operations=BULK)
    assert seen == EXPECTED


@pytest.mark.asyncio
async def test_async_client_sends_plain_media_types(recorder: tuple[str, Seen]) -> None:
    url, seen = recorder
    async with async_client(url) as es:
        await es.index(index="docs", id="1", document={"n": 1})
        await es.bulk(operations=BULK)
    assert seen == EXPECTED


@pytest.mark.servers
def test_osmem_refuses_the_vendor_content_type(search_server: SearchServer) -> None:
    """Why the rewrite exists; if this starts passing 2xx, the node classes can go."""
    response = httpx.put(
        f"{search_server.url}/refused-{uuid.uuid4().hex[:8]}/_doc/1",
        content=b'{"n": 1}',
        headers={"Content-Type": "application/vnd.elasticsearch+json; compatible-with=9"},
    )
    assert response.status_code == 406, response.text


@pytest.mark.servers
def test_sync_client_indexes_bulks_and_searches_on_osmem(search_server: SearchServer) -> None:
    index = f"sync-{uuid.uuid4().hex[:8]}"
    with client(search_server.url) as es:
        es.index(index=index, id="1", document={"level": "error"})
        es_helpers.bulk(es, ({"_index": index, "_id": str(n), "level": "info"} for n in range(2, 6)))
        es.indices.refresh(index=index)
        assert es.count(index=index)["count"] == 5
        hits = es.search(index=index, query={"match": {"level": "error"}})["hits"]["hits"]
        assert [hit["_id"] for hit in hits] == ["1"]


@pytest.mark.servers
@pytest.mark.asyncio
async def test_async_client_indexes_and_bulks_on_osmem(search_server: SearchServer) -> None:
    index = f"async-{uuid.uuid4().hex[:8]}"
    async with async_client(search_server.url) as es:
        await es.index(index=index, id="1", document={"level": "error"})
        await es.bulk(operations=[{"index": {"_index": index, "_id": "2"}}, {"level": "info"}], refresh=True)
        assert (await es.count(index=index))["count"] == 2
