"""The services expose the metric families the dashboards and alerts are built on: the
backend's only as Prometheus scrapes it (it is not reachable from outside), the gateway's
also on its own /metrics."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.clients.http import service_client
from fixtures.clients.prometheus import Prometheus
from fixtures.plugin import require
from fixtures.stack import Stack
from services.canary.probe import PIPELINES
from suites.metrics.expected import ALWAYS_SAMPLED, CANARY_PER_PIPELINE, DEPENDENCIES, FAMILIES


def check_families(where: str, job: str, declared: dict[str, str], sampled: set[str]) -> None:
    __tracebackhide__ = True
    wrong = {name: declared.get(name, "absent") for name, kind in FAMILIES[job].items() if declared.get(name) != kind}
    assert not wrong, f"{where}: expected {FAMILIES[job]}, but these differ: {wrong}"
    missing = sorted(set(ALWAYS_SAMPLED[job]) - sampled)
    assert not missing, f"{where}: no samples for {missing}"


@pytest.mark.parametrize("job", sorted(FAMILIES))
def test_families_as_prometheus_scrapes_them(stack: Stack, job: str) -> None:
    prom = Prometheus(stack)
    declared = {m["metric"]: m["type"] for m in prom.target_metadata(job)}
    sampled = {r["metric"]["__name__"] for r in prom.query(f'count by (__name__) ({{job="{job}"}})')}
    check_families(f"Prometheus job {job!r}", job, declared, sampled)
    buckets = {r["metric"]["le"] for r in prom.query(f'http_request_duration_seconds_bucket{{job="{job}"}}')}
    assert "+Inf" in buckets and len(buckets) > 1, f"{job}: http_request_duration_seconds buckets {sorted(buckets)}"


def test_gateway_metrics_endpoint(stack: Stack) -> None:
    with service_client(stack, "gateway", timeout=5) as http:
        response = http.get("/metrics")
    assert response.status_code == 200, f"{response.request.url}: {response.status_code} {response.text[:300]}"
    declared: dict[str, str] = {}
    sampled: set[str] = set()
    for family in text_string_to_metric_families(response.text):
        # The parser names a counter without its _total suffix; Prometheus and PromQL use it.
        declared[family.name + "_total" if family.type == "counter" else family.name] = family.type
        sampled |= {sample.name for sample in family.samples}
    check_families(str(response.request.url), "gateway", declared, sampled)


def test_backend_reports_each_dependency(stack: Stack) -> None:
    found = {r["metric"]["dependency"]: r["value"][1]
             for r in Prometheus(stack).query('dependency_up{job="backend"}')}
    assert set(DEPENDENCIES) <= set(found), f'dependency_up{{job="backend"}}: expected {DEPENDENCIES}, got {found}'


@pytest.mark.parametrize("family", CANARY_PER_PIPELINE)
def test_the_canary_reports_every_pipeline_to_prometheus(stack: Stack, family: str) -> None:
    """Not only on its own /metrics (the smoke layer reads that): in Prometheus, where the
    PipelineBroken and PipelineSlow rules and the Pipelines row read it."""
    require(stack, "canary")
    series = {r["metric"].get("pipeline"): r["value"][1] for r in Prometheus(stack).query(f'{family}{{job="canary"}}')}
    missing = sorted(set(PIPELINES) - set(series))
    assert not missing, f'{family}{{job="canary"}} in Prometheus has no series for {missing}; it has {series or "none"}'
