"""Prometheus metrics shared by both services.

The registry is injected so each test (and each app instance) gets a fresh one.
``route`` is the matched route template (``/api/products/{id}``), never the raw path,
so label cardinality stays bounded whatever clients send.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    gc_collector,
    generate_latest,
    platform_collector,
    process_collector,
)
from starlette.requests import Request
from starlette.responses import Response

# Latency buckets from 5 ms to 10 s: the gateway's upstream timeout (5 s) lands inside.
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


class Metrics:
    def __init__(self, service: str, registry: CollectorRegistry | None = None) -> None:
        self.service = service
        self.registry = registry if registry is not None else CollectorRegistry()
        process_collector.ProcessCollector(registry=self.registry)
        platform_collector.PlatformCollector(registry=self.registry)
        gc_collector.GCCollector(registry=self.registry)
        self.requests = Counter(
            "http_requests",
            "HTTP requests handled, by route template and status.",
            ["service", "method", "route", "status"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "http_request_duration_seconds",
            "Time from request received to response finished.",
            ["service", "method", "route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_progress = Gauge(
            "http_requests_in_progress",
            "Requests being handled right now.",
            ["service", "method"],
            registry=self.registry,
        )
        self.upstream_errors = Counter(
            "upstream_errors",
            "Requests the gateway could not complete upstream, by kind.",
            ["kind"],
            registry=self.registry,
        )
        self.log_dropped = Counter(
            "log_shipper_dropped",
            "Log records not shipped to Elasticsearch (queue full or given up).",
            ["service"],
            registry=self.registry,
        )
        self.log_shipped = Counter(
            "log_shipper_shipped",
            "Log records indexed in Elasticsearch.",
            ["service"],
            registry=self.registry,
        )
        self.log_shipper_up = Gauge(
            "log_shipper_up",
            "1 while the last bulk request to Elasticsearch succeeded, 0 after a failure.",
            ["service"],
            registry=self.registry,
        )
        self.dependency_up = Gauge(
            "dependency_up",
            "1 when the last health check reached the dependency, else 0.",
            ["service", "dependency"],
            registry=self.registry,
        )
        self._request_children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}
        self._in_progress_children: dict[str, Gauge] = {}
        # Children exist from the start so a scrape shows 0 rather than nothing.
        self.log_dropped.labels(service)
        self.log_shipped.labels(service)
        self.log_shipper_up.labels(service).set(1)

    def request_children(self, method: str, route: str, status: int) -> tuple[Counter, Histogram]:
        """The request counter's and duration histogram's children for one label set.

        ``labels()`` takes a lock and builds a key on every call (~3 µs each, three per
        request, measured in the gateway's profile); route templates, methods and statuses
        are few, so the children are kept.
        """
        key = (method, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (self.requests.labels(self.service, method, route, str(status)),
                        self.duration.labels(self.service, method, route))
            self._request_children[key] = children
        return children

    def in_progress_child(self, method: str) -> Gauge:
        child = self._in_progress_children.get(method)
        if child is None:
            child = self._in_progress_children[method] = self.in_progress.labels(self.service, method)
        return child

    async def endpoint(self, request: Request) -> Response:
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
