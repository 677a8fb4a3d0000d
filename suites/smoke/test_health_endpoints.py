"""Every service answers its health check: the build verification that runs first."""

from __future__ import annotations

import pytest

from fixtures.clients import mongo, sentry
from fixtures.clients.http import service_client
from fixtures.plugin import require
from fixtures.stack import Stack

# service, port, path, what a healthy answer contains
HTTP_HEALTH = [
    ("gateway", 5921, "/health", '"ok":true'),
    ("prometheus", 9090, "/-/ready", "Ready"),
    ("alertmanager", 9093, "/-/ready", "OK"),
    ("elasticsearch", 9200, "/_cluster/health", '"status"'),
    ("minio", 9000, "/minio/health/live", ""),
    ("receiver", 9097, "/health", '"ok":true'),
    ("grafana", 3000, "/api/health", '"database"'),
    ("kibana", 5601, "/api/status", '"overall"'),
]


@pytest.mark.parametrize(("service", "port", "path", "expected"), HTTP_HEALTH, ids=[h[0] for h in HTTP_HEALTH])
def test_http_health(stack: Stack, service: str, port: int, path: str, expected: str) -> None:
    require(stack, service)
    with service_client(stack, service, port, timeout=3) as http:
        response = http.get(path)
    assert response.status_code == 200, f"{service} {response.request.url}: {response.status_code} {response.text[:300]}"
    assert expected in response.text.replace(" ", ""), f"{service} {path}: {response.text[:300]}"


def test_backend_health_through_the_gateway(stack: Stack) -> None:
    with service_client(stack, "gateway", 5921, timeout=5) as http:
        response = http.get("/api/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["service"] == "backend" and body["ok"] is True
    assert all(check["ok"] for check in body["checks"].values()), body["checks"]


def test_mongo_answers_the_app_user(stack: Stack) -> None:
    require(stack, "mongo")
    with mongo.app_client(stack) as client:
        assert client.get_default_database(default=stack.env().get("MONGO_DATABASE", "ecommerce")).command("ping")["ok"] == 1


def test_sentry_role_is_healthy(stack: Stack) -> None:
    require(stack, "sentry")
    response = sentry.health(stack)
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:300]}"
