"""Where Grafana is part of the stack: its provisioned datasources answer and every
dashboard in compose/grafana/dashboards is loaded."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fixtures.clients.http import service_client
from fixtures.plugin import require
from fixtures.stack import Stack
from suites.dashboards.provisioned import dashboards


@pytest.fixture
def grafana(stack: Stack) -> Iterator[httpx.Client]:
    require(stack, "grafana")
    env = stack.env()
    password = env.get("GRAFANA_ADMIN_PASSWORD")
    assert password, f"{stack.target}: GRAFANA_ADMIN_PASSWORD is not set in the stack's .env"
    with service_client(stack, "grafana", timeout=10) as http:
        http.auth = httpx.BasicAuth(env.get("GRAFANA_ADMIN_USER", "admin"), password)
        yield http


def test_datasources_are_healthy(grafana: httpx.Client) -> None:
    listed = grafana.get("/api/datasources")
    assert listed.status_code == 200, f"{listed.request.url}: {listed.status_code} {listed.text[:300]}"
    sources = {d["uid"]: d["name"] for d in listed.json()}
    assert {"prometheus", "elasticsearch"} <= set(sources), f"Grafana datasources: {sources}"
    for uid, name in sources.items():
        health = grafana.get(f"/api/datasources/uid/{uid}/health")
        assert health.status_code == 200 and health.json().get("status") == "OK", \
            f"Grafana datasource {name!r}: {health.status_code} {health.text[:300]}"


def test_dashboards_are_provisioned(grafana: httpx.Client) -> None:
    for path, dashboard in dashboards():
        found = grafana.get(f"/api/dashboards/uid/{dashboard['uid']}")
        assert found.status_code == 200, \
            f"Grafana dashboard {dashboard['uid']!r} ({path.name}): {found.status_code} {found.text[:200]}"
