"""How the platform must behave while a fault is in place, and after it."""

from __future__ import annotations

import time
import uuid
from typing import Any

import httpx

from fixtures.chaos.experiment import SEED_SKU_PREFIX, SEEDED_LISTING, Check
from fixtures.chaos.traffic import GATEWAY_TIMEOUT_DEFAULT_S, TIMEOUT_ALLOWANCE_S
from fixtures.clients import search
from fixtures.clients.http import client
from fixtures.clients.sentry import events_api
from fixtures.stack import ComposeStack
from fixtures.waits import wait_for

# The page the slow-link check reads: a few products, so the body is still more than the
# shaper's one-packet burst (it trickles) but its size, and the check's time, no longer
# grow with the catalogue (a default page of 20 took 6 s, then 16 s at tbf's 4 kbit).
SLOW_PAGE = f"/api/products?sku_prefix={SEED_SKU_PREFIX}&limit=8"  # the seeded ones: indexed


def gateway_timeout(stack: ComposeStack) -> float:
    return float(stack.state("gateway").env.get("GATEWAY_UPSTREAM_TIMEOUT", GATEWAY_TIMEOUT_DEFAULT_S))


def _timed_get(stack: ComposeStack, path: str) -> tuple[Any, float]:
    with client(stack.url("gateway"), timeout=30) as http:
        started = time.monotonic()
        response = http.get(path)
        return response, time.monotonic() - started


def gateway_answers(errors: dict[int, str]) -> Check:
    """The gateway answers the API with one of ``errors`` (status → JSON ``error``) within its
    upstream timeout: never a hang, never a 500. A refused connection is a 502; one that
    just goes quiet (a partition) is a 504 at the timeout; both are right."""

    def run(stack: ComposeStack) -> str:
        limit = gateway_timeout(stack) + TIMEOUT_ALLOWANCE_S
        response, took = _timed_get(stack, SEEDED_LISTING)
        assert response.status_code in errors, f"gateway answered {response.status_code} {response.text[:200]}"
        assert response.json().get("error") == errors[response.status_code], f"error body {response.text[:200]}"
        assert took <= limit, f"gateway took {took:.2f} s, over its timeout + allowance ({limit:.1f} s)"
        return f"{response.status_code} {response.json()} in {took:.2f} s"

    return Check(f"gateway answers {'/'.join(map(str, sorted(errors)))}", run)


def slow_but_bounded() -> Check:
    """A slow backend: the gateway answers 504 at its timeout when the headers come late
    (a fixed delay), or streams a complete 200 when they came in time and the body
    trickles (a throttled link). Never a hang, never a broken or partial body."""

    def run(stack: ComposeStack) -> str:
        limit = gateway_timeout(stack) + TIMEOUT_ALLOWANCE_S
        response, took = _timed_get(stack, SLOW_PAGE)
        if response.status_code == 504:
            assert response.json().get("error") == "upstream_timeout", response.text[:200]
            assert took <= limit, f"504 after {took:.2f} s, over the timeout + allowance ({limit:.1f} s)"
            return f"504 upstream_timeout in {took:.2f} s"
        assert response.status_code == 200, f"gateway answered {response.status_code} {response.text[:200]}"
        body = response.json()  # a cut-off stream would not parse
        assert "items" in body and len(response.content) == int(response.headers["content-length"]), \
            f"incomplete body: {len(response.content)} of {response.headers.get('content-length')} bytes"
        return f"200, complete {len(response.content)}-byte body streamed in {took:.2f} s"

    return Check("gateway slow but bounded", run)


def _listed(http: httpx.Client, params: dict[str, str | int]) -> dict[str, Any]:
    """A listing the check needs to find its target: anything but a 200 is named as such."""
    response = http.get("/api/products", params=params)
    assert response.status_code == 200, f"GET /api/products {params}: {response.status_code} {response.text[:200]}"
    body: dict[str, Any] = response.json()
    return body


