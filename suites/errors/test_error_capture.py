"""Failures reach the Sentry role tagged with the request that caused them: an unhandled
exception in the backend, and an upstream timeout seen by the gateway."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from fixtures.clients.http import new_request_id, service_client
from fixtures.clients.sentry import CapturedEvent, EventsApi, events_api
from fixtures.stack import Stack
from fixtures.waits import wait_for

SLOW_S = 6  # the gateway gives up after GATEWAY_UPSTREAM_TIMEOUT (5 s) of it


@pytest.fixture
def sentry(stack: Stack) -> Iterator[EventsApi]:
    api = events_api(stack)
    yield api
    api.close()


def captured(api: EventsApi, project: str, request_id: str) -> CapturedEvent:
    """The event of ``project`` tagged with ``request_id``, waited for."""
    __tracebackhide__ = True
    return wait_for(lambda: [e for e in api.events(project) if e.tags.get("request_id") == request_id],
                    target=f"{api.server}, project {project!r}", expectation=f"an event tagged request_id={request_id}",
                    timeout=api.capture_bound_s, interval=0.2, max_interval=0.5)[0]


def send(stack: Stack, method: str, path: str, timeout: float = 5.0) -> tuple[str, httpx.Response]:
    request_id = new_request_id()
    with service_client(stack, "gateway", timeout=timeout) as http:
        return request_id, http.request(method, path, headers={"x-request-id": request_id})


def check_error_body(response: httpx.Response, status: int, error: str, request_id: str) -> None:
    __tracebackhide__ = True
    where = f"{response.request.method} {response.request.url}"
    assert response.status_code == status, f"{where}: {response.status_code} {response.text[:300]}, expected {status}"
    body = response.json()
    assert body.get("error") == error and body.get("request_id") == request_id, \
        f"{where}: expected error {error!r} and request_id {request_id!r}, got {body}"
    echoed = response.headers.get("x-request-id")
    assert echoed == request_id, f"{where}: x-request-id {echoed!r}, expected {request_id!r}"


def test_upstream_timeout_is_captured_by_the_gateway(stack: Stack, sentry: EventsApi, record_property: Any) -> None:
    request_id, response = send(stack, "POST", f"/api/debug/slow?seconds={SLOW_S}", timeout=SLOW_S + 5)
    answered = time.monotonic()  # the gateway reports the timeout as it answers
    check_error_body(response, 504, "upstream_timeout", request_id)
    event = captured(sentry, "gateway", request_id)
    record_property("upstream_error_capture_latency_s", round(time.monotonic() - answered, 3))
    assert event.tags.get("upstream_error") == "timeout", f"gateway event {event.id}: tags {event.tags}"


def test_backend_exception_is_captured(stack: Stack, sentry: EventsApi, record_property: Any) -> None:
    sent = time.monotonic()
    request_id, response = send(stack, "POST", "/api/debug/error")
    check_error_body(response, 500, "internal_error", request_id)
    event = captured(sentry, "backend", request_id)
    record_property("error_capture_latency_s", round(time.monotonic() - sent, 3))
    assert any(kind == "RuntimeError" and request_id in value for kind, value in event.exceptions), \
        f"backend event {event.id} for {request_id}: exceptions {event.exceptions}"
