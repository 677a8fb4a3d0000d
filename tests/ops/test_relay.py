"""The relay into a swarm stack's overlay networks (ops/relay.py), on 127.0.0.1 only.

``serve`` listens on 0.0.0.0 and waits for SIGTERM: the connections are driven through
``_relay``, which ``serve`` hands every accepted connection, on a loopback listener."""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager

import pytest

from ops.relay import Route, _relay

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]
DEADLINE_S = 5.0


def test_route_parses_listen_port_service_and_port() -> None:
    assert Route.parse("20000=backend:3847") == Route(20000, "backend", 3847)
    assert Route.parse("20001=sentry-init.internal:9000") == Route(20001, "sentry-init.internal", 9000)


@pytest.mark.parametrize("text", ["", "20000", "20000=", "20000=backend", "20000=backend:", "20000=:3847",
                                  "=backend:3847", "x=backend:3847", "20000=backend:http", "20000:backend:3847",
                                  "-1=backend:3847", "20000=backend:-1"])
def test_route_refuses_malformed_text(text: str) -> None:
    with pytest.raises(ValueError, match="LISTEN_PORT=SERVICE:PORT") as refused:
        Route.parse(text)
    assert repr(text) in str(refused.value), f"the error does not quote the route: {refused.value}"


@asynccontextmanager
async def listening(handler: Handler) -> AsyncIterator[int]:
    """``handler`` serving on an ephemeral port of 127.0.0.1; yields the port."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        yield int(server.sockets[0].getsockname()[1])
    finally:
        server.close()
        await server.wait_closed()


async def echo(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Sends back what it reads, as it reads it."""
    try:
        while chunk := await reader.read(65536):
            writer.write(chunk)
            await writer.drain()
    finally:
        writer.close()


async def answer_at_eof(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Reads until the client's EOF, then answers: the request's length, and closes."""
    request = await reader.read()
    writer.write(f"read {len(request)} bytes".encode())
    await writer.drain()
    writer.close()


@asynccontextmanager
async def relayed(upstream_port: int) -> AsyncIterator[int]:
    """The relay's handler for a route to 127.0.0.1:``upstream_port``; yields its listening port."""
    route = Route(0, "127.0.0.1", upstream_port)
    async with listening(functools.partial(_relay, route)) as port:
        yield port


async def connect(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    return await asyncio.wait_for(asyncio.open_connection("127.0.0.1", port), DEADLINE_S)


async def closed(writer: asyncio.StreamWriter) -> None:
    writer.close()
    try:
        await writer.wait_closed()
    except (ConnectionError, OSError):
        pass


@pytest.mark.asyncio
async def test_bytes_come_back_through_the_relay() -> None:
    async with listening(echo) as echo_port, relayed(echo_port) as relay_port:
        reader, writer = await connect(relay_port)
        try:
            writer.write(b"ping through the relay")
            await writer.drain()
            answer = await asyncio.wait_for(reader.readexactly(22), DEADLINE_S)
            assert answer == b"ping through the relay", f"relay 127.0.0.1:{relay_port} -> echo {echo_port}: {answer!r}"
            # More than one read's worth, both ways at once.
            payload = bytes(range(256)) * 4096  # 1 MiB
            writer.write(payload)
            back = await asyncio.wait_for(reader.readexactly(len(payload)), DEADLINE_S)
            assert back == payload, f"relay 127.0.0.1:{relay_port}: {len(back)} bytes back differ from the 1 MiB sent"
        finally:
            await closed(writer)


@pytest.mark.asyncio
async def test_a_half_closed_client_still_gets_its_answer() -> None:
    async with listening(answer_at_eof) as upstream_port, relayed(upstream_port) as relay_port:
        reader, writer = await connect(relay_port)
        try:
            writer.write(b"x" * 1000)
            writer.write_eof()  # the upstream answers only once it sees the end of the request
            answer = await asyncio.wait_for(reader.read(), DEADLINE_S)
            assert answer == b"read 1000 bytes", f"relay 127.0.0.1:{relay_port}: {answer!r} after a half-close"
        finally:
            await closed(writer)


def free_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.asyncio
async def test_an_unreachable_service_closes_the_client(caplog: pytest.LogCaptureFixture) -> None:
    dead = free_port()
    async with relayed(dead) as relay_port:
        reader, writer = await connect(relay_port)
        try:
            with caplog.at_level(logging.WARNING, logger="relay"):
                # EOF (or a reset), well within the deadline: a hang fails with TimeoutError.
                try:
                    data = await asyncio.wait_for(reader.read(), DEADLINE_S)
                except ConnectionResetError:
                    data = b""
            assert data == b"", f"relay 127.0.0.1:{relay_port} -> closed port {dead}: got {data!r}, expected EOF"
        finally:
            await closed(writer)
    assert any(f"127.0.0.1:{dead} unreachable" in r.getMessage() for r in caplog.records), caplog.text
