"""N requests raise http_requests_total by exactly N, as Prometheus records it.

The counter is labelled by method, route template and status, so a request's own id
cannot single it out; the label pair has to. Healthchecks (GET /health, GET /api/health)
and the suites send GET/POST/PUT/PATCH/DELETE; nothing but this test sends HEAD, and a
HEAD for a product id nobody created is a 404 at the backend, relayed by the gateway. So
HEAD → 404 counts our requests only, on both services, from one burst.

Because the pair is ours alone, Prometheus' latest healthy scrape already holds every
earlier HEAD → 404 (each run ends by waiting for the scrape after its burst), and the
count before needs no wait for a new scrape. The one exception, a run cut short before
that scrape, shows as the gateway's own /metrics being ahead of Prometheus: then we wait.
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from fixtures.clients.http import service_client
from fixtures.clients.prometheus import Prometheus, scrapes, total, wait_for_scrape
from fixtures.stack import Stack

REQUESTS = 7
LABELS = {"method": "HEAD", "status": "404"}
ROUTES = {"gateway": "/api/{path:path}", "backend": "/api/products/{id}"}
# The services count a request in their middleware once the response is sent, so a
# scrape that starts the instant the client has the answer could still miss it.
COUNTED_WITHIN_S = 0.1


def selector(job: str) -> str:
    return f'http_requests_total{{job="{job}",method="HEAD",route="{ROUTES[job]}",status="404"}}'


def gateway_count(http: httpx.Client) -> float:
    """The gateway's own count of our label pair, from its /metrics, at this instant."""
    response = http.get("/metrics")
    assert response.status_code == 200, f"{response.request.url}: {response.status_code}"
    wanted = {**LABELS, "route": ROUTES["gateway"]}
    return sum(sample.value for family in text_string_to_metric_families(response.text)
               for sample in family.samples
               if sample.name == "http_requests_total" and wanted.items() <= sample.labels.items())


@dataclass(frozen=True)
class Burst:
    before: dict[str, float]
    after: dict[str, float]


@pytest.fixture(scope="module")
def burst(stack: Stack) -> Burst:
    prom = Prometheus(stack)
    with service_client(stack, "gateway", timeout=5) as http:
        if gateway_count(http) != total(prom, selector("gateway"), "gateway"):
            for job in ROUTES:
                wait_for_scrape(prom, job, after=time.time())
        for job in ROUTES:
            # After a failed scrape the series are stale and read as absent, not as before.
            failed = [s for s in scrapes(prom, job) if s.health != "up"]
            assert not failed, f"Prometheus job {job!r}: last scrape failed: {failed}"
        before = {job: total(prom, selector(job), job) for job in ROUTES}
        for _ in range(REQUESTS):
            response = http.head(f"/api/products/{secrets.token_hex(12)}")  # a well-formed id nobody created
            assert response.status_code == 404, f"HEAD {response.request.url}: {response.status_code}, expected 404"
    answered = time.time()
    for job in ROUTES:
        wait_for_scrape(prom, job, after=answered + COUNTED_WITHIN_S)
    return Burst(before, {job: total(prom, selector(job), job) for job in ROUTES})


@pytest.mark.parametrize("job", ROUTES)
def test_each_request_is_counted_once(burst: Burst, job: str) -> None:
    delta = burst.after[job] - burst.before[job]
    assert delta == REQUESTS, (f"{selector(job)}: {burst.before[job]:g} before and {burst.after[job]:g} after "
                               f"{REQUESTS} requests, a delta of {delta:g}")
