"""Every module of this layer starts from a Prometheus that has scraped each job at least once.

Right after Prometheus restarts (a chaos experiment, `make up` reloading it, someone else's
test) its targets read health ``unknown`` until their first scrape, and their metadata and
samples are missing: read then, a healthy stack would show as failed scrapes. Waiting costs
nothing when the first scrape happened long ago.
"""

from __future__ import annotations

import pytest

from fixtures.clients.prometheus import Prometheus, wait_for_first_scrape
from fixtures.stack import Stack
from suites.metrics.expected import JOBS


@pytest.fixture(scope="module", autouse=True)
def first_scrape(stack: Stack) -> None:
    prom = Prometheus(stack)
    for job in JOBS:
        wait_for_first_scrape(prom, job)
