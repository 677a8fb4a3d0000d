"""Every panel query of every provisioned dashboard runs against Prometheus and returns
data, with or without Grafana: the dashboards are only as good as their PromQL."""

from __future__ import annotations

import math
import time
from typing import Any

import pytest

from fixtures.clients.http import EMPTY_LISTING, service_client
from fixtures.clients.prometheus import Prometheus, PrometheusError, scrape_bound
from fixtures.stack import Stack
from fixtures.waits import wait_for
from suites.dashboards.provisioned import DASHBOARDS, dashboards, queries

# The panels chart the services; their traffic is what must have been scraped.
SERVICE_JOBS = ("gateway", "backend")
# Grafana fills these in before a query reaches Prometheus.
GRAFANA_MACROS = {"$__rate_interval": "1m", "$__interval": "15s", "$__range": "1h"}
RANGE_S = 300
STEP = "15s"


def panel_queries() -> list[Any]:
    return [pytest.param(dashboard["title"], panel["title"], target,
                         id=f"{path.stem}:{panel['title']}:{target.get('refId', '?')}")
            for path, dashboard in dashboards() for panel, target in queries(dashboard)]


def promql(expr: str) -> str:
    for macro, value in GRAFANA_MACROS.items():
        expr = expr.replace(macro, value)
    return expr


@pytest.fixture(scope="module")
def traffic(stack: Stack) -> Prometheus:
    """Requests of every kind the panels chart, one 5xx among them (last: the backend
    drops its connection after an unhandled exception)."""
    with service_client(stack, "gateway", timeout=5) as http:
        for method, path, status in [("GET", EMPTY_LISTING, 200), ("GET", "/api/health", 200),
                                     ("GET", "/api/products/unknown", 404), ("POST", "/api/debug/error", 500)]:
            response = http.request(method, path)
            assert response.status_code == status, \
                f"{method} {response.request.url}: {response.status_code}, expected {status}"
    return Prometheus(stack)


def finite(result: list[dict[str, Any]]) -> list[float]:
    values = [v for r in result for _, v in ([r["value"]] if "value" in r else r["values"])]
    return [float(v) for v in values if math.isfinite(float(v))]


@pytest.mark.parametrize(("dashboard", "panel", "target"), panel_queries())
def test_panel_query_returns_data(traffic: Prometheus, dashboard: str, panel: str,
                                  target: dict[str, Any]) -> None:
    prom = traffic
    expr = promql(target["expr"])
    where = f"dashboard {dashboard!r}, panel {panel!r}: {expr}"

    def run() -> tuple[list[float], list[float]]:
        """Finite values of the query as Grafana runs it (range) and at this instant."""
        end = time.time()
        try:
            ranged = prom.query_range(expr, start=end - RANGE_S, end=end, step=STEP)
            instant = prom.query(expr)
        except PrometheusError as exc:
            raise AssertionError(f"{where}: Prometheus refused the query: {exc}") from exc
        return finite(ranged), finite(instant)

    # No wait for a scrape when the panels already have data (the healthchecks feed them);
    # on a fresh stack, a rate over [5m] needs two scrapes of the series our traffic created.
    wait_for(run, target=where, expectation="finite values from the range and the instant query",
             until=lambda found: bool(found[0]) and bool(found[1]),
             timeout=max(scrape_bound(prom, job) for job in SERVICE_JOBS), interval=0.2, max_interval=0.5)


def test_dashboards_carry_queries() -> None:
    # Without this an empty or unparsed dashboard folder would leave nothing to fail.
    found = {path.name: sum(1 for _ in queries(dashboard)) for path, dashboard in dashboards()}
    assert found and all(found.values()), f"PromQL queries per dashboard in {DASHBOARDS}: {found}"


def test_system_health_has_a_pipelines_row_over_the_canary() -> None:
    """The canary's view (issue 15): a "Pipelines" row charting success, round trip and age per pipeline."""
    health = [d for _, d in dashboards() if d["title"] == "System Health"]
    assert health, f"no System Health dashboard in {DASHBOARDS}"
    rows = [p for p in health[0]["panels"] if p.get("type") == "row" and p.get("title") == "Pipelines"]
    assert rows, "System Health has no Pipelines row"
    exprs = " ".join(t["expr"] for panel in rows[0].get("panels") or [] for t in panel.get("targets") or [])
    for family in ("canary_pipeline_up", "canary_pipeline_latency_seconds_bucket", "canary_last_success_timestamp_seconds"):
        assert family in exprs, f"the Pipelines row charts no {family}: {exprs}"
