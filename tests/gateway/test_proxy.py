"""The gateway against a real backend process: proxying, ids, limits and upstream faults."""

from __future__ import annotations

import hashlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import sentry_sdk
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from fixtures.waits import wait_for
from harness.apps import ServiceProcess
from harness.servers import SentryServer, event_tags
from harness.servers.base import free_port
from services.common.settings import load_gateway
from services.gateway.app import build

pytestmark = pytest.mark.servers


def gateway_for(backend_url: str, **env: str) -> TestClient:
    settings = load_gateway({"BACKEND_URL": backend_url, "ENVIRONMENT": "test", **env})
    return TestClient(build(settings, CollectorRegistry()), raise_server_exceptions=False)


@pytest.fixture
def gateway(backend_process: ServiceProcess) -> Iterator[TestClient]:
    with gateway_for(backend_process.url) as client:
        yield client


@pytest.fixture
def dead_gateway() -> Iterator[TestClient]:
    """A gateway whose backend address has nothing listening."""
    with gateway_for(f"http://127.0.0.1:{free_port()}") as client:
        yield client


def upstream_errors(client: TestClient, kind: str) -> float:
    registry = client.app.state.obs.metrics.registry  # type: ignore[attr-defined]
    return float(registry.get_sample_value("upstream_errors_total", {"kind": kind}) or 0)


def test_health(gateway: TestClient) -> None:
    body = gateway.get("/health").json()
    assert body["ok"] is True and body["service"] == "gateway"
    assert isinstance(body["version"], str) and body["uptime_s"] >= 0


def test_metrics_exposition(gateway: TestClient) -> None:
    gateway.get("/api/health")
    text = gateway.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/api/{path:path}",service="gateway",status="200"}' in text
    assert "process_cpu_seconds_total" in text


def test_proxies_to_the_backend(gateway: TestClient) -> None:
    health = gateway.get("/api/health")
    assert health.status_code == 200 and health.json()["service"] == "backend"
    created = gateway.post("/api/products", json={"name": "via gateway", "price": 2.5})
    assert created.status_code == 201
    assert gateway.get(f"/api/products/{created.json()['id']}").json()["name"] == "via gateway"
    assert gateway.delete(f"/api/products/{created.json()['id']}").status_code == 204


def test_backend_errors_pass_through_unchanged(gateway: TestClient) -> None:
    response = gateway.post("/api/products", json={"price": -1})
    assert response.status_code == 422
    assert {f["field"] for f in response.json()["fields"]} == {"name", "price"}
    assert gateway.get("/api/products/nope").status_code == 404


def test_request_id_is_kept_forwarded_and_returned(gateway: TestClient) -> None:
    echoed = gateway.get("/api/debug/echo", headers={"x-request-id": "trace-me-1"})
    assert echoed.headers["x-request-id"] == "trace-me-1"
    assert echoed.json()["headers"]["x-request-id"] == "trace-me-1"
    created = gateway.get("/api/debug/echo")
    assert created.json()["headers"]["x-request-id"] == created.headers["x-request-id"]


def test_forwarded_headers(gateway: TestClient) -> None:
    seen = gateway.get("/api/debug/echo?x=1&y=%2F", headers={"x-forwarded-for": "203.0.113.9"}).json()
    assert seen["query"] == "x=1&y=%2F"
    assert seen["headers"]["x-forwarded-for"] == "203.0.113.9, testclient"
    assert seen["headers"]["x-forwarded-proto"] == "http"
    assert seen["headers"]["x-forwarded-host"] == "testserver"


@pytest.mark.parametrize("chunked", [False, True])
def test_body_at_the_limit_is_streamed_through(gateway: TestClient, chunked: bool) -> None:
    body = bytes(range(256)) * 4096  # exactly 1 MiB
    content: Any = iter([body[:300_000], body[300_000:]]) if chunked else body
    seen = gateway.post("/api/debug/echo", content=content, headers={"content-type": "application/octet-stream"})
    assert seen.status_code == 200
    assert seen.json()["body_bytes"] == len(body)
    assert seen.json()["body_sha256"] == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("chunked", [False, True])
def test_body_over_the_limit_is_413(gateway: TestClient, chunked: bool) -> None:
    body = b"x" * (1024 * 1024 + 1)
    content: Any = iter([body[:500_000], body[500_000:]]) if chunked else body
    response = gateway.post("/api/debug/echo", content=content)
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_limit_is_configurable(backend_process: ServiceProcess) -> None:
    with gateway_for(backend_process.url, GATEWAY_MAX_BODY_BYTES="10") as client:
        assert client.post("/api/debug/echo", content=b"0123456789").status_code == 200
        assert client.post("/api/debug/echo", content=b"0123456789!").status_code == 413


def test_response_bodies_stream_back_intact(gateway: TestClient) -> None:
    pid = gateway.post("/api/products", json={"name": "img", "price": 1}).json()["id"]
    image = b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 2000
    assert gateway.put(f"/api/products/{pid}/image", content=image, headers={"content-type": "image/png"}).status_code == 200
    fetched = gateway.get(f"/api/products/{pid}/image")
    assert fetched.content == image
    assert fetched.headers["x-checksum-sha256"] == hashlib.sha256(image).hexdigest()


