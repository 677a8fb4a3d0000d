"""Unhandled errors: 500 JSON with the request id, captured by the Sentry-role server (Bugsink)."""

from __future__ import annotations

from typing import Any

import pytest
import sentry_sdk
from starlette.testclient import TestClient

from fixtures.waits import wait_for
from harness.servers import SentryServer, event_tags
from services.backend.app import build
from services.common.settings import load_backend

pytestmark = pytest.mark.servers


def test_fault_route_is_off_unless_enabled(backend_settings: dict[str, str], products: object) -> None:
    env = {k: v for k, v in backend_settings.items() if k != "ENABLE_FAULT_ROUTES"}
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        assert client.post("/api/debug/error").status_code == 404
        assert "/api/debug/error" not in client.get("/api/openapi.json").json()["paths"]


def test_unhandled_exception_is_500_json_with_request_id(backend: TestClient) -> None:
    response = backend.post("/api/debug/error", headers={"x-request-id": "err-test-1"})
    assert response.status_code == 500
    assert response.json() == {"error": "internal_error", "request_id": "err-test-1"}
    assert response.headers["x-request-id"] == "err-test-1"


def test_exception_reaches_sentry_tagged_with_request_id(
    backend_settings: dict[str, str], products: object, sentry_server: SentryServer, sentry_reset: None
) -> None:
    dsn = sentry_server.create_project("backend-errors-test")
    env = {**backend_settings, "SENTRY_DSN": dsn, "SERVICE_VERSION": "1.2.3"}
    with TestClient(build(load_backend(env)), raise_server_exceptions=False) as client:
        response = client.post("/api/debug/error", headers={"x-request-id": "sentry-rid-42"})
        assert response.status_code == 500
    sentry_sdk.flush(timeout=10)

    def mine(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return [e for e in events if event_tags(e).get("request_id") == "sentry-rid-42"]

    events = wait_for(lambda: sentry_server.events("backend-errors-test"),
                      target=f"Bugsink {sentry_server.url} project backend-errors-test",
                      expectation="an event tagged request_id=sentry-rid-42", until=lambda found: bool(mine(found)),
                      timeout=30)
    event = mine(events)[0]["data"]
    assert event_tags(mine(events)[0])["service"] == "backend"
    assert event["environment"] == "test"
    assert event["release"] == "backend@1.2.3"
    assert event["exception"]["values"][-1]["type"] == "RuntimeError"


def test_no_dsn_means_disabled_not_an_error(backend: TestClient) -> None:
    assert backend.app.state.obs.sentry_enabled is False  # type: ignore[attr-defined]
    assert backend.get("/api/health").status_code == 200