def dependency_unavailable(dependency: str) -> Check:
    """The backend answers 503 naming the dependency (through the gateway), never 500."""

    def run(stack: ComposeStack) -> str:
        path = SEEDED_LISTING
        if dependency == "object_store":
            with client(stack.url("gateway"), timeout=15) as http:
                # The newest page: the experiment seeded a product with an image just before the
                # fault, and earlier experiments (and runs) seeded more than a page before it.
                seeded = {"sku_prefix": SEED_SKU_PREFIX}
                total = _listed(http, {**seeded, "limit": 1})["total"]
                items = _listed(http, {**seeded, "limit": 100, "offset": max(0, total - 100)})["items"]
            with_image = [p for p in items if p.get("image")]
            assert with_image, "no product with an image to read while the object store is down"
            path = f"/api/products/{with_image[-1]['id']}/image"
        response, took = _timed_get(stack, path)
        assert response.status_code == 503, f"GET {path}: {response.status_code} {response.text[:200]}"
        assert response.json().get("dependency") == dependency, f"503 body names {response.text[:200]}"
        assert took <= gateway_timeout(stack), f"503 after {took:.2f} s: the gateway would have timed out first"
        return f"503 naming {dependency} in {took:.2f} s"

    return Check(f"backend 503 names {dependency}", run)


def still_served() -> Check:
    """Requests, including failing ones, are answered as usual: the fault is not in their path."""

    def run(stack: ComposeStack) -> str:
        listed, took = _timed_get(stack, SEEDED_LISTING)
        assert listed.status_code == 200 and took < 3, f"GET {SEEDED_LISTING}: {listed.status_code} in {took:.2f} s"
        with client(stack.url("gateway"), timeout=10) as http:
            started = time.monotonic()
            failed = http.post("/api/debug/error")
            took_error = time.monotonic() - started
        assert failed.status_code == 500 and failed.json()["error"] == "internal_error", failed.text[:200]
        assert took_error < 3, f"the fault route took {took_error:.2f} s"
        return f"200 in {took:.2f} s; fault route 500 in {took_error:.2f} s"

    return Check("requests still served", run)


class LogMarker:
    """A request made during the Elasticsearch outage; its log line must arrive once it is back."""

    def __init__(self) -> None:
        self.request_id = f"sp-chaos-log-{uuid.uuid4().hex}"

    def send(self) -> Check:
        def run(stack: ComposeStack) -> str:
            with client(stack.url("gateway"), timeout=10) as http:
                response = http.get(SEEDED_LISTING, headers={"x-request-id": self.request_id})
            assert response.status_code == 200, f"{response.status_code} while Elasticsearch is down"
            return f"request {self.request_id} answered 200 while Elasticsearch was down"

        return Check("request answered during the outage", run)

    def arrived(self) -> Check:
        def run(stack: ComposeStack) -> str:
            es = search.connect(stack)
            index = search.log_index("backend")

            def found() -> int:
                if not es.indices.exists(index=index):
                    return 0
                es.indices.refresh(index=index)
                hits = es.search(index=index, query={"match": {"request_id": self.request_id}})
                return int(hits["hits"]["total"]["value"])

            try:
                count = wait_for(found, target=f"{stack.url('elasticsearch')} {index}",
                                 expectation=f"the log line of {self.request_id}, queued during the outage",
                                 timeout=30, transient=(ConnectionError, OSError))
            finally:
                es.close()
            return f"{count} document(s) for {self.request_id} after recovery: nothing lost"

        return Check("log line from the outage shipped", run)


def errors_captured_again() -> Check:
    """Once the Sentry role is back, a new exception is captured and readable."""

    def run(stack: ComposeStack) -> str:
        request_id = f"sp-chaos-sentry-{uuid.uuid4().hex}"
        with client(stack.url("gateway"), timeout=10) as http:
            assert http.post("/api/debug/error", headers={"x-request-id": request_id}).status_code == 500
        api = events_api(stack)
        try:
            wait_for(lambda: [e.tags.get("request_id") for e in api.events("backend")],
                     target=f"{api.server} project backend", expectation=f"an event tagged {request_id}",
                     until=lambda ids: request_id in ids, timeout=30)
        finally:
            api.close()
        return f"event {request_id} captured after recovery"

    return Check("errors captured again", run)