def test_openapi_through_the_gateway(gateway: TestClient) -> None:
    spec = gateway.get("/api/openapi.json").json()
    assert {"/api/products", "/api/products/{id}", "/api/products/{id}/image", "/api/health"} <= set(spec["paths"])


def test_unreachable_backend_is_502_fast(dead_gateway: TestClient) -> None:
    started = time.monotonic()
    response = dead_gateway.get("/api/products", headers={"x-request-id": "down-1"})
    assert time.monotonic() - started < 5
    assert response.status_code == 502
    assert response.json() == {"error": "upstream_unavailable", "kind": "connect", "request_id": "down-1"}
    assert upstream_errors(dead_gateway, "connect") == 1


def test_slow_backend_is_504_within_the_timeout(backend_process: ServiceProcess) -> None:
    with gateway_for(backend_process.url, GATEWAY_UPSTREAM_TIMEOUT="0.5") as client:
        started = time.monotonic()
        response = client.post("/api/debug/slow?seconds=5")
        elapsed = time.monotonic() - started
        assert response.status_code == 504
        assert response.json()["error"] == "upstream_timeout"
        assert 0.4 < elapsed < 3, f"504 after {elapsed:.2f} s with a 0.5 s timeout"
        assert upstream_errors(client, "timeout") == 1
        assert client.post("/api/debug/slow?seconds=0").status_code == 200


def test_gateway_own_routes_do_not_depend_on_the_backend(dead_gateway: TestClient) -> None:
    assert dead_gateway.get("/health").status_code == 200
    assert dead_gateway.get("/metrics").status_code == 200
    assert dead_gateway.get("/elsewhere").status_code == 404


def test_upstream_failure_reaches_sentry(sentry_server: SentryServer, sentry_reset: None) -> None:
    dsn = sentry_server.create_project("gateway-upstream-test")
    with gateway_for(f"http://127.0.0.1:{free_port()}", SENTRY_DSN=dsn) as client:
        assert client.get("/api/products", headers={"x-request-id": "gw-sentry-7"}).status_code == 502
    sentry_sdk.flush(timeout=10)
    found = wait_for(
        lambda: [event_tags(e) for e in sentry_server.events("gateway-upstream-test")],
        target=f"Bugsink {sentry_server.url} project gateway-upstream-test",
        expectation="an event tagged request_id=gw-sentry-7, upstream_error=connect",
        until=lambda tags: any(t.get("request_id") == "gw-sentry-7" for t in tags), timeout=30,
    )
    tags = next(t for t in found if t.get("request_id") == "gw-sentry-7")
    assert tags.get("upstream_error") == "connect" and tags.get("service") == "gateway"


def test_backend_keeps_the_connection_after_a_500(backend_process: ServiceProcess) -> None:
    """uvicorn closes a connection an exception escaped from, even after a complete 500;
    a proxy reusing pooled connections would have its next request cut off."""
    host, port = backend_process.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        reader = sock.makefile("rb")
        for request in (b"POST /api/debug/error HTTP/1.1\r\nhost: b\r\ncontent-length: 0\r\n\r\n",
                        b"GET /api/health HTTP/1.1\r\nhost: b\r\n\r\n"):
            sock.sendall(request)
            status = reader.readline()
            assert status, f"connection closed before answering {request.split(b' ')[:2]}"
            length = 0
            while (line := reader.readline()) not in (b"\r\n", b""):
                if line.lower().startswith(b"content-length:"):
                    length = int(line.split(b":")[1])
            reader.read(length)
        assert b" 200 " in status, status


class DropFirstConnection:
    """A real upstream that accepts, reads a request and hangs up unanswered once, then
    answers 200: what a keep-alive connection closed by the server looks like."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.served: list[str] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        for attempt in range(2):
            conn, _ = self.server.accept()
            with conn:
                request = conn.recv(65536).decode(errors="replace")
                self.served.append(request.split("\r\n", 1)[0])
                if attempt == 1:
                    conn.sendall(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}")
        self.server.close()


def test_gateway_resends_a_bodyless_request_once_when_the_connection_drops() -> None:
    upstream = DropFirstConnection()
    with gateway_for(f"http://127.0.0.1:{upstream.port}") as client:
        response = client.get("/api/products")
    upstream.thread.join(timeout=5)
    assert response.status_code == 200, response.text
    assert upstream.served == ["GET /api/products HTTP/1.1"] * 2


def test_date_and_server_headers_are_not_doubled(gateway: TestClient) -> None:
    response = gateway.get("/api/products")
    assert len(response.headers.get_list("date")) <= 1
    assert len(response.headers.get_list("server")) <= 1


def test_client_leaving_mid_body_is_not_a_backend_error(gateway: TestClient, backend_process: ServiceProcess) -> None:
    def backend_500s() -> float:
        text = httpx.get(f"{backend_process.url}/metrics").text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("http_requests_total{") and 'status="500"' in line)

    before = backend_500s()
    body = b"x" * (1024 * 1024 + 1)
    assert gateway.post("/api/debug/echo", content=iter([body[:500_000], body[500_000:]])).status_code == 413
    assert backend_500s() == before
