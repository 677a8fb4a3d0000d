"""Prometheus scrapes every job of the stack, successfully and on schedule."""

from __future__ import annotations

import time

import pytest

from fixtures.clients.prometheus import Prometheus, active_targets, epoch, scrape_bound
from fixtures.stack import Stack
from suites.metrics.expected import JOBS


@pytest.mark.parametrize("job", JOBS)
def test_scrape_target_is_up(stack: Stack, job: str) -> None:
    prom = Prometheus(stack)
    targets = active_targets(prom, job)
    assert targets, f"Prometheus has no active target for job {job!r}"
    bound = scrape_bound(prom, job)
    now = time.time()
    for target in targets:
        where = f"job {job!r} target {target['scrapeUrl']}"
        assert target["health"] == "up", f"{where}: health {target['health']}, lastError {target['lastError']!r}"
        age = now - epoch(target["lastScrape"])
        # A target whose last scrape is old is no longer being scraped, whatever it last said.
        assert age < bound, f"{where}: last scraped {age:.1f} s ago, expected within {bound:.0f} s"
    up = {r["metric"]["instance"]: r["value"][1] for r in prom.query(f'up{{job="{job}"}}')}
    assert up and set(up.values()) == {"1"}, f'up{{job="{job}"}} is {up or "absent"}'
