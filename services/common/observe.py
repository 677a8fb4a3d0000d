"""The middleware every request passes: request id, metrics, access log, error tags."""

from __future__ import annotations

import logging
import os
import re
import time

import sentry_sdk
from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common.logs import request_id_var
from services.common.metrics import Metrics

access_logger = logging.getLogger("services.access")

# A client-supplied id is kept only if it is safe to echo into headers and logs.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


def new_request_id() -> str:
    # 32 random hex digits, as uuid4().hex less its version bits and the UUID object
    # (building one was ~2 % of the gateway's CPU per request, issue 12).
    return os.urandom(16).hex()


def client_scheme(headers: Headers, scheme: str) -> str:
    """The scheme the client used: the first proxy's X-Forwarded-Proto (the edge terminates
    TLS, the gateway passes it on), else this connection's. Only http/https are believed."""
    forwarded = headers.get("x-forwarded-proto", "").split(",")[0].strip().lower()
    return forwarded if forwarded in {"http", "https"} else scheme


class ObserveMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        supplied = headers.get("x-request-id", "")
        rid = supplied if _VALID_REQUEST_ID.match(supplied) else new_request_id()
        scope.setdefault("state", {})["request_id"] = rid
        token = request_id_var.set(rid)
        sentry_sdk.set_tag("request_id", rid)
        method = scope["method"]
        in_progress = self.metrics.in_progress_child(method)
        in_progress.inc()
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                MutableHeaders(scope=message)["x-request-id"] = rid
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except BaseException:
            status = 500
            raise
        finally:
            elapsed = time.perf_counter() - started
            in_progress.dec()
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            requests, duration = self.metrics.request_children(method, route, status)
            requests.inc()
            duration.observe(elapsed)
            level = logging.ERROR if status >= 500 else logging.INFO
            # Built only when it will be written (the bench runs at warning: ~10 µs a request).
            if access_logger.isEnabledFor(level):
                _access_log(level, scope, headers, route, status, elapsed)
            request_id_var.reset(token)


def _access_log(level: int, scope: Scope, headers: Headers, route: str, status: int, elapsed: float) -> None:
    method = scope["method"]
    access_logger.log(
        level,
        "%s %s %d",
        method,
        scope["path"],
        status,
        extra={
            "ecs": {
                "http.request.method": method,
                "url.path": scope["path"],
                "url.scheme": client_scheme(headers, scope.get("scheme", "http")),
                "http.route": route,
                "http.response.status_code": status,
                "event.duration": int(elapsed * 1e9),  # ECS: nanoseconds
            }
        },
    )
