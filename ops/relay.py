"""The suites' way into a swarm stack's overlay networks: a TCP relay.

    python3 -m ops.relay LISTEN_PORT=SERVICE:PORT [...]

Overlay addresses are not routable from the host (a compose bridge network's are), so
``ops/swarm.py`` runs this in one container attached to every network of the stack, its
listening ports published on 127.0.0.1 only, and ``SwarmStack`` reaches each service through
it. The service name is resolved on every connection, by the stack's own DNS: with
``endpoint_mode: dnsrr`` that is one of the running tasks, so a replaced task is found at
once. Standard library only; nothing is read from or written to the connections.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import signal
import sys
from dataclasses import dataclass

logger = logging.getLogger("relay")
CONNECT_TIMEOUT_S = 5.0
CHUNK = 65536


@dataclass(frozen=True)
class Route:
    listen: int
    host: str
    port: int

    @classmethod
    def parse(cls, text: str) -> Route:
        listen, sep, target = text.partition("=")
        host, colon, port = target.rpartition(":")
        if not sep or not colon or not host or not listen.isdigit() or not port.isdigit():
            raise ValueError(f"a route is LISTEN_PORT=SERVICE:PORT, got {text!r}")
        if not all(0 < int(p) < 65536 for p in (listen, port)):
            raise ValueError(f"ports are 1-65535, got {text!r}")
        return cls(int(listen), host, int(port))


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while chunk := await reader.read(CHUNK):
            writer.write(chunk)
            await writer.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        # Half-close: the other direction may still be answering.
        try:
            if writer.can_write_eof():
                writer.write_eof()
        except (ConnectionError, OSError):
            pass


async def _relay(route: Route, client_reader: asyncio.StreamReader, client_writer: asyncio.StreamWriter) -> None:
    try:
        upstream_reader, upstream_writer = await asyncio.wait_for(
            asyncio.open_connection(route.host, route.port), CONNECT_TIMEOUT_S)
    except (OSError, TimeoutError) as exc:
        # The client sees a closed connection, as it would from a dead service.
        logger.warning("%s:%d unreachable: %r", route.host, route.port, exc)
        client_writer.close()
        return
    try:
        await asyncio.gather(_pipe(client_reader, upstream_writer), _pipe(upstream_reader, client_writer))
    finally:
        for writer in (upstream_writer, client_writer):
            writer.close()


async def serve(routes: list[Route]) -> None:
    servers = [await asyncio.start_server(functools.partial(_relay, route), "0.0.0.0", route.listen) for route in routes]
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    logger.info("relaying %s", ", ".join(f"{r.listen} -> {r.host}:{r.port}" for r in routes))
    try:
        await stop.wait()
    finally:
        for server in servers:
            server.close()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        routes = [Route.parse(arg) for arg in argv]
    except ValueError as exc:
        print(f"relay: {exc}", file=sys.stderr)
        return 2
    if not routes:
        print("relay: no routes given (LISTEN_PORT=SERVICE:PORT ...)", file=sys.stderr)
        return 2
    asyncio.run(serve(routes))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
