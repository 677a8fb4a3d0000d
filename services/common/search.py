"""An Elasticsearch client that also talks to OpenSearch-compatible servers.

elasticsearch-py 8/9 sends ``application/vnd.elasticsearch+json; compatible-with=N``;
real Elasticsearch accepts plain ``application/json`` too, while osmem-server (the
offline stand-in) answers 406 to the vendor type. Rewriting to the plain type keeps one
client for both.
"""

from __future__ import annotations

from typing import Any

from elastic_transport import HttpxAsyncHttpNode, HttpxHttpNode
from elasticsearch import AsyncElasticsearch, Elasticsearch


def _plain_media_types(headers: Any) -> Any:
    if not headers:
        return headers
    rewritten = headers.copy()
    for name in ("accept", "content-type"):
        value = rewritten.get(name)
        if value and "vnd.elasticsearch+" in value:
            rewritten[name] = "application/x-ndjson" if "x-ndjson" in value else "application/json"
    return rewritten


class PlainJsonAsyncNode(HttpxAsyncHttpNode):
    async def perform_request(self, method: str, target: str, body: Any = None, headers: Any = None, **kw: Any) -> Any:  # type: ignore[override]
        return await super().perform_request(method, target, body=body, headers=_plain_media_types(headers), **kw)


class PlainJsonNode(HttpxHttpNode):
    def perform_request(self, method: str, target: str, body: Any = None, headers: Any = None, **kw: Any) -> Any:  # type: ignore[override]
        return super().perform_request(method, target, body=body, headers=_plain_media_types(headers), **kw)


def async_client(url: str, timeout: float = 5.0) -> AsyncElasticsearch:
    # Retries belong to the caller (the log shipper keeps its batch and tries later).
    return AsyncElasticsearch(url, node_class=PlainJsonAsyncNode, request_timeout=timeout, max_retries=0)


def client(url: str, timeout: float = 10.0, *, max_retries: int = 1) -> Elasticsearch:
    return Elasticsearch(url, node_class=PlainJsonNode, request_timeout=timeout, max_retries=max_retries)
