"""The canary's tracer round against real servers: the backend and the gateway as processes over
SecantusDB, SeaweedFS, osmem-server and Bugsink. No Prometheus runs here: a query endpoint that
reads the backend's own /metrics at each query stands in for it (the canary only asks it for one
counter's value)."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.testclient import TestClient

from harness.apps import ComposeGateway, ServiceProcess, backend_env, with_search
from harness.servers import MongoServer, ObjectStore, SearchServer, SentryServer
from harness.servers.base import LOOPBACK, free_port
from services.backend.app import build as build_backend
from services.canary.app import CanaryMetrics
from services.canary.probe import CANARY_ROUTE, PIPELINES, SKU_PREFIX, TOKEN_HEADER, BugsinkEvents, Outcome, Targets, Tracer
from services.common.settings import load_backend, load_canary

pytestmark = pytest.mark.servers

TOKEN = "canary-test-token-0123456789"
PROJECT = "canary-probe-test"
TIMEOUT_S = 2.0  # a short round, for the test of its bound


class CountingPrometheus:
    """``/api/v1/query`` answering the canary's counter from the backend's /metrics, read now."""

    def __init__(self, backend_url: str) -> None:
        self.backend_url = backend_url
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                text = httpx.get(outer.backend_url + "/metrics", timeout=5).text
                wanted = {"service": "backend", "route": CANARY_ROUTE, "status": "202"}
                values = [s.value for f in text_string_to_metric_families(text) for s in f.samples
                          if s.name == "http_requests_total" and wanted.items() <= s.labels.items()]
                result = [{"metric": {}, "value": [0, str(sum(values))]}] if values else []
                body = json.dumps({"status": "success", "data": {"resultType": "vector", "result": result}}).encode()
                self.send_response(200)
                self.send_header("content-type", "application/json")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer((LOOPBACK, free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://{LOOPBACK}:{self.server.server_address[1]}"

    def __enter__(self) -> Self:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass(frozen=True)
class Pipelines:
    gateway: str
    search: str
    prometheus: str
    sentry: SentryServer


@pytest.fixture(scope="module")
def pipelines(mongo_server: MongoServer, object_store: ObjectStore, bucket: str, search_server: SearchServer,
              sentry_server: SentryServer) -> Iterator[Pipelines]:
    dsn = sentry_server.create_project(PROJECT)
    env = with_search(backend_env(mongo_server, object_store, CANARY_TOKEN=TOKEN, SENTRY_DSN=dsn), search_server)
    with ServiceProcess("backend", env, "/api/health") as backend:
        gateway_env = with_search({"BACKEND_URL": backend.url, "ENVIRONMENT": "test"}, search_server)
        with ComposeGateway(gateway_env) as gateway, CountingPrometheus(backend.url) as prom:
            yield Pipelines(gateway.url, search_server.url, prom.url, sentry_server)


def tracer(p: Pipelines, *, token: str = TOKEN, search: str | None = None, timeout: float = 20.0) -> Tracer:
    events = BugsinkEvents(p.sentry.url, p.sentry.token, PROJECT)
    return Tracer(Targets(gateway=p.gateway, elasticsearch=search or p.search, prometheus=p.prometheus,
                          events=events, canary_token=token), timeout)


def run_once(t: Tracer) -> dict[str, Outcome]:
    try:
        return t.run()
    finally:
        t.close()


def test_a_round_sees_every_pipeline_and_leaves_nothing(pipelines: Pipelines) -> None:
    outcomes = run_once(tracer(pipelines))
    failed = {name: o.detail for name, o in outcomes.items() if not o.ok}
    assert not failed, failed
    assert list(outcomes) == list(PIPELINES)
    assert all(o.latency_s is not None and o.latency_s > 0 for o in outcomes.values()), outcomes
    left = httpx.get(pipelines.gateway + "/api/products", params={"sku_prefix": SKU_PREFIX}).json()
    assert left["total"] == 0, f"the canary left products behind: {left['items']}"


def test_a_wrong_token_fails_errors_and_metrics_only(pipelines: Pipelines) -> None:
    outcomes = run_once(tracer(pipelines, token="not-the-token"))
    assert {n for n, o in outcomes.items() if not o.ok} == {"errors", "metrics"}, outcomes
    assert "403" in outcomes["errors"].detail, outcomes["errors"]


def test_an_unreachable_log_store_fails_logs_within_the_timeout(pipelines: Pipelines) -> None:
    outcomes = run_once(tracer(pipelines, search=f"http://{LOOPBACK}:{free_port()}", timeout=3.0))
    assert not outcomes["logs"].ok and "not seen within 3 s" in outcomes["logs"].detail, outcomes["logs"]
    assert outcomes["products"].ok and outcomes["objects"].ok, outcomes


def test_a_round_against_a_gateway_that_never_answers_ends_within_its_timeout(pipelines: Pipelines) -> None:
    # The chaos bounds count a failing round as ending at its timeout; with a timeout per
    # request, a silent gateway made one round last a timeout per request it sent.
    with socket.create_server((LOOPBACK, 0), backlog=16) as silent:  # accepts in the kernel, never answers
        p = Pipelines(f"http://{LOOPBACK}:{silent.getsockname()[1]}", pipelines.search, pipelines.prometheus,
                      pipelines.sentry)
        started = time.monotonic()
        outcomes = run_once(tracer(p, timeout=TIMEOUT_S))
        took = time.monotonic() - started
    assert took < TIMEOUT_S + 1.0, f"a round with a {TIMEOUT_S:g} s timeout took {took:.2f} s"
    assert not outcomes["products"].ok and not outcomes["errors"].ok, outcomes


def test_canary_route_needs_its_token_and_answers_202(backend_settings: dict[str, str], products: object) -> None:
    with TestClient(build_backend(load_backend({**backend_settings, "CANARY_TOKEN": TOKEN})),
                    raise_server_exceptions=False) as client:
        assert client.post(CANARY_ROUTE).status_code == 403
        assert client.post(CANARY_ROUTE, headers={TOKEN_HEADER: TOKEN + "x"}).status_code == 403
        answer = client.post(CANARY_ROUTE, headers={TOKEN_HEADER: TOKEN, "x-request-id": "canary-route-1"})
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"event_id": None, "request_id": "canary-route-1"}  # no DSN here: nothing captured
        assert CANARY_ROUTE in client.get("/api/openapi.json").json()["paths"]


def test_canary_route_is_absent_without_a_token(backend_settings: dict[str, str], products: object) -> None:
    with TestClient(build_backend(load_backend(backend_settings)), raise_server_exceptions=False) as client:
        assert client.post(CANARY_ROUTE, headers={TOKEN_HEADER: TOKEN}).status_code == 404
        assert CANARY_ROUTE not in client.get("/api/openapi.json").json()["paths"]


def test_metrics_count_failures_in_a_row_and_reset_on_success() -> None:
    registry = CollectorRegistry()
    metrics = CanaryMetrics(load_canary({"CANARY_TOKEN": TOKEN, "SENTRY_API_TOKEN": "t" * 40, "CANARY_INTERVAL": "2"}),
                            registry)
    bad = {p: Outcome(p, p != "logs", None if p == "logs" else 0.5, "") for p in PIPELINES}
    for _ in range(3):
        metrics.record(bad, 1000.0)
    value = registry.get_sample_value
    assert value("canary_pipeline_failures_in_a_row", {"pipeline": "logs"}) == 3
    assert value("canary_pipeline_up", {"pipeline": "logs"}) == 0
    assert value("canary_last_success_timestamp_seconds", {"pipeline": "logs"}) == 0
    assert value("canary_last_success_timestamp_seconds", {"pipeline": "errors"}) == 1000.0
    assert value("canary_interval_seconds") == 2
    metrics.record({p: Outcome(p, True, 0.25, "") for p in PIPELINES}, 1002.0)
    assert value("canary_pipeline_failures_in_a_row", {"pipeline": "logs"}) == 0
    assert value("canary_pipeline_up", {"pipeline": "logs"}) == 1
    assert value("canary_pipeline_latency_seconds_count", {"pipeline": "logs"}) == 1
