"""Log retention on the live stack: an index dated before the retention window is deleted by
the log-retention service within a few of its intervals, while one dated today stays. The
window and interval are read from the running service (the verify profile: 1 day, 5 s), so
the test holds for any retention the stack was started with."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from collections.abc import Callable, Iterator

import pytest
from elasticsearch import Elasticsearch

from fixtures.clients.search import connect
from fixtures.stack import ComposeStack
from fixtures.waits import wait_for
from ops.retention import DEFAULT_DAYS, DEFAULT_INTERVAL_S

SERVICE = "log-retention"
# Longer than this and waiting is pointless (production's hourly job): say so instead.
MAX_INTERVAL_S = 60


@pytest.fixture
def es(compose_stack: ComposeStack) -> Iterator[Elasticsearch]:
    with connect(compose_stack) as client:
        yield client


def test_an_index_older_than_the_retention_goes(compose_stack: ComposeStack, es: Elasticsearch,
                                                record_property: Callable[[str, object], None]) -> None:
    env = compose_stack.state(SERVICE).env
    days = int(env.get("LOG_RETENTION_DAYS") or DEFAULT_DAYS)
    interval = int(env.get("LOG_RETENTION_INTERVAL") or DEFAULT_INTERVAL_S)
    if interval > MAX_INTERVAL_S:
        pytest.skip(f"{SERVICE} runs every {interval} s: too slow to watch (the verify profile runs it every 5 s)")
    today = dt.datetime.now(dt.UTC).date()
    probe = f"retention-probe-{uuid.uuid4().hex[:8]}"
    old = f"{probe}-logs-{today - dt.timedelta(days=days + 1):%Y.%m.%d}"
    current = f"{probe}-logs-{today:%Y.%m.%d}"
    try:
        for name in (old, current):
            es.index(index=name, document={"@timestamp": f"{today}T00:00:00Z", "message": "retention probe"},
                     refresh=True)
        created = time.monotonic()
        wait_for(lambda: sorted(es.indices.get(index=f"{probe}-*", allow_no_indices=True)),
                 target=f"{compose_stack.target} elasticsearch ({SERVICE}: {days} days, every {interval} s)",
                 expectation=f"{old} deleted, {current} kept", until=lambda names: old not in names,
                 timeout=3 * interval + 10, interval=0.5, max_interval=1.0)
        record_property("log_retention_delete_s", round(time.monotonic() - created, 2))
        assert es.indices.exists(index=current), f"{current} (today's) was deleted with {old}"
    finally:
        es.indices.delete(index=f"{probe}-*", allow_no_indices=True)
