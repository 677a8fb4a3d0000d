"""The canary service: a tracer round (services/canary/probe.py) every ``CANARY_INTERVAL``,
each pipeline's success and latency on ``/metrics`` for Prometheus.

``uvicorn --factory services.canary.app:app``. The rounds run in one thread beside the
server; ``/health`` answers 200 while that thread keeps finishing rounds (the pipelines'
state is for the alerts, not for the container's health: a broken Elasticsearch must page,
not get the canary restarted).
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    process_collector,
)
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from services.canary.probe import PIPELINES, Outcome, Targets, Tracer, events_lookup
from services.common.settings import CanarySettings, load_canary

logger = logging.getLogger("services.canary")

# From a few milliseconds (the products round trip) to the production round's timeout.
LATENCY_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 3.0, 5.0, 10.0, 15.0, 20.0, 30.0, 45.0, 60.0)


class CanaryMetrics:
    def __init__(self, settings: CanarySettings, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)  # its own cost: CPU, memory
        self.up = Gauge("canary_pipeline_up", "1 when the last round saw the pipeline's trace, else 0.",
                        ["pipeline"], registry=self.registry)
        self.latency = Histogram("canary_pipeline_latency_seconds",
                                 "From the request that starts a pipeline to its trace seen (successful rounds).",
                                 ["pipeline"], buckets=LATENCY_BUCKETS, registry=self.registry)
        self.last_success = Gauge("canary_last_success_timestamp_seconds",
                                  "When the pipeline's trace was last seen (Unix time; 0: not since start).",
                                  ["pipeline"], registry=self.registry)
        self.failures = Gauge("canary_pipeline_failures_in_a_row",
                              "Consecutive rounds in which the pipeline failed (PipelineBroken counts these).",
                              ["pipeline"], registry=self.registry)
        self.rounds = Counter("canary_rounds", "Rounds run.", registry=self.registry)
        interval = Gauge("canary_interval_seconds", "CANARY_INTERVAL: from one round's start to the next.",
                         registry=self.registry)
        timeout = Gauge("canary_timeout_seconds", "CANARY_TIMEOUT: a round's bound.", registry=self.registry)
        interval.set(settings.interval)
        timeout.set(settings.timeout)
        for pipeline in PIPELINES:  # every series exists from the start: a scrape shows 0, not nothing
            self.up.labels(pipeline)
            self.last_success.labels(pipeline)
            self.failures.labels(pipeline)

    def record(self, outcomes: dict[str, Outcome], now: float) -> None:
        self.rounds.inc()
        for name, outcome in outcomes.items():
            self.up.labels(name).set(1 if outcome.ok else 0)
            if outcome.ok and outcome.latency_s is not None:
                self.latency.labels(name).observe(outcome.latency_s)
                self.last_success.labels(name).set(now)
                self.failures.labels(name).set(0)
            else:
                self.failures.labels(name).inc()


@dataclass
class Rounds:
    """The loop: one round per interval (the next starts at once when a round overran)."""

    settings: CanarySettings
    tracer_factory: Callable[[threading.Event], Tracer]
    metrics: CanaryMetrics
    stop: threading.Event = field(default_factory=threading.Event)
    last_end: float | None = None  # monotonic
    last: dict[str, Outcome] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    thread: threading.Thread | None = None

    def start(self) -> None:
        self.thread = threading.Thread(target=self.loop, name="canary-rounds", daemon=True)
        self.thread.start()

    def loop(self) -> None:
        tracer = self.tracer_factory(self.stop)
        try:
            while not self.stop.is_set():
                began = time.monotonic()
                self.once(tracer)
                self.stop.wait(max(0.0, began + self.settings.interval - time.monotonic()))
        finally:
            tracer.close()

    def once(self, tracer: Tracer) -> None:
        try:
            outcomes = tracer.run()
        except Exception as exc:
            logger.exception("canary round failed")
            outcomes = {p: Outcome(p, False, None, f"round broke: {exc!r}") for p in PIPELINES}
        self.metrics.record(outcomes, time.time())
        self.last, self.last_end = outcomes, time.monotonic()
        failed = {name: o.detail for name, o in outcomes.items() if not o.ok}
        if failed:
            logger.warning("canary pipelines failed: %s", failed)

    def alive(self) -> bool:
        """The loop finishes rounds: the last ended within two rounds' time."""
        allowed = 2 * (self.settings.interval + self.settings.timeout)
        reference = self.last_end if self.last_end is not None else self.started
        return self.thread is not None and self.thread.is_alive() and time.monotonic() - reference <= allowed

    def close(self) -> None:
        self.stop.set()
        if self.thread is not None:
            self.thread.join(timeout=self.settings.timeout + 5)


def targets(settings: CanarySettings) -> Targets:
    events = events_lookup(settings.sentry_url, settings.sentry_api_token, settings.sentry_project, settings.sentry_org)
    return Targets(gateway=settings.gateway_url, elasticsearch=settings.elasticsearch_url,
                   prometheus=settings.prometheus_url, events=events, canary_token=settings.canary_token)


def build(settings: CanarySettings, registry: CollectorRegistry | None = None,
          tracer_factory: Callable[[threading.Event], Tracer] | None = None) -> Starlette:
    metrics = CanaryMetrics(settings, registry)
    factory = tracer_factory or (lambda stop: Tracer(targets(settings), settings.timeout, stop))
    rounds = Rounds(settings, factory, metrics)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    async def health(request: Request) -> JSONResponse:
        view = {name: {"ok": o.ok, "detail": o.detail} for name, o in rounds.last.items()}
        alive = rounds.alive()
        return JSONResponse({"service": "canary", "ok": alive, "pipelines": view}, status_code=200 if alive else 503)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        rounds.start()
        try:
            yield
        finally:
            rounds.close()

    app = Starlette(routes=[Route("/metrics", metrics_endpoint), Route("/health", health)], lifespan=lifespan)
    app.state.rounds = rounds
    return app


def app() -> Starlette:
    """Factory for ``uvicorn --factory services.canary.app:app``: settings from the environment."""
    settings = load_canary()
    logging.basicConfig(stream=sys.stdout, level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    # One line per request of every round would be most of the canary's log; failures are logged as such.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("elastic_transport").setLevel(logging.WARNING)
    return build(settings)
