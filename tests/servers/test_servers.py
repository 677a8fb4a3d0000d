"""The harness servers are real: each is checked with the official client, including
refusals and recovery after stop/kill."""

from __future__ import annotations

import io
import json
import socket
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import elasticsearch
import httpx
import pytest
import sentry_sdk
from elasticsearch import helpers as es_helpers
from minio.error import S3Error
from pymongo.errors import DuplicateKeyError, OperationFailure, ServerSelectionTimeoutError
from pymongo.write_concern import WriteConcern

from harness.servers.base import LocalServer, ServerExited, ServerNotReady, wait_ready
from harness.servers.mongo import MongoServer
from harness.servers.objectstore import ObjectStore
from harness.servers.search import SearchServer
from harness.servers.sentry import SentryServer, event_tags


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


# --- the harness itself ---------------------------------------------------------------


def test_wait_timeout_names_target_expectation_last_value_and_log(tmp_path: Path) -> None:
    log = tmp_path / "server.log"
    log.write_text("starting\nlistening on the wrong port\n")
    started = time.monotonic()
    with pytest.raises(ServerNotReady) as info:
        wait_ready(lambda: 503, target="demo-server", expected="status 200", timeout=0.5,
                   accept=lambda status: status == 200, log_path=log)
    message = str(info.value)
    assert "demo-server" in message and "status 200" in message, message
    assert "Last seen: 503" in message and "listening on the wrong port" in message, message
    assert time.monotonic() - started < 2


def test_wait_propagates_unexpected_errors_at_once() -> None:
    calls = []

    def probe() -> None:
        calls.append(1)
        raise ValueError("broken, not slow")

    with pytest.raises(ValueError):
        wait_ready(probe, target="t", expected="e", timeout=10)
    assert len(calls) == 1


class _Crasher(LocalServer):
    name = "crasher"

    def _allocate_ports(self) -> None:
        pass

    def _command(self) -> list[str]:
        return [sys.executable, "-c", "print('boom: bad config', flush=True); raise SystemExit(3)"]

    def _probe(self) -> bool:
        raise ConnectionRefusedError("nothing listening yet")


def test_process_exiting_during_startup_fails_at_once_with_code_and_log(tmp_path: Path) -> None:
    started = time.monotonic()
    with pytest.raises(ServerExited) as info:
        _Crasher(tmp_path).start()
    assert info.value.returncode == 3
    assert "boom: bad config" in str(info.value)
    assert time.monotonic() - started < 10, "must not wait for the 60 s startup timeout"


