"""Fixtures wiring the services to the real servers of harness/servers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

# Imported where used: this conftest loads on every run, `pytest -m smoke` too, which
# needs none of it (the servers, the services, their clients: about a second).
if TYPE_CHECKING:
    from starlette.testclient import TestClient

    from harness.apps import ServiceProcess
    from harness.servers import MongoServer, ObjectStore

BUCKET = "ecommerce"


@pytest.fixture(scope="session")
def bucket(object_store: ObjectStore) -> str:
    from minio import Minio

    client = Minio(object_store.endpoint, object_store.access_key, object_store.secret_key, secure=False)
    if not client.bucket_exists(BUCKET):
        client.make_bucket(BUCKET)
    return BUCKET


@pytest.fixture
def products(mongo_server: MongoServer) -> Iterator[Any]:
    """The products collection, emptied before the test (root credentials: test set-up only)."""
    from pymongo import MongoClient

    client: MongoClient[dict[str, Any]] = MongoClient(mongo_server.root_uri, serverSelectionTimeoutMS=5000)
    collection = client[mongo_server.database].products
    collection.delete_many({})
    yield collection
    client.close()


@pytest.fixture
def backend_settings(mongo_server: MongoServer, object_store: ObjectStore, bucket: str) -> dict[str, str]:
    from harness.apps import backend_env

    return backend_env(mongo_server, object_store, ENABLE_FAULT_ROUTES="true")


@pytest.fixture
def backend(backend_settings: dict[str, str], products: Any) -> Iterator[TestClient]:
    """The backend app in-process, against the session's real servers, with an empty catalogue."""
    from starlette.testclient import TestClient

    from services.backend.app import build as build_backend
    from services.common.settings import load_backend

    with TestClient(build_backend(load_backend(backend_settings)), raise_server_exceptions=False) as client:
        yield client


@pytest.fixture(scope="session")
def backend_process(mongo_server: MongoServer, object_store: ObjectStore, bucket: str) -> Iterator[ServiceProcess]:
    """A real backend server for the gateway to proxy to."""
    from harness.apps import ServiceProcess, backend_env

    with ServiceProcess("backend", backend_env(mongo_server, object_store, ENABLE_FAULT_ROUTES="true"),
                        "/api/health") as process:
        yield process


@pytest.fixture
def sentry_reset() -> Iterator[None]:
    """For tests that point sentry_sdk at a project: it is process-wide, so later tests
    must not report into this one's project."""
    import sentry_sdk

    yield
    sentry_sdk.init()
