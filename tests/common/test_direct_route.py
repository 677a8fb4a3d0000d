"""The gateway's direct route (``PlatformApp(direct=...)``): it skips Starlette's router but
must answer as if it had not: same middleware (request id, metrics with the route template),
the same JSON 500 for a bug of ours, and only the paths the route template matches."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry
from starlette.routing import Route
from starlette.testclient import TestClient
from starlette.types import Receive, Scope, Send

from services.common.platform import create_app, observability
from services.common.settings import load_gateway

TEMPLATE = "/api/{path:path}"


class Echo:
    """A plain ASGI app, as the gateway's proxy is (Starlette would wrap a function as a
    request handler): answers its path, and raises for one ending in /boom."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["path"].endswith("/boom"):
            raise RuntimeError("a bug in the direct app")
        body = scope["path"].encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})


echo = Echo()


def client(direct: bool) -> TestClient:
    obs = observability(load_gateway({"BACKEND_URL": "http://127.0.0.1:9", "ENVIRONMENT": "test"}).common,
                        CollectorRegistry())
    route = Route(TEMPLATE, echo, methods=None)
    app = create_app(obs, [] if direct else [route], direct=route if direct else None)
    return TestClient(app, raise_server_exceptions=False)


def requests_total(test_client: TestClient, status: str) -> float:
    registry = test_client.app.state.obs.metrics.registry  # type: ignore[attr-defined]
    labels = {"service": "gateway", "method": "GET", "route": TEMPLATE, "status": status}
    return registry.get_sample_value("http_requests_total", labels) or 0.0


def test_the_direct_route_keeps_request_id_and_route_label() -> None:
    with client(direct=True) as test_client:
        response = test_client.get("/api/products/1", headers={"x-request-id": "direct-1"})
        assert (response.status_code, response.text) == (200, "/api/products/1")
        assert response.headers["x-request-id"] == "direct-1"
        assert requests_total(test_client, "200") == 1


def test_a_bug_in_the_direct_app_is_the_json_500_with_the_request_id() -> None:
    with client(direct=True) as test_client:
        response = test_client.get("/api/boom", headers={"x-request-id": "boom-1"})
        assert response.status_code == 500
        assert response.json() == {"error": "internal_error", "request_id": "boom-1"}
        assert response.headers["x-request-id"] == "boom-1"
        assert requests_total(test_client, "500") == 1


@pytest.mark.parametrize("path", ["/api", "/apix/products", "/api/", "/api/a/b", "/metrics"])
def test_the_direct_route_answers_what_the_router_would(path: str) -> None:
    with client(direct=True) as direct, client(direct=False) as routed:
        same = {"follow_redirects": False, "headers": {"x-request-id": "same-id"}}
        got, want = direct.get(path, **same), routed.get(path, **same)  # type: ignore[arg-type]
    assert (got.status_code, got.headers.get("location")) == (want.status_code, want.headers.get("location"))
    if path != "/metrics":
        assert got.content == want.content


@pytest.mark.parametrize("template", ["/api/{id}", "/api/{path:path}/x", "/api"])
def test_a_direct_route_must_end_in_one_path_parameter(template: str) -> None:
    obs = observability(load_gateway({"BACKEND_URL": "http://127.0.0.1:9", "ENVIRONMENT": "test"}).common,
                        CollectorRegistry())
    app = create_app(obs, [], direct=Route(template, echo, methods=None))
    with pytest.raises(ValueError, match="one {name:path} parameter"):
        app.build_middleware_stack()
