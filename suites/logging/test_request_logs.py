"""A request through the gateway leaves an ECS access log in both services' indices,
found by its X-Request-ID; how long that takes is measured."""

from __future__ import annotations

import re
import time

import pytest

from fixtures.clients.http import EMPTY_LISTING, new_request_id, service_client
from fixtures.clients.search import (
    LOG_SHIPPERS,
    RequestLogs,
    connect,
    field,
    has_field,
    log_index,
    wait_for_request_logs,
)
from fixtures.results import Measure
from fixtures.stack import Stack

ECS_FIELDS = ("@timestamp", "log.level", "message", "service.name", "http.request.method", "url.path",
              "http.response.status_code", "event.duration", "request_id")
PATH = "/api/products"
ISO_8601 = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})")


@pytest.fixture(scope="module")
def shipped(stack: Stack) -> RequestLogs:
    request_id = new_request_id()
    with service_client(stack, "gateway", timeout=5) as http:
        sent = time.monotonic()
        response = http.get(EMPTY_LISTING, headers={"x-request-id": request_id})
    assert response.status_code == 200, f"GET {response.request.url}: {response.status_code} {response.text[:300]}"
    with connect(stack) as es:
        return wait_for_request_logs(es, request_id, since=sent)


@pytest.mark.parametrize("service", LOG_SHIPPERS)
def test_request_leaves_an_ecs_access_log(shipped: RequestLogs, service: str, measure: Measure) -> None:
    measure("log_ingest_latency", round(shipped.latency_s[service], 3), "s")
    access = [doc for doc in shipped.documents[service] if has_field(doc, "http.response.status_code")]
    assert access, f"{log_index(service)}: no access log for {shipped.request_id}, only {shipped.documents[service]}"
    doc = access[0]
    missing = [name for name in ECS_FIELDS if not has_field(doc, name)]
    assert not missing, f"{log_index(service)} document lacks ECS fields {missing}: {doc}"
    expected = {"service.name": service, "request_id": shipped.request_id, "http.request.method": "GET",
                "url.path": PATH, "http.response.status_code": 200, "log.level": "info"}
    seen = {name: field(doc, name) for name in expected}
    assert seen == expected, f"{log_index(service)} document: {doc}"
    duration = field(doc, "event.duration")
    assert isinstance(duration, int) and duration > 0, f"event.duration is nanoseconds, got {duration!r}: {doc}"
    stamp = str(field(doc, "@timestamp"))
    assert ISO_8601.fullmatch(stamp), f"@timestamp {stamp!r} is not an ISO 8601 UTC time: {doc}"
