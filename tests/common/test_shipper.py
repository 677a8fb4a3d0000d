"""The log shipper's request timeout: a search server that accepts and never answers (killed
with no FIN on the wire) must fail a bulk at LOG_SHIP_TIMEOUT_SECONDS, not hang it."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import pytest
from elastic_transport import ConnectionTimeout
from prometheus_client import CollectorRegistry

from services.common.metrics import Metrics
from services.common.shipper import LogShipper


@pytest.fixture
def silent_server() -> Iterator[str]:
    """Completes the TCP handshake (the kernel's backlog does) and never reads or answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_a_bulk_to_a_silent_server_fails_at_the_ship_timeout(silent_server: str) -> None:
    shipper = LogShipper("backend", silent_server, Metrics("backend", CollectorRegistry()), request_timeout=0.2)
    shipper.submit({"message": "m", "@timestamp": "2026-12-04T00:00:00Z"})

    async def flush() -> None:
        # The outer limit only keeps a broken shipper from hanging the suite: with the
        # default 5 s request timeout in place of the setting, it fires first.
        await asyncio.wait_for(shipper.flush(), timeout=3.0)

    with pytest.raises(ConnectionTimeout):
        asyncio.run(flush())
    assert shipper.pending == 1  # the batch stays queued for the next flush
