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
from services.canary.probe import PIPELINES, BugsinkEvents, EventLookup, SentryEvents, Targets, Tracer

# A round from here waits as long as the canary's own in the production profile would.
ROUND_TIMEOUT_S = 45.0


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


def events_lookup(stack: Stack) -> EventLookup:
    """The canary's own lookup of a captured event, pointed at the stack's error tracking
    (your own Sentry when the stack's settings name its API, else the bundled role)."""
    env = stack.env()
    if env.get("SENTRY_API_URL"):
        return SentryEvents(env["SENTRY_API_URL"], env.get("SENTRY_API_TOKEN", ""), env.get("SENTRY_ORG", ""), "backend")
    token = env.get("BUGSINK_API_TOKEN") or env.get("SENTRY_API_TOKEN")
    assert token, f"{stack.target}: SENTRY_API_TOKEN is not set in the stack's .env"
    return BugsinkEvents(stack.url("sentry"), token, "backend", headers=HOST_HEADER)


def test_the_canary_round_runs_from_the_suite(stack: Stack, measure: Measure) -> None:
    """The suite's tracer is the canary's (services.canary.probe.Tracer, one implementation):
    the same round, sent from here through the gateway, followed into every pipeline."""
    require(stack, "canary")
    token = stack.env().get("CANARY_TOKEN")
    assert token, f"{stack.target}: CANARY_TOKEN is not set in the stack's .env"
    tracer = Tracer(Targets(gateway=stack.url("gateway"), elasticsearch=stack.url("elasticsearch"),
                            prometheus=stack.url("prometheus"), events=events_lookup(stack), canary_token=token),
                    ROUND_TIMEOUT_S)
    try:
        outcomes = tracer.run()
    finally:
        tracer.close()
    for name, outcome in outcomes.items():
        if outcome.latency_s is not None:
            measure(f"tracer_{name}_round_trip", round(outcome.latency_s, 3), "s")
    failed = {name: outcome.detail for name, outcome in outcomes.items() if not outcome.ok}
    assert not failed, f"the tracer round from the suite did not get through: {failed}"
