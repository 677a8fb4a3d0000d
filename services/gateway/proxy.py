"""Reverse proxy for /api/*: one pooled aiohttp client, a plain ASGI relay, bounded waits.

Every upstream fault becomes a JSON answer the client can act on: 502 when the backend
cannot be reached or breaks the connection, 504 when it does not answer within the
timeout, 413 when the request body is over the limit. Never a hang, never a 500. Answers up
to BUFFERED_BODY_BYTES are read whole first, so that holds for a break mid-body too; only a
larger answer, whose head has gone, can end in a cut connection.

Why this shape (measured, issue 12): per request, httpx's pool bookkeeping and anyio's
stream layers cost ~2.8 ms of CPU and Starlette's StreamingResponse another ~0.3 ms (a task
group and a disconnect listener per response). aiohttp's connector and an ASGI callable
that relays the upstream's chunks as ``send`` messages, spawning nothing, do the same work.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import AsyncIterator
from urllib.parse import unquote_to_bytes

import aiohttp
import sentry_sdk
from multidict import CIMultiDict
from starlette.requests import Request
from starlette.types import Receive, Scope, Send
from yarl import URL

from services.common.errors import error_response
from services.common.metrics import Metrics

logger = logging.getLogger("services.gateway.proxy")

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "proxy-connection"}
)
_HOP_BY_HOP_BYTES = frozenset(name.encode() for name in HOP_BY_HOP)
# Set by the gateway's own server: relaying the backend's too would send them twice.
_SERVER_SET_BYTES = frozenset({b"date", b"server"})
# Replaced by the gateway's own values.
_REPLACED = frozenset({b"host", b"x-request-id", b"x-forwarded-for", b"x-forwarded-proto", b"x-forwarded-host"})
# Shorter than any backend keep-alive we may meet (uvicorn's default is 5 s; the stack's
# is 120 s), so the pool never reuses a connection the backend is closing at that moment.
KEEPALIVE_EXPIRY_S = 2.0
BODYLESS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
# Answers up to this size (every JSON answer of the API) are read whole before the client
# sees their head, so an upstream that stalls or breaks mid-body is still answered 504/502
# (a partition once landed between a create's head and its body: the client saw a cut).
# Larger ones (images) stream through as they come.
BUFFERED_BODY_BYTES = 256 * 1024
# Paths like /api/products/64f0c1: the common case, checked without decoding.
_PLAIN_PATH = re.compile(rb"[A-Za-z0-9/_~-]*")


class BodyTooLarge(Exception):
    pass


class ClientGone(Exception):
    """The client disconnected while its request body was being relayed."""


def path_fault(raw_path: bytes) -> str | None:
    """Why ``raw_path`` must not be relayed, or None.

    The proxy relays the path as received, and a client library may resolve dot-segments when
    it builds the upstream URL: ``/api/../metrics`` reached the backend as ``/metrics``. Checked
    after one percent-decoding, as the backend will see it, so ``%2e%2e`` and ``%2F..`` count
    too; a backslash is a separator to some servers, and a path that is not UTF-8 names no
    resource.
    """
    if _PLAIN_PATH.fullmatch(raw_path):
        return None  # nothing to decode, no dot, no backslash: every check below would pass
    decoded = unquote_to_bytes(raw_path)
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        return "path is not UTF-8 once percent-decoded"
    if "\\" in text:
        return "path contains a backslash"
    if any(ord(char) < 0x20 or char == "\x7f" for char in text):
        return "path contains a control character"
    if any(segment in {".", ".."} for segment in text.split("/")):
        return "path contains a dot-segment"
    return None


class _Body:
    """The client's request body from ASGI ``receive``, bounded; why it stopped, if it did
    (aiohttp wraps whatever a body iterator raises, so the cause is kept here)."""

    def __init__(self, receive: Receive, limit: int) -> None:
        self.receive = receive
        self.limit = limit
        self.failure: Exception | None = None

    async def chunks(self) -> AsyncIterator[bytes]:
        seen = 0
        while True:
            message = await self.receive()
            if message["type"] == "http.disconnect":
                self.failure = ClientGone()
                raise self.failure
            chunk = message.get("body", b"")
            seen += len(chunk)
            if seen > self.limit:
                self.failure = BodyTooLarge()
                raise self.failure
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return


class UpstreamProxy:
    """An ASGI app relaying every request to ``backend_url`` (mounted at /api/*)."""

    def __init__(self, backend_url: str, timeout: float, max_body_bytes: int, metrics: Metrics) -> None:
        self.backend_url = backend_url.rstrip("/")
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.session: aiohttp.ClientSession | None = None

    async def open(self) -> None:
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(
                limit=200, keepalive_timeout=KEEPALIVE_EXPIRY_S,
                # A restarted backend container comes back on a new address: resolve every
                # new connection rather than trust a cached one.
                use_dns_cache=False,
            ),
            # No sock_read: aiohttp would re-arm that timer on every packet (~2 % of the
            # gateway's CPU, issue 12). Reads are bounded by _exchange's deadline and, for a
            # streamed answer, by one per chunk (_chunks).
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=None),
            # A proxy relays what it gets: no decompression, no cookies kept, no headers of its own.
            auto_decompress=False,
            cookie_jar=aiohttp.DummyCookieJar(),
            skip_auto_headers=("User-Agent", "Accept", "Accept-Encoding", "Content-Type"),
            trust_env=False,
        )

    async def close(self) -> None:
        if self.session is not None:
            await self.session.close()
            self.session = None

    def _upstream_headers(self, scope: Scope, request_id: str) -> tuple[CIMultiDict[str], str | None]:
        """The headers to send upstream, and the client's Content-Length if it declared one."""
        headers: CIMultiDict[str] = CIMultiDict()
        prior: list[str] = []
        host = forwarded_host = proto = ""
        declared: str | None = None
        for raw_name, raw_value in scope["headers"]:
            name, value = raw_name.decode("latin-1"), raw_value.decode("latin-1")
            if raw_name == b"content-length":
                declared = value  # llhttp has refused a second one
            elif raw_name == b"x-forwarded-for":
                prior.append(value)
            elif raw_name == b"x-forwarded-proto":
                proto = proto or value
            elif raw_name == b"x-forwarded-host":
                forwarded_host = forwarded_host or value
            elif raw_name == b"host":
                host = host or value
            if raw_name not in _HOP_BY_HOP_BYTES and raw_name not in _REPLACED and not raw_name.startswith(b"x-forwarded-"):
                headers.add(name, value)
        client = scope.get("client")
        client_ip = client[0] if client else ""
        headers["x-forwarded-for"] = ", ".join([*prior, client_ip]) if prior else client_ip
        headers["x-forwarded-proto"] = proto or scope.get("scheme", "http")
        headers["x-forwarded-host"] = forwarded_host or host
        headers["x-request-id"] = request_id
        return headers, declared

    def _fail(self, scope: Scope, kind: str, exc: BaseException) -> object:
        self.metrics.upstream_errors.labels(kind).inc()
        logger.warning("upstream %s for %s %s: %r", kind, scope["method"], scope["path"], exc)
        request = Request(scope)
        with sentry_sdk.new_scope() as sentry_scope:
            sentry_scope.set_tag("upstream_error", kind)
            sentry_scope.set_tag("backend_url", self.backend_url)
            sentry_sdk.capture_exception(exc)
        if kind == "timeout":
            return error_response(request, 504, "upstream_timeout", timeout_s=self.timeout)
        return error_response(request, 502, "upstream_unavailable", kind=kind)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        assert self.session is not None, "proxy used outside the app's lifespan"
        # A Request only for an error answer: building one per request is a cost (issue 12).
        raw_path = scope.get("raw_path") or scope["path"].encode()
        if (fault := path_fault(raw_path)) is not None:
            await error_response(Request(scope), 400, "invalid_path", detail=fault)(scope, receive, send)
            return
        method = scope["method"]
        headers, declared = self._upstream_headers(scope, scope["state"]["request_id"])
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await error_response(Request(scope), 413, limit_bytes=self.max_body_bytes)(scope, receive, send)
            return
        query = scope.get("query_string", b"")
        # encoded=True: the path and query go as received (yarl would re-quote them: %2F → /).
        url = URL(self.backend_url + raw_path.decode("latin-1") + ("?" + query.decode("latin-1") if query else ""),
                  encoded=True)
        has_body = method not in BODYLESS or declared not in {None, "0"}
        body = _Body(receive, self.max_body_bytes) if has_body else None
        try:
            upstream, whole = await self._exchange(method, url, headers, body)
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            response = self._fail(scope, "timeout", exc)
        except aiohttp.ClientConnectorError as exc:
            response = self._fail(scope, "connect", exc)
        except (aiohttp.ClientError, OSError) as exc:
            if body is not None and isinstance(body.failure, BodyTooLarge):
                response = error_response(Request(scope), 413, limit_bytes=self.max_body_bytes)
            elif body is not None and isinstance(body.failure, ClientGone):
                return  # nobody to answer; the backend saw a cut body, not a fault of ours
            else:
                response = self._fail(scope, "protocol", exc)
        else:
            await self._relay(scope, upstream, whole, send)
            return
        await response(scope, receive, send)  # type: ignore[operator]

    async def _exchange(self, method: str, url: URL, headers: CIMultiDict[str],
                        body: _Body | None) -> tuple[aiohttp.ClientResponse, bytes | None]:
        """The answer's head and, when it is small, its whole body, within one deadline: the
        socket timeouts bound each wait, this bounds them together (a head that came just in
        time followed by a stalled body was answered 504 only after twice the timeout)."""
        async with asyncio.timeout(self.timeout):
            upstream = await self._send(method, url, headers, body)
            return upstream, await _read_small(upstream)

    async def _send(self, method: str, url: URL, headers: CIMultiDict[str], body: _Body | None) -> aiohttp.ClientResponse:
        try:
            return await self._request(method, url, headers, body)
        except aiohttp.ServerDisconnectedError:
            if body is not None:
                raise  # a streamed body cannot be sent twice
            # A pooled connection closed under us before any answer: the request never
            # ran, and without a body it is safe to send again, once.
            return await self._request(method, url, headers, None)

    async def _request(self, method: str, url: URL, headers: CIMultiDict[str], body: _Body | None) -> aiohttp.ClientResponse:
        assert self.session is not None
        return await self.session.request(
            method, url, headers=headers, data=body.chunks() if body is not None else None,
            allow_redirects=False, compress=None, auto_decompress=False,
        )

    async def _relay(self, scope: Scope, upstream: aiohttp.ClientResponse, whole: bytes | None, send: Send) -> None:
        try:
            headers = [(name, value) for name, value in ((name.lower(), value) for name, value in upstream.raw_headers)
                       if name not in _HOP_BY_HOP_BYTES and name not in _SERVER_SET_BYTES]
            await send({"type": "http.response.start", "status": upstream.status, "headers": headers})
            if whole is not None:
                await send({"type": "http.response.body", "body": whole, "more_body": False})
                return
            try:
                async for chunk in _chunks(upstream, self.timeout):
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            except (TimeoutError, aiohttp.ClientError) as exc:
                # Headers are gone already: all we can do is count it and cut the connection.
                self.metrics.upstream_errors.labels("stream").inc()
                logger.warning("upstream broke mid-response for %s %s: %r", scope["method"], scope["path"], exc)
                raise
            await send({"type": "http.response.body", "body": b"", "more_body": False})
        finally:
            upstream.release()


async def _chunks(upstream: aiohttp.ClientResponse, timeout: float) -> AsyncIterator[bytes]:
    """A streamed answer's chunks as they come, each within ``timeout`` of the last."""
    while True:
        async with asyncio.timeout(timeout):
            chunk = await upstream.content.readany()
        if not chunk:
            return
        yield chunk


async def _read_small(upstream: aiohttp.ClientResponse) -> bytes | None:
    """The whole body of an answer of at most BUFFERED_BODY_BYTES (within _exchange's
    deadline), or None for one to stream. A failure here is still the proxy's to answer."""
    length = upstream.content_length
    if length is None or length > BUFFERED_BODY_BYTES:
        return None
    try:
        return await upstream.read()
    except BaseException:
        upstream.close()
        raise
