"""What the edge tells the services behind it: the request id (the client's, or one it
makes), and that the client came over https (X-Forwarded-Proto), which the backend's
access log records as ``url.scheme`` for that request id. The same request straight to
the gateway, on the frontend network, is logged as http: the field is not a constant."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from fixtures.clients.http import new_request_id
from fixtures.clients.search import (
    RequestLogs,
    connect,
    field,
    has_field,
    log_index,
    wait_for_request_logs,
)
from fixtures.stack import ComposeStack, Stack
from fixtures.waits import wait_for

from .edge import Edge

PATH = "/api/products"
NGINX_REQUEST_ID = re.compile(r"[0-9a-f]{32}")


@dataclass(frozen=True)
class Traced:
    through_edge: RequestLogs
    direct: RequestLogs


@pytest.fixture(scope="module")
def https(edge: Edge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge.https, verify=edge.trust(), timeout=10) as client:
        yield client


@pytest.fixture(scope="module")
def traced(stack: Stack, https: httpx.Client) -> Traced:
    via_edge, direct = new_request_id(), new_request_id()
    sent = time.monotonic()
    response = https.get(PATH, params={"limit": 1}, headers={"x-request-id": via_edge})
    assert response.status_code == 200, f"GET {response.request.url}: {response.status_code} {response.text[:300]}"
    # The gateway has no published port behind the edge: the host reaches it on the bridge.
    with httpx.Client(base_url=stack.url("gateway"), timeout=10) as gateway:
        answer = gateway.get(PATH, params={"limit": 1}, headers={"x-request-id": direct})
    assert answer.status_code == 200, f"GET {answer.request.url}: {answer.status_code} {answer.text[:300]}"
    with connect(stack) as es:
        return Traced(wait_for_request_logs(es, via_edge, since=sent), wait_for_request_logs(es, direct, since=sent))


def scheme(logs: RequestLogs, service: str) -> object:
    access = [doc for doc in logs.documents[service] if has_field(doc, "http.response.status_code")]
    assert access, f"{log_index(service)}: no access log for {logs.request_id}: {logs.documents[service]}"
    return field(access[0], "url.scheme") if has_field(access[0], "url.scheme") else None


@pytest.mark.parametrize("service", ["backend", "gateway"])
def test_https_reaches_the_access_log(traced: Traced, service: str) -> None:
    seen = {"through the edge": scheme(traced.through_edge, service), "straight to the gateway": scheme(traced.direct, service)}
    assert seen == {"through the edge": "https", "straight to the gateway": "http"}, (
        f"{log_index(service)} url.scheme for {traced.through_edge.request_id} / {traced.direct.request_id}: {seen}")


def test_the_client_request_id_is_passed_through(https: httpx.Client) -> None:
    sent = new_request_id()
    response = https.get("/health", headers={"x-request-id": sent})
    assert response.headers.get("x-request-id") == sent, f"sent {sent}, the gateway answered {dict(response.headers)}"


def test_a_request_without_id_gets_the_edges(stack: Stack, https: httpx.Client) -> None:
    if not isinstance(stack, ComposeStack):
        pytest.skip(f"{stack.target} is read-only: the edge's own log is read from its container")
    response = https.get("/health")
    given = response.headers.get("x-request-id", "")
    assert NGINX_REQUEST_ID.fullmatch(given), f"answer without a client id carries x-request-id {given!r}"
    # The id the gateway answered with is the one the edge logged: the edge made it.
    wait_for(lambda: stack.logs("edge", tail=200), target="edge container log",
             expectation=f"an access log line with request_id {given}",
             until=lambda text: f'"request_id":"{given}"' in text, timeout=5)
