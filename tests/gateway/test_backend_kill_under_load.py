"""The gateway under the bench's load while its backend is killed and started again: every
answer is a 200 or the documented 502, none is a 500, none hangs, and once the backend is back
every request is served again.

Both services run as real uvicorn processes (as `make bench` runs them); the load is the
bench's request, ``GET /api/products``, from a fixed number of connections, each sending its
next request as soon as the last is answered, for a bounded time.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import httpx
import pytest

from harness.apps import ComposeGateway, ServiceProcess, backend_env
from harness.servers import MongoServer, ObjectStore

pytestmark = pytest.mark.servers

CONNECTIONS = 16  # the bench's default
WARM_S = 1.5  # load before the kill
OUTAGE_S = 2.0  # the backend stays dead this long
RECOVERED_S = 1.5  # load after the backend answers its health check again
# A client that waits longer than the gateway's upstream timeout (5 s) plus a margin has met a
# hang, not an answer: the gateway must answer every request well before this.
CLIENT_TIMEOUT_S = 8.0


@dataclass(frozen=True)
class Answer:
    sent: float
    took: float
    status: int | None  # None: no answer (the client's own error)
    error: str | None = None  # the JSON body's "error", or the client's exception


@pytest.fixture
def backend(mongo_server: MongoServer, object_store: ObjectStore, bucket: str) -> Iterator[ServiceProcess]:
    """A backend of this test's own: killing the session's would break the tests after it."""
    with ServiceProcess("backend", backend_env(mongo_server, object_store, LOG_LEVEL="warning"), "/api/health") as process:
        yield process


@pytest.fixture
def gateway(backend: ServiceProcess) -> Iterator[ServiceProcess]:
    with ComposeGateway({"BACKEND_URL": backend.url, "LOG_LEVEL": "warning"}) as process:
        yield process


async def _connection(http: httpx.AsyncClient, url: str, until: asyncio.Event, answers: list[Answer]) -> None:
    while not until.is_set():
        sent = time.monotonic()
        try:
            response = await http.get(url)
        except httpx.HTTPError as exc:
            answers.append(Answer(sent, time.monotonic() - sent, None, repr(exc)))
            continue
        error = None
        if response.status_code != 200:
            body = response.json() if response.headers.get("content-type", "").startswith("application/json") else {}
            error = str(body.get("error"))
        answers.append(Answer(sent, time.monotonic() - sent, response.status_code, error))


@dataclass(frozen=True)
class Outage:
    killed: float
    restarting: float  # the new process is spawned: it may answer from here on
    back: float  # its health check answers


async def _load_through_outage(gateway: ServiceProcess, backend: ServiceProcess) -> tuple[list[Answer], Outage]:
    """Load, kill, wait, restart, load on: the answers, and when the backend died and was back."""
    answers: list[Answer] = []
    until = asyncio.Event()
    limits = httpx.Limits(max_connections=CONNECTIONS, max_keepalive_connections=CONNECTIONS)
    async with httpx.AsyncClient(base_url=gateway.url, timeout=CLIENT_TIMEOUT_S, limits=limits) as http:
        workers = [asyncio.create_task(_connection(http, "/api/products", until, answers)) for _ in range(CONNECTIONS)]
        await asyncio.sleep(WARM_S)
        killed = time.monotonic()
        await asyncio.to_thread(backend.kill)
        await asyncio.sleep(OUTAGE_S)
        restarting = time.monotonic()
        await asyncio.to_thread(backend.start)  # same port; returns once its health check answers
        back = time.monotonic()
        await asyncio.sleep(RECOVERED_S)
        until.set()
        await asyncio.gather(*workers)
    return answers, Outage(killed, restarting, back)


def test_a_backend_killed_under_load_gives_502s_then_full_recovery(
        gateway: ServiceProcess, backend: ServiceProcess, record_property: Callable[[str, object], None]) -> None:
    answers, outage = asyncio.run(_load_through_outage(gateway, backend))
    by_status: dict[int | None, int] = {}
    for answer in answers:
        by_status[answer.status] = by_status.get(answer.status, 0) + 1
    seen = f"answers by status: {by_status}"
    record_property("answers_by_status", by_status)
    record_property("outage_s", round(outage.back - outage.killed, 2))
    assert not [a for a in answers if a.status is None], \
        f"requests the gateway never answered (timeout {CLIENT_TIMEOUT_S} s or a cut connection): " \
        f"{[a.error for a in answers if a.status is None][:5]}; {seen}"
    assert set(by_status) <= {200, 502}, f"only 200 and the documented 502 may answer; {seen}"
    assert all(a.error == "upstream_unavailable" for a in answers if a.status == 502), \
        f"a 502 must say upstream_unavailable: {sorted({str(a.error) for a in answers if a.status == 502})}"
    before = [a for a in answers if a.sent + a.took < outage.killed]
    # Clear of the kill by 0.2 s (requests in flight then) and answered before the new process exists.
    during = [a for a in answers if a.sent > outage.killed + 0.2 and a.sent + a.took < outage.restarting]
    after = [a for a in answers if a.sent > outage.back]
    assert before and all(a.status == 200 for a in before), f"not served before the kill; {seen}"
    assert during and all(a.status == 502 for a in during), \
        f"while the backend was dead, every answer must be a 502: {sorted({a.status for a in during}, key=str)}; {seen}"
    assert after and all(a.status == 200 for a in after), \
        f"once the backend was back, every request must be served: " \
        f"{sorted({a.status for a in after}, key=str)} in {len(after)}; {seen}"
