"""What each scrape job must expose: metric families by their exposition name and type."""

from __future__ import annotations

JOBS = ("gateway", "backend", "prometheus", "alertmanager", "minio", "canary")

_SERVICE_FAMILIES = {
    "http_requests_total": "counter",
    "http_request_duration_seconds": "histogram",
    "http_requests_in_progress": "gauge",
    "process_cpu_seconds_total": "counter",
}
FAMILIES: dict[str, dict[str, str]] = {
    "gateway": {**_SERVICE_FAMILIES, "upstream_errors_total": "counter"},
    "backend": {**_SERVICE_FAMILIES, "dependency_up": "gauge"},
}

# Families that have samples whatever traffic there was: the healthchecks and Prometheus'
# own scrape of /metrics are requests, the backend's healthcheck sets dependency_up. A
# labelled counter such as upstream_errors_total only has samples once something happened.
_SAMPLED = ("http_requests_total", "http_request_duration_seconds_bucket", "http_request_duration_seconds_sum",
            "http_request_duration_seconds_count", "http_requests_in_progress", "process_cpu_seconds_total")
ALWAYS_SAMPLED: dict[str, tuple[str, ...]] = {"gateway": _SAMPLED, "backend": (*_SAMPLED, "dependency_up")}
DEPENDENCIES = ("mongo", "object_store")

# The canary's families (issue 15), one series per pipeline once its first round is done.
CANARY_PER_PIPELINE = ("canary_pipeline_up", "canary_pipeline_failures_in_a_row",
                       "canary_pipeline_latency_seconds_count")
