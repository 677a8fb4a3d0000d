from __future__ import annotations

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse
from starlette.routing import Route
from starlette.testclient import TestClient

from services.common.metrics import Metrics
from services.common.observe import ObserveMiddleware


def app(metrics: Metrics) -> Starlette:
    async def item(request: Request) -> PlainTextResponse:
        return PlainTextResponse(request.path_params["id"])

    application = Starlette(routes=[Route("/items/{id}", item), Route("/metrics", metrics.endpoint)])
    application.add_middleware(ObserveMiddleware, metrics=metrics)
    return application


def sample(metrics: Metrics, name: str, **labels: str) -> float:
    return metrics.registry.get_sample_value(name, labels) or 0.0


def test_route_label_is_the_template_not_the_path() -> None:
    metrics = Metrics("backend", CollectorRegistry())
    with TestClient(app(metrics)) as client:
        for n in range(5):
            assert client.get(f"/items/{n}").status_code == 200
        client.get("/nowhere")
    labels = {"service": "backend", "method": "GET", "route": "/items/{id}", "status": "200"}
    assert sample(metrics, "http_requests_total", **labels) == 5
    assert sample(metrics, "http_requests_total", service="backend", method="GET", route="unmatched", status="404") == 1
    assert sample(metrics, "http_request_duration_seconds_count", service="backend", method="GET", route="/items/{id}") == 5
    assert sample(metrics, "http_requests_in_progress", service="backend", method="GET") == 0


def test_exposition_has_the_expected_families() -> None:
    metrics = Metrics("gateway", CollectorRegistry())
    with TestClient(app(metrics)) as client:
        client.get("/items/1")
        text = client.get("/metrics").text
    families = {family.name for family in text_string_to_metric_families(text)}
    for name in ("http_requests", "http_request_duration_seconds", "http_requests_in_progress",
                 "upstream_errors", "log_shipper_dropped", "process_cpu_seconds"):
        assert name in families, f"{name} missing from {sorted(families)}"


def test_request_id_is_kept_or_created() -> None:
    metrics = Metrics("gateway", CollectorRegistry())
    with TestClient(app(metrics)) as client:
        assert client.get("/items/1", headers={"x-request-id": "abc-123"}).headers["x-request-id"] == "abc-123"
        created = client.get("/items/1").headers["x-request-id"]
        unsafe = client.get("/items/1", headers={"x-request-id": "bad id\twith spaces"}).headers["x-request-id"]
    assert len(created) == 32
    assert unsafe != "bad id\twith spaces" and len(unsafe) == 32
