"""Break the running stack on purpose: the right alert reaches the receiver within the
bound computed from the live configuration, the platform degrades cleanly, and everything
recovers with nothing lost. One experiment per test; journals in reports/chaos/ (output
only: the report gets the observation from the test itself).

A compose target runs the compose experiments; a swarm target (``swarm://STACK``) the swarm
ones, which only an orchestrator can show: a replica killed under traffic and replaced, every
replica killed, a rolling update. The compose experiments' faults assume a killed container
stays dead until the rollback starts it, which swarm, replacing it at once, never allows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from fixtures import plugin
from fixtures.chaos.experiment import Clients, Expect, Experiment, Runner, pipeline_broken
from fixtures.chaos.faults import (
    Crash,
    Disconnect,
    Kill,
    KillReplicas,
    Latency,
    Pause,
    ResolverDown,
    RollingUpdate,
    Unsupported,
)
from fixtures.chaos.traffic import Settings
from fixtures.results import record_chaos
from fixtures.stack import ComposeStack, StackError, SwarmStack
from suites.chaos.checks import (
    LogMarker,
    dependency_unavailable,
    errors_captured_again,
    gateway_answers,
    gateway_timeout,
    slow_but_bounded,
    still_served,
)

JOURNALS = Path("reports/chaos")
UNAVAILABLE, TIMEOUT = "upstream_unavailable", "upstream_timeout"


def _experiments() -> list[Experiment]:
    marker = LogMarker()
    return [
        Experiment("backend-kill", "The backend dies: ServiceDown, and the gateway answers 502 at once",
                   Kill("backend"), Expect("ServiceDown", {"job": "backend"}, job="backend"),
                   during=[gateway_answers({502: UNAVAILABLE})]),
        Experiment("backend-crash", "The backend's main process is killed: the restart policy brings it back",
                   Crash("backend")),
        Experiment("gateway-pause", "The gateway freezes: its scrapes hang and ServiceDown fires",
                   Pause("gateway"), Expect("ServiceDown", {"job": "gateway"}, job="gateway")),
        Experiment("gateway-backend-partition", "Gateway and backend are partitioned: 502 at once, ServiceDown",
                   Disconnect("gateway", "backend"), Expect("ServiceDown", {"job": "gateway"}, job="gateway"),
                   during=[gateway_answers({502: UNAVAILABLE, 504: TIMEOUT})]),
        Experiment("backend-latency", "The backend's network turns slow: the gateway answers 504 within its timeout",
                   Latency("backend", 6000), Expect("ServiceDown", {"job": "backend"}, job="backend"),
                   during=[slow_but_bounded()]),
        Experiment("mongo-kill", "MongoDB dies: DependencyDown, 503 naming mongo, acknowledged data survives",
                   Kill("mongo"), Expect("DependencyDown", {"dependency": "mongo"}, job="backend", health_check_of="backend"),
                   during=[dependency_unavailable("mongo")]),
        Experiment("objectstore-kill", "The object store dies: ServiceDown, 503 naming object_store, objects survive",
                   Kill("minio"), Expect("ServiceDown", {"job": "minio"}, job="minio"),
                   during=[dependency_unavailable("object_store")], also=[pipeline_broken("objects")]),
        Experiment("elasticsearch-kill", "Elasticsearch dies: LogShippingDown; logs queue and arrive once it is back",
                   Kill("elasticsearch", then_run=("search-init",)),
                   Expect("LogShippingDown", {"service": "backend"}, job="backend", shipper_in="backend"),
                   during=[still_served(), marker.send()], after=[marker.arrived()], also=[pipeline_broken("logs")]),
        Experiment("sentry-kill", "The Sentry role dies: the canary's PipelineBroken pages, requests are unaffected, "
                   "capture resumes when it is back",
                   Kill("sentry"), pipeline_broken("errors"), during=[still_served()], after=[errors_captured_again()]),
        # Issue 15's silent failure: every container healthy, every target up, every /api 502.
        Experiment("gateway-resolver-down", "The gateway can no longer resolve the backend: only the canary pages",
                   ResolverDown("gateway"), pipeline_broken("products"), during=[gateway_answers({502: UNAVAILABLE})]),
        Experiment("alertmanager-kill", "Alertmanager dies: Prometheus still sees it and fires ServiceDown",
                   Kill("alertmanager"), Expect("ServiceDown", {"job": "alertmanager"}, job="alertmanager", delivered=False)),
        Experiment("prometheus-kill", "Prometheus dies: the Watchdog heartbeat goes silent at the receiver",
                   Kill("prometheus"), heartbeat=True),
    ]


def _swarm_experiments() -> list[Experiment]:
    return [
        Experiment("backend-replica-kill", "One backend replica dies under traffic: only requests in flight on it may "
                   "fail, swarm replaces the task, ReplicasDegraded fires",
                   KillReplicas("backend", 1), Expect("ReplicasDegraded", {"job": "backend"}, job="backend"),
                   during=[still_served()], clients=Clients.IN_FLIGHT),
        Experiment("backend-replicas-kill", "Every backend replica dies: ServiceDown, and the gateway answers 502 at once "
                   "(504 at its timeout) until swarm has replaced them",
                   KillReplicas("backend"), Expect("ServiceDown", {"job": "backend"}, job="backend"),
                   during=[gateway_answers({502: UNAVAILABLE, 504: TIMEOUT})]),
        Experiment("backend-rolling-update", "A rolling update of the backend under traffic: every task replaced, "
                   "no request fails", RollingUpdate("backend"), during=[still_served()], clients=Clients.NONE),
    ]


def experiments_for(config: pytest.Config) -> list[Experiment]:
    """The target's experiments: a target that cannot be opened gets the compose ones, which
    then fail on the ``stack`` fixture, naming why."""
    try:
        swarm = isinstance(plugin.stack_for(config), SwarmStack)
    except StackError:
        swarm = False
    return _swarm_experiments() if swarm else _experiments()


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "experiment" in metafunc.fixturenames:
        chosen = experiments_for(metafunc.config)
        metafunc.parametrize("experiment", chosen, ids=[e.name for e in chosen])


@pytest.fixture(scope="module")
def runner(compose_stack: ComposeStack, pytestconfig: pytest.Config) -> Iterator[Runner]:
    rate = plugin.chaos_rate(pytestconfig)
    traffic = Settings(compose_stack.url("gateway"), rate, gateway_timeout_s=gateway_timeout(compose_stack)) if rate else None
    chaos_runner = Runner(compose_stack, JOURNALS, traffic=traffic)
    yield chaos_runner
    chaos_runner.close()


def test_experiment(runner: Runner, experiment: Experiment, request: pytest.FixtureRequest) -> None:
    try:
        observed = runner.run(experiment).observation
    except Unsupported as exc:
        pytest.skip(f"{experiment.name}: {exc}")
    record_chaos(request.node, observed)  # the report's timeline and Measured table, in memory
    assert observed.result == "passed", f"{experiment.name}: " + "\n".join(observed.failures)
