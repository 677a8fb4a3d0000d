"""The backend's protocol drains on shutdown (services/common/drain.py): a client that sends
its next request on a kept-alive connection after shutdown began gets an answer, marked
``Connection: close``, where stock uvicorn had already closed the connection under it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any, Self

import pytest
import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from services.common.drain import DRAIN_IDLE_S, DrainingProtocol
from services.gateway.proxy import KEEPALIVE_EXPIRY_S

REQUEST = b"GET / HTTP/1.1\r\nHost: backend\r\n\r\n"


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
    await send({"type": "http.response.body", "body": b"ok"})


class Running:
    """uvicorn in a thread on a free loopback port, with the protocol under test."""

    def __init__(self, protocol: type[HttpToolsProtocol]) -> None:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            self.port = probe.getsockname()[1]
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, http=protocol, lifespan="off",
                                log_level="warning", timeout_keep_alive=120)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> Self:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            assert time.monotonic() < deadline, "uvicorn did not start within 10 s"
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=DRAIN_IDLE_S + 10)

    def shut_down(self) -> None:
        """Begin the shutdown a SIGTERM begins, and give it time to reach the connections."""
        self.server.should_exit = True
        time.sleep(0.5)  # uvicorn's main loop looks every 0.1 s, then tells each connection


def exchange(conn: socket.socket) -> bytes:
    """Send one request; the answer's head and body, or b"" if the connection was closed."""
    conn.sendall(REQUEST)
    answer = b""
    while not answer.endswith(b"\r\n\r\nok"):
        chunk = conn.recv(4096)
        if not chunk:
            break
        answer += chunk
    return answer


@pytest.fixture
def kept_alive() -> Iterator[socket.socket]:
    with socket.socket() as conn:
        conn.settimeout(DRAIN_IDLE_S + 5)
        yield conn


def test_a_request_on_an_idle_connection_after_shutdown_began_is_answered(kept_alive: socket.socket) -> None:
    with Running(DrainingProtocol) as running:
        kept_alive.connect(("127.0.0.1", running.port))
        assert exchange(kept_alive).startswith(b"HTTP/1.1 200"), "first request"
        running.shut_down()
        answer = exchange(kept_alive)
        assert answer.startswith(b"HTTP/1.1 200") and b"connection: close" in answer.lower(), answer
        assert kept_alive.recv(1) == b"", "the connection stays open after its closing answer"


def test_stock_uvicorn_closes_it_under_the_client(kept_alive: socket.socket) -> None:
    """What the protocol is for: the same sequence against uvicorn's own protocol."""
    with Running(HttpToolsProtocol) as running:
        kept_alive.connect(("127.0.0.1", running.port))
        assert exchange(kept_alive).startswith(b"HTTP/1.1 200"), "first request"
        running.shut_down()
        try:
            answer = exchange(kept_alive)
        except ConnectionError:
            answer = b""
        assert answer == b"", answer


def test_an_idle_connection_is_closed_after_the_drain(kept_alive: socket.socket) -> None:
    with Running(DrainingProtocol) as running:
        kept_alive.connect(("127.0.0.1", running.port))
        assert exchange(kept_alive).startswith(b"HTTP/1.1 200"), "first request"
        started = time.monotonic()
        running.server.should_exit = True
        assert kept_alive.recv(1) == b""
        took = time.monotonic() - started
        assert DRAIN_IDLE_S - 0.5 <= took <= DRAIN_IDLE_S + 2, f"closed {took:.2f} s after shutdown began"


def test_the_drain_outlasts_the_gateways_keep_alive() -> None:
    """The gateway closes an idle pooled connection itself before the drain would: no request
    of its own can meet our close."""
    assert DRAIN_IDLE_S > KEEPALIVE_EXPIRY_S
