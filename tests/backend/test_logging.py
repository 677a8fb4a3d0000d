"""Logs shipped to the Elasticsearch-role server (osmem-server): ECS fields, no secrets,
drops counted while it is down, shipping resumed when it returns."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from fixtures.waits import wait_for
from harness.apps import with_search
from harness.servers import SearchServer
from services.backend.app import build
from services.common.logs import request_id_var
from services.common.search import client as search_client
from services.common.settings import load_backend

pytestmark = pytest.mark.servers

ECS_FIELDS = ("@timestamp", "log.level", "message", "service.name", "http.request.method", "url.path",
              "http.response.status_code", "event.duration", "request_id")


def shipped(url: str, request_id: str) -> list[dict[str, Any]]:
    es = search_client(url)
    try:
        if not es.indices.exists(index="backend-logs-*"):
            return []
        es.indices.refresh(index="backend-logs-*")
        result = es.search(index="backend-logs-*", query={"match": {"request_id": request_id}}, size=50)
        return [hit["_source"] for hit in result["hits"]["hits"]]
    finally:
        es.close()


def wait_shipped(url: str, request_id: str, timeout: float = 30) -> list[dict[str, Any]]:
    return wait_for(lambda: shipped(url, request_id), target=f"{url} backend-logs-*",
                    expectation=f"a log document with request_id {request_id}", timeout=timeout,
                    transient=(ConnectionError, OSError))


def counter(client: TestClient, family_name: str, suffix: str = "_total") -> float:
    for family in text_string_to_metric_families(client.get("/metrics").text):
        if family.name == family_name:
            return sum(s.value for s in family.samples if s.name == family_name + suffix)
    raise AssertionError(f"{family_name}{suffix} missing from /metrics")


@pytest.fixture
def logged_backend(backend_settings: dict[str, str], products: object, search_server: SearchServer) -> Iterator[TestClient]:
    with TestClient(build(load_backend(with_search(backend_settings, search_server))), raise_server_exceptions=False) as c:
        yield c


def test_request_log_reaches_elasticsearch_with_ecs_fields(logged_backend: TestClient, search_server: SearchServer) -> None:
    rid = f"log-{uuid.uuid4().hex}"
    assert logged_backend.get("/api/products", headers={"x-request-id": rid}).status_code == 200
    docs = wait_shipped(search_server.url, rid)
    flat = next(f for f in map(_flatten, docs) if f.get("url.path") == "/api/products")
    for field in ECS_FIELDS:
        assert field in flat, f"{field} missing from shipped document {flat}"
    assert flat["service.name"] == "backend" and flat["http.response.status_code"] == 200


def test_no_secret_is_shipped(logged_backend: TestClient, search_server: SearchServer,
                              backend_settings: dict[str, str]) -> None:
    rid = f"secret-{uuid.uuid4().hex}"
    secret = backend_settings["MINIO_SECRET_KEY"]
    mongo_url = backend_settings["MONGO_URL"]
    # The app's own logger, inside a request: exactly the path a careless log line would take.
    logged_backend.get("/api/products/nope", headers={"x-request-id": rid})
    token = request_id_var.set(rid)
    logging.getLogger("services.backend").warning("connecting with %s and key %s", mongo_url, secret)
    request_id_var.reset(token)
    docs = wait_shipped(search_server.url, rid)
    assert any("[REDACTED]" in d["message"] for d in docs)
    text = repr(docs)
    assert secret not in text
    assert mongo_url.split("//", 1)[1].split("@", 1)[0] not in text  # user:password


def test_drops_are_counted_and_shipping_resumes(backend_settings: dict[str, str], products: object,
                                                fresh_search_server: SearchServer) -> None:
    env = {**with_search(backend_settings, fresh_search_server), "LOG_QUEUE_SIZE": "5"}
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        fresh_search_server.stop()
        for _ in range(20):
            assert client.get("/api/products").status_code == 200  # never blocked by the outage
        assert counter(client, "log_shipper_dropped") > 0
        wait_for(lambda: counter(client, "log_shipper_up", ""), target="backend log_shipper_up",
                 expectation="0 while Elasticsearch is down", until=lambda up: up == 0, timeout=15)
        shipped_before = counter(client, "log_shipper_shipped")
        fresh_search_server.start()
        # The backlog kept through the outage goes first; then new lines flow again.
        wait_for(lambda: counter(client, "log_shipper_shipped"), target="backend log shipper",
                 expectation=f"log_shipper_shipped_total above {shipped_before} once Elasticsearch is back",
                 until=lambda shipped: shipped > shipped_before, timeout=30)
        rid = f"resume-{uuid.uuid4().hex}"
        client.get("/api/products", headers={"x-request-id": rid})
        wait_shipped(fresh_search_server.url, rid)
        # The restarted (in-memory) server had forgotten the template: the shipper put it back.
        es = search_client(fresh_search_server.url)
        try:
            mappings = es.indices.get_mapping(index="backend-logs-*")
        finally:
            es.close()
        assert all(m["mappings"]["properties"]["request_id"]["type"] == "keyword" for m in mappings.values())
        assert counter(client, "log_shipper_up", "") == 1


def _flatten(doc: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in doc.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, name + "."))
        else:
            flat[name] = value
    return flat
