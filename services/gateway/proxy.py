"""Reverse proxy for /api/*: one pooled client, streamed bodies, bounded waits.

Every upstream fault becomes a JSON answer the client can act on: 502 when the backend
cannot be reached or breaks the connection, 504 when it does not answer within the
timeout, 413 when the request body is over the limit. Never a hang, never a 500.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from urllib.parse import unquote_to_bytes

import httpx
import sentry_sdk
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from services.common.errors import error_response
from services.common.metrics import Metrics

logger = logging.getLogger("services.gateway.proxy")

# RFC 9110 §7.6.1: meaningful for one connection only, never forwarded.
HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization", "te", "trailer",
     "transfer-encoding", "upgrade", "proxy-connection"}
)
# Set by the gateway's own server: relaying the backend's too would send them twice.
SERVER_SET = frozenset({"date", "server"})
# Shorter than any backend keep-alive we may meet (uvicorn's default is 5 s; the stack's
# is 120 s), so the pool never reuses a connection the backend is closing at that moment.
KEEPALIVE_EXPIRY_S = 2.0


class BodyTooLarge(Exception):
    pass


def path_fault(raw_path: bytes) -> str | None:
    """Why ``raw_path`` must not be relayed, or None.

    The proxy relays the path as received, and httpx resolves dot-segments when it builds
    the upstream URL: ``/api/../metrics`` reached the backend as ``/metrics``. Checked after
    one percent-decoding, as the backend will see it, so ``%2e%2e`` and ``%2F..`` count too;
    a backslash is a separator to some servers, and a path that is not UTF-8 names no resource.
    """
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


class UpstreamProxy:
    def __init__(self, backend_url: str, timeout: float, max_body_bytes: int, metrics: Metrics) -> None:
        self.backend_url = backend_url
        self.timeout = timeout
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics
        self.client: httpx.AsyncClient | None = None

    async def open(self) -> None:
        self.client = httpx.AsyncClient(
            timeout=httpx.Timeout(self.timeout),
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100,
                                keepalive_expiry=KEEPALIVE_EXPIRY_S),
            follow_redirects=False,
        )

    async def close(self) -> None:
        if self.client is not None:
            await self.client.aclose()
            self.client = None

    def _upstream_headers(self, request: Request) -> list[tuple[str, str]]:
        headers = [(k, v) for k, v in request.headers.items() if k not in HOP_BY_HOP and k not in {"host", "x-request-id"}]
        client_ip = request.client.host if request.client else ""
        prior = request.headers.get("x-forwarded-for")
        headers = [(k, v) for k, v in headers if not k.startswith("x-forwarded-")]
        headers += [
            ("x-forwarded-for", f"{prior}, {client_ip}" if prior else client_ip),
            ("x-forwarded-proto", request.headers.get("x-forwarded-proto", request.url.scheme)),
            ("x-forwarded-host", request.headers.get("x-forwarded-host", request.headers.get("host", ""))),
            ("x-request-id", request.state.request_id),
        ]
        return headers

    async def _body(self, request: Request) -> AsyncIterator[bytes]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > self.max_body_bytes:
                raise BodyTooLarge
            if chunk:
                yield chunk

    def _fail(self, request: Request, kind: str, exc: BaseException) -> Response:
        self.metrics.upstream_errors.labels(kind).inc()
        logger.warning("upstream %s for %s %s: %r", kind, request.method, request.url.path, exc)
        with sentry_sdk.new_scope() as scope:
            scope.set_tag("upstream_error", kind)
            scope.set_tag("backend_url", self.backend_url)
            sentry_sdk.capture_exception(exc)
        if kind == "timeout":
            return error_response(request, 504, "upstream_timeout", timeout_s=self.timeout)
        return error_response(request, 502, "upstream_unavailable", kind=kind)

    async def handle(self, request: Request) -> Response:
        assert self.client is not None, "proxy used outside the app's lifespan"
        raw_path = request.scope.get("raw_path") or request.url.path.encode()
        fault = path_fault(raw_path)
        if fault is not None:
            return error_response(request, 400, "invalid_path", detail=fault)
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            return error_response(request, 413, limit_bytes=self.max_body_bytes)
        query = request.scope.get("query_string", b"")
        url = httpx.URL(self.backend_url).copy_with(raw_path=raw_path + (b"?" + query if query else b""))
        has_body = request.method not in {"GET", "HEAD", "OPTIONS", "DELETE"} or declared not in {None, "0"}
        upstream_request = self.client.build_request(
            request.method, url, headers=self._upstream_headers(request),
            content=self._body(request) if has_body else None,
        )
        try:
            # The httpx timeout bounds each wait; this bounds the whole wait for headers.
            async with asyncio.timeout(self.timeout):
                try:
                    upstream = await self.client.send(upstream_request, stream=True)
                except httpx.RemoteProtocolError:
                    if has_body:
                        raise  # a streamed body cannot be sent twice
                    # A pooled connection closed under us before any answer: the request
                    # never ran, and without a body it is safe to send again, once.
                    upstream = await self.client.send(upstream_request, stream=True)
        except BodyTooLarge:
            return error_response(request, 413, limit_bytes=self.max_body_bytes)
        except (httpx.TimeoutException, TimeoutError) as exc:
            return self._fail(request, "timeout", exc)
        except httpx.ConnectError as exc:
            return self._fail(request, "connect", exc)
        except httpx.TransportError as exc:
            return self._fail(request, "protocol", exc)
        headers = {k: v for k, v in upstream.headers.items() if k not in HOP_BY_HOP and k not in SERVER_SET}
        return StreamingResponse(
            self._relay(request, upstream), status_code=upstream.status_code, headers=headers,
            background=BackgroundTask(upstream.aclose),
        )

    async def _relay(self, request: Request, upstream: httpx.Response) -> AsyncIterator[bytes]:
        try:
            async for chunk in upstream.aiter_raw():
                yield chunk
        except httpx.TransportError as exc:
            # Headers are gone already: all we can do is count it and cut the connection.
            self.metrics.upstream_errors.labels("stream").inc()
            logger.warning("upstream broke mid-response for %s %s: %r", request.method, request.url.path, exc)
            raise
