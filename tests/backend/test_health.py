"""Health and dependency failures: 503 naming the dependency, never 500 or a hang,
and recovery without a restart of the backend."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from pymongo import MongoClient
from starlette.testclient import TestClient

from fixtures.waits import wait_for
from harness.apps import backend_env
from harness.servers import MongoServer, ObjectStore
from services.backend.app import build
from services.common.settings import load_backend

pytestmark = pytest.mark.servers


def test_healthy(backend: TestClient) -> None:
    response = backend.get("/api/health")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["ok"] is True and body["service"] == "backend"
    assert body["checks"]["mongo"]["ok"] and body["checks"]["object_store"]["ok"]
    assert "dependency_up" in backend.get("/metrics").text


@pytest.fixture
def backend_on_fresh_mongo(fresh_mongo_server: MongoServer, object_store: ObjectStore, bucket: str) -> Iterator[TestClient]:
    env = backend_env(fresh_mongo_server, object_store)
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        yield client


def test_mongo_down_is_503_naming_mongo_then_recovers(backend_on_fresh_mongo: TestClient,
                                                      fresh_mongo_server: MongoServer) -> None:
    client = backend_on_fresh_mongo
    assert client.post("/api/products", json={"name": "before", "price": 1}).status_code == 201
    fresh_mongo_server.stop()

    started = time.monotonic()
    health = client.get("/api/health")
    assert health.status_code == 503
    assert health.json()["failing"] == ["mongo"]
    assert health.json()["checks"]["mongo"]["error"]
    for response in (client.get("/api/products"), client.post("/api/products", json={"name": "x", "price": 1})):
        assert response.status_code == 503, response.text
        assert response.json()["dependency"] == "mongo"
    # Bounded by the backend's 2 s server-selection timeout, well inside the gateway's 5 s.
    assert time.monotonic() - started < 10

    fresh_mongo_server.start()
    wait_for(lambda: client.get("/api/health").status_code, target="backend /api/health",
             expectation="200 after mongo came back", until=lambda status: status == 200, timeout=30)
    assert [p["name"] for p in client.get("/api/products").json()["items"]] == ["before"]


def test_missing_bucket_is_503_naming_object_store(mongo_server: MongoServer, object_store: ObjectStore,
                                                   products: Any) -> None:
    env = backend_env(mongo_server, object_store, MINIO_BUCKET="no-such-bucket")
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        health = client.get("/api/health")
        assert health.status_code == 503
        assert health.json()["failing"] == ["object_store"]
        assert "no-such-bucket" in health.json()["checks"]["object_store"]["error"]


def test_unreachable_object_store_is_503_on_image_routes(mongo_server: MongoServer, object_store: ObjectStore,
                                                         products: Any) -> None:
    from harness.servers.base import free_port

    env = backend_env(mongo_server, object_store, MINIO_ENDPOINT=f"127.0.0.1:{free_port()}")
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        pid = client.post("/api/products", json={"name": "A", "price": 1}).json()["id"]
        response = client.put(f"/api/products/{pid}/image", content=b"\x89PNG\r\n\x1a\nxx",
                              headers={"content-type": "image/png"})
        assert response.status_code == 503
        assert response.json()["dependency"] == "object_store"
        assert client.get("/api/health").json()["failing"] == ["object_store"]


def test_acknowledged_writes_survive_kill_9(backend_on_fresh_mongo: TestClient, fresh_mongo_server: MongoServer) -> None:
    acknowledged = []
    for n in range(200):
        response = backend_on_fresh_mongo.post("/api/products", json={"name": f"durable-{n}", "price": n})
        assert response.status_code == 201
        acknowledged.append(response.json()["id"])
    fresh_mongo_server.kill()
    fresh_mongo_server.start()
    client: MongoClient[dict[str, Any]] = MongoClient(fresh_mongo_server.root_uri, serverSelectionTimeoutMS=5000)
    try:
        stored = {str(doc["_id"]) for doc in client[fresh_mongo_server.database].products.find({}, {"_id": 1})}
    finally:
        client.close()
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged products lost after kill -9"