class _Impostor(BaseHTTPRequestHandler):
    """Answers like a ready osmem-server, to prove readiness checks who answers."""

    def do_GET(self) -> None:
        body = json.dumps({"version": {"number": "0.0.0-impostor"}}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def test_taken_fixed_port_fails_fast_even_if_the_squatter_answers(tmp_path: Path) -> None:
    with ThreadingHTTPServer(("127.0.0.1", 0), _Impostor) as impostor:
        thread = threading.Thread(target=impostor.serve_forever, daemon=True)
        thread.start()
        try:
            started = time.monotonic()
            with pytest.raises(ServerExited, match="address already in use"):
                SearchServer(port=impostor.server_address[1], workdir=tmp_path).start()
            assert time.monotonic() - started < 10
        finally:
            impostor.shutdown()


def test_port_taken_before_first_start_is_chosen_again(tmp_path: Path) -> None:
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", 0))
        squatter.listen()
        taken = squatter.getsockname()[1]

        class Unlucky(SearchServer):
            offers: ClassVar[list[int]] = [taken]

            def _allocate_ports(self) -> None:
                super()._allocate_ports()
                if self.offers:
                    self.port = self.offers.pop()

        with Unlucky(workdir=tmp_path) as server:
            assert server.port != taken
            assert httpx.get(server.url).status_code == 200


# --- MongoDB role ---------------------------------------------------------------------


def test_app_user_reads_and_writes_its_database(mongo_server: MongoServer) -> None:
    with mongo_server.client() as client:
        products = client[mongo_server.database][unique("products")]
        products.create_index("sku", unique=True)
        products.insert_one({"sku": "A-1", "name": "kettle"})
        assert products.find_one({"sku": "A-1"}, {"_id": 0}) == {"sku": "A-1", "name": "kettle"}
        with pytest.raises(DuplicateKeyError):
            products.insert_one({"sku": "A-1"})


def test_app_user_is_refused_other_databases(mongo_server: MongoServer) -> None:
    with mongo_server.client() as client:
        with pytest.raises(OperationFailure, match="not authorized"):
            client["other"]["things"].insert_one({"x": 1})
        with pytest.raises(OperationFailure, match="not authorized"):
            client["admin"]["things"].find_one()


def test_app_user_authenticates_against_its_own_database_only(mongo_server: MongoServer) -> None:
    uri = mongo_server.app_uri.replace(f"authSource={mongo_server.database}", "authSource=admin")
    with mongo_server.client(uri, timeout_ms=1000) as client, pytest.raises(OperationFailure, match="authentication failed"):
        client[mongo_server.database]["products"].find_one()


def test_unauthenticated_and_wrong_password_are_refused(mongo_server: MongoServer) -> None:
    anonymous = f"mongodb://{mongo_server.host}:{mongo_server.port}/"
    with (mongo_server.client(anonymous, timeout_ms=1000) as client,
          pytest.raises(OperationFailure, match="requires authentication")):
        client[mongo_server.database]["products"].insert_one({"x": 1})
    wrong = mongo_server.root_uri.replace(mongo_server.root_password, "not-the-password")
    with (mongo_server.client(wrong, timeout_ms=1000) as client,
          pytest.raises((OperationFailure, ServerSelectionTimeoutError), match="authentication failed")):
        client["admin"].command("listDatabases")


def test_root_user_may_write_anywhere(mongo_server: MongoServer) -> None:
    with mongo_server.client(mongo_server.root_uri) as client:
        name = unique("scratch")
        client[name]["t"].insert_one({"x": 1})
        assert name in client.list_database_names()


def test_mongo_stop_start_keeps_port_data_and_auth(fresh_mongo_server: MongoServer) -> None:
    server = fresh_mongo_server
    port = server.port
    durable = WriteConcern(w=1, j=True)
    with server.client() as client:
        client[server.database].get_collection("orders", write_concern=durable).insert_one({"_id": "o-1"})

    server.stop()
    with server.client(timeout_ms=300) as client, pytest.raises(ServerSelectionTimeoutError):
        client[server.database]["orders"].find_one()

    server.start()
    assert server.port == port
    with server.client() as client:
        assert client[server.database]["orders"].find_one({"_id": "o-1"}) == {"_id": "o-1"}
        with pytest.raises(OperationFailure, match="not authorized"):
            client["other"]["t"].insert_one({"x": 1})


def test_mongo_survives_kill_9(fresh_mongo_server: MongoServer) -> None:
    server = fresh_mongo_server
    with server.client() as client:
        orders = client[server.database].get_collection("orders", write_concern=WriteConcern(j=True))
        orders.insert_many([{"n": n} for n in range(100)])
    server.kill()
    server.start()
    with server.client() as client:
        assert client[server.database]["orders"].count_documents({}) == 100


# --- object store role ----------------------------------------------------------------


def test_bucket_put_get(object_store: ObjectStore) -> None:
    s3 = object_store.minio_client()
    bucket = unique("images")
    s3.make_bucket(bucket)
    s3.put_object(bucket, "p/1.png", io.BytesIO(b"\x89PNG..."), 7, content_type="image/png")
    response = s3.get_object(bucket, "p/1.png")
    try:
        assert response.read() == b"\x89PNG..."
    finally:
        response.close()
        response.release_conn()
    assert [o.object_name for o in s3.list_objects(bucket, recursive=True)] == ["p/1.png"]


def test_wrong_secret_and_anonymous_are_refused(object_store: ObjectStore) -> None:
    s3 = object_store.minio_client()
    bucket = unique("private")
    s3.make_bucket(bucket)
    s3.put_object(bucket, "k", io.BytesIO(b"secret"), 6)
    with pytest.raises(S3Error) as info:
        object_store.minio_client(secret_key="wrong-secret").get_object(bucket, "k")
    assert info.value.code == "SignatureDoesNotMatch"
    assert httpx.get(f"{object_store.url}/{bucket}/k").status_code == 403


def test_every_weed_port_is_loopback_only(object_store: ObjectStore) -> None:
    listening = object_store.listening()
    assert {host for host, _ in listening} == {"127.0.0.1"}, listening
    assert {port for _, port in listening} == set(object_store.ports.values()), listening


def test_object_store_survives_kill_and_stop(tmp_path: Path) -> None:
    with ObjectStore(workdir=tmp_path, buckets=["ecommerce"]) as store:
        endpoint = store.endpoint
        store.minio_client().put_object("ecommerce", "k", io.BytesIO(b"kept"), 4)
        store.kill()
        store.start()
        store.restart()
        assert store.endpoint == endpoint
        response = store.minio_client().get_object("ecommerce", "k")
        try:
            assert response.read() == b"kept"
        finally:
            response.close()
            response.release_conn()


# --- Elasticsearch role ---------------------------------------------------------------


def test_index_bulk_search(search_server: SearchServer) -> None:
    es = search_server.client()
    index = unique("backend-logs")
    es.index(index=index, id="1", document={"level": "error", "message": "payment failed"})
    es_helpers.bulk(
        es, ({"_index": index, "_id": str(n), "level": "info", "message": f"ok {n}"} for n in range(2, 12))
    )
    es.indices.refresh(index=index)
    assert es.count(index=index)["count"] == 11
    hits = es.search(index=index, query={"match": {"level": "error"}})["hits"]
    assert [hit["_id"] for hit in hits["hits"]] == ["1"]
    assert es.cluster.health()["status"] in {"green", "yellow"}


def test_search_restart_keeps_port_but_not_data(fresh_search_server: SearchServer) -> None:
    server = fresh_search_server
    url = server.url
    server.client().index(index="gone-after-restart", document={"a": 1}, refresh=True)
    server.restart()
    assert server.url == url
    es = server.client()
    assert es.info()["version"]["number"]
    with pytest.raises(elasticsearch.NotFoundError):
        es.search(index="gone-after-restart")


def test_killed_search_server_refuses_then_recovers(fresh_search_server: SearchServer) -> None:
    server = fresh_search_server
    es = server.client(max_retries=0, request_timeout=2)
    server.kill()
    with pytest.raises(elasticsearch.ConnectionError):
        es.info()
    server.start()
    assert es.info()["cluster_name"]


# --- Sentry role ----------------------------------------------------------------------


@pytest.fixture
def clean_sentry_sdk() -> Iterator[None]:
    """Leaves no global sentry_sdk client behind for the next test."""
    yield
    sentry_sdk.get_client().close()
    sentry_sdk.init()


def _raise_and_capture(dsn: str, **tags: str) -> str:
    sentry_sdk.init(dsn=dsn, release="stackproof@1.0", environment="test",
                    default_integrations=False, auto_enabling_integrations=False)
    with sentry_sdk.new_scope() as scope:
        for key, value in tags.items():
            scope.set_tag(key, value)
        try:
            _ = 1 / 0
        except ZeroDivisionError as exc:
            event_id = sentry_sdk.capture_exception(exc)
    sentry_sdk.flush(timeout=10)
    # Closed while the server is up: closing later, against a stopped server, waits ~4 s.
    sentry_sdk.get_client().close()
    assert event_id is not None
    return event_id


def test_sdk_exception_is_readable_with_tags(sentry_server: SentryServer, clean_sentry_sdk: None) -> None:
    project = unique("backend")
    dsn = sentry_server.create_project(project)
    assert httpx.URL(dsn).port == sentry_server.port and httpx.URL(dsn).host == "127.0.0.1"

    event_id = _raise_and_capture(dsn, request_id="req-123", service="backend")

    issues = sentry_server.issues(project)
    assert [(i["calculated_type"], i["digested_event_count"]) for i in issues] == [("ZeroDivisionError", 1)]
    [event] = sentry_server.events(project)
    assert event["event_id"].replace("-", "") == event_id
    tags = event_tags(event)
    assert {"request_id": "req-123", "service": "backend", "release": "stackproof@1.0",
            "environment": "test"}.items() <= tags.items(), tags
    assert set(event_tags(event, standard=False)) >= {"request_id", "service"}
    assert "release" not in event_tags(event, standard=False)


def test_create_project_is_idempotent(sentry_server: SentryServer) -> None:
    name = unique("gateway")
    assert sentry_server.create_project(name) == sentry_server.create_project(name)


def test_wrong_dsn_key_and_missing_token_are_refused(sentry_server: SentryServer) -> None:
    project = unique("refusals")
    dsn = httpx.URL(sentry_server.create_project(project))
    project_id = dsn.path.strip("/")
    wrong_key = "0" * 32
    # Bugsink reads the key from the envelope header before X-Sentry-Auth: wrong in both.
    envelope = "\n".join([
        json.dumps({"event_id": uuid.uuid4().hex, "dsn": str(dsn.copy_with(username=wrong_key))}),
        json.dumps({"type": "event"}),
        json.dumps({"message": "should be refused", "level": "error"}),
    ])
    response = httpx.post(
        f"{sentry_server.url}/api/{project_id}/envelope/",
        content=envelope,
        headers={
            "Content-Type": "application/x-sentry-envelope",
            "X-Sentry-Auth": f"Sentry sentry_version=7, sentry_key={wrong_key}",
        },
    )
    assert response.status_code == 403, response.text
    assert sentry_server.issues(project) == []
    anonymous = httpx.get(f"{sentry_server.url}/api/canonical/0/issues/", params={"project": project_id})
    assert anonymous.status_code in {401, 403}


def test_sentry_restart_and_kill_keep_events(tmp_path: Path, clean_sentry_sdk: None) -> None:
    with SentryServer(workdir=tmp_path) as server:
        dsn = server.create_project("backend")
        _raise_and_capture(dsn, phase="before-restart")
        server.restart()
        server.kill()
        server.start()
        [event] = server.events("backend")
        assert event_tags(event)["phase"] == "before-restart"
        assert server.create_project("backend") == dsn
