"""The canary's current view (services/canary): each pipeline's last round, from its /metrics.

The canary runs rounds all day; this reports what it saw last, per pipeline, and fails on a
pipeline its last round could not get through, naming the canary's own account of why."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.clients.http import service_client
from fixtures.clients.sentry import HOST_HEADER
from fixtures.plugin import require
from fixtures.results import Measure
from fixtures.stack import Stack
from services.canary.probe import PIPELINES, EventLookup, Targets, Tracer, events_lookup


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


def stack_events(stack: Stack) -> EventLookup:
    """The canary's lookup of a captured event, pointed at the stack's error tracking: your own
    Sentry when the stack's settings name its API, else the bundled role."""
    env = stack.env()
    if env.get("SENTRY_API_URL"):
        missing = [name for name in ("SENTRY_API_TOKEN", "SENTRY_ORG") if not env.get(name)]
        assert not missing, f"{stack.target}: SENTRY_API_URL is set, but not {' and '.join(missing)}"
        return events_lookup(env["SENTRY_API_URL"], env["SENTRY_API_TOKEN"], "backend", env["SENTRY_ORG"])
    token = env.get("BUGSINK_API_TOKEN") or env.get("SENTRY_API_TOKEN")
    assert token, f"{stack.target}: SENTRY_API_TOKEN is not set in the stack's .env"
    return events_lookup(stack.url("sentry"), token, "backend", headers=HOST_HEADER)


def canary_timeout(stack: Stack) -> float:
    """The stack's own CANARY_TIMEOUT, as the canary exports it: a round from here gets as long."""
    with service_client(stack, "canary", timeout=3) as http:
        text = http.get("/metrics").text
    found = [s.value for f in text_string_to_metric_families(text) for s in f.samples if s.name == "canary_timeout_seconds"]
    assert found, f"the canary's /metrics has no canary_timeout_seconds: {text[:300]}"
    return found[0]


def test_the_canary_round_runs_from_the_suite(stack: Stack, measure: Measure) -> None:
    """The suite's tracer is the canary's (services.canary.probe.Tracer, one implementation):
    the same round, sent from here through the gateway, followed into every pipeline."""
    require(stack, "canary")
    token = stack.env().get("CANARY_TOKEN")
    assert token, f"{stack.target}: CANARY_TOKEN is not set in the stack's .env"
    tracer = Tracer(Targets(gateway=stack.url("gateway"), elasticsearch=stack.url("elasticsearch"),
                            prometheus=stack.url("prometheus"), events=stack_events(stack), canary_token=token),
                    canary_timeout(stack))
    try:
        outcomes = tracer.run()
    finally:
        tracer.close()
    for name, outcome in outcomes.items():
        if outcome.latency_s is not None:
            measure(f"tracer_{name}_round_trip", round(outcome.latency_s, 3), "s")
    failed = {name: outcome.detail for name, outcome in outcomes.items() if not outcome.ok}
    assert not failed, f"the tracer round from the suite did not get through: {failed}"
