"""Every service answers its health check: the build verification that runs first."""

from __future__ import annotations

import pytest

from fixtures.clients import mongo, sentry
from fixtures.clients.http import service_client
from fixtures.plugin import require
from fixtures.services import SERVICES, Service
from fixtures.stack import Stack

# Every service with an HTTP health endpoint (fixtures/services.py), from this machine.
WITH_HEALTH = [s for s in SERVICES.values() if s.health is not None]


@pytest.mark.parametrize("service", WITH_HEALTH, ids=[s.name for s in WITH_HEALTH])
def test_http_health(stack: Stack, service: Service) -> None:
    assert service.health is not None
    require(stack, service.name)
    with service_client(stack, service.name, timeout=3) as http:
        response = http.get(service.health.path)
    where = f"{service.name} {response.request.url}"
    assert response.status_code == 200, f"{where}: {response.status_code} {response.text[:300]}"
    assert service.health.contains in response.text.replace(" ", ""), f"{where}: {response.text[:300]}"


def test_backend_health_through_the_gateway(stack: Stack) -> None:
    with service_client(stack, "gateway", timeout=5) as http:
        response = http.get("/api/health")
    body = response.json()
    assert response.status_code == 200, body
    assert body["service"] == "backend" and body["ok"] is True
    assert all(check["ok"] for check in body["checks"].values()), body["checks"]


def test_mongo_answers_the_app_user(stack: Stack) -> None:
    with mongo.app_client(stack) as client:
        assert client.get_default_database(default=stack.env().get("MONGO_DATABASE", "ecommerce")).command("ping")["ok"] == 1


def test_sentry_role_is_healthy(stack: Stack) -> None:
    response = sentry.health(stack)
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:300]}"
