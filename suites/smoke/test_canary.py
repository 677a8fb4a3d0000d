"""The canary's current view (services/canary): each pipeline's last round, from its /metrics.

The canary runs rounds all day; this reports what it saw last, per pipeline, and fails on a
pipeline its last round could not get through, naming the canary's own account of why."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.clients.http import service_client
from fixtures.plugin import require
from fixtures.results import Measure
from fixtures.stack import Stack
from services.canary.probe import PIPELINES


def samples(text: str, name: str) -> dict[str, float]:
    return {s.labels["pipeline"]: s.value for f in text_string_to_metric_families(text) for s in f.samples
            if s.name == name and "pipeline" in s.labels}


@pytest.mark.parametrize("pipeline", PIPELINES)
def test_canary_sees_the_pipeline(stack: Stack, pipeline: str, measure: Measure) -> None:
    require(stack, "canary")
    with service_client(stack, "canary", timeout=3) as http:
        text = http.get("/metrics").text
        view = http.get("/health").json().get("pipelines", {})
    failures = samples(text, "canary_pipeline_failures_in_a_row")
    count = samples(text, "canary_pipeline_latency_seconds_count").get(pipeline, 0.0)
    total = samples(text, "canary_pipeline_latency_seconds_sum").get(pipeline, 0.0)
    if count:
        measure(f"canary_{pipeline}_mean_round_trip", round(total / count, 3), "s")
    measure(f"canary_{pipeline}_failures_in_a_row", failures.get(pipeline, 0.0), "rounds")
    assert pipeline in view, f"the canary has not finished a round yet: {view}"
    assert samples(text, "canary_pipeline_up").get(pipeline) == 1, \
        f"the canary's last round did not get through {pipeline}: {view[pipeline]['detail']}"
