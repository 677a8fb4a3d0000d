"""What both services are built from: logs, metrics, error tracking, one app factory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import logs, tracking
from services.common.errors import EXCEPTION_HANDLERS, unhandled_exception
from services.common.metrics import Metrics
from services.common.observe import ObserveMiddleware
from services.common.settings import CommonSettings
from services.common.shipper import LogShipper


@dataclass
class Observability:
    settings: CommonSettings
    metrics: Metrics
    shipper: LogShipper | None
    sentry_enabled: bool
    started: float = field(default_factory=time.monotonic)

    def uptime(self) -> float:
        return round(time.monotonic() - self.started, 3)


def observability(settings: CommonSettings, registry: CollectorRegistry | None = None) -> Observability:
    metrics = Metrics(settings.service, registry)
    shipper = None
    if settings.elasticsearch_url:
        shipper = LogShipper(
            settings.service,
            settings.elasticsearch_url,
            metrics,
            queue_size=settings.log_queue_size,
            batch_size=settings.log_batch_size,
            flush_seconds=settings.log_ship.flush_seconds,
            request_timeout=settings.log_ship.request_timeout_seconds,
        )
    logs.configure(settings, shipper.submit if shipper else None)
    return Observability(settings, metrics, shipper, tracking.init(settings))


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]
Handler = Callable[[Request], Awaitable[Response]]
# The order every Allow header lists methods in (RFC 9110 §10.2.1 leaves it free; one order reads better).
METHOD_ORDER = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")


class _EveryMethod:
    """An endpoint Starlette hands every method to: for a plain function it assumes GET only."""

    def __init__(self, handler: Handler, methods: frozenset[str] | None = None) -> None:
        self.handler = handler
        self.methods = methods  # what the handler serves, when it says (None: anything)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await self.handler(Request(scope, receive, send))
        await response(scope, receive, send)


def every_method(path: str, handler: Handler, methods: frozenset[str] | None = None) -> Route:
    """A route whose handler sees every method (the gateway's proxy: the backend knows each path's)."""
    return Route(path, _EveryMethod(handler, methods), methods=None)


def resource(path: str, handlers: Mapping[str, Handler]) -> Route:
    """One route per path, whatever its methods.

    A Starlette ``Route`` per method makes the router answer 405 from the first route that
    matched the path, whose ``Allow`` names only that route's methods (``OPTIONS
    /api/products`` said ``GET, HEAD``). Here the path owns every method: ``Allow`` on a
    405 lists all of them, HEAD is GET without a body, and OPTIONS answers 204 with the
    same ``Allow``.
    """
    methods = {method.upper(): handler for method, handler in handlers.items()}
    if "GET" in methods:
        methods.setdefault("HEAD", methods["GET"])
    allow = ", ".join(m for m in METHOD_ORDER if m in methods or m == "OPTIONS")

    async def dispatch(request: Request) -> Response:
        handler = methods.get(request.method)
        if handler is not None:
            return await handler(request)
        if request.method == "OPTIONS":
            return Response(status_code=204, headers={"allow": allow})
        raise HTTPException(405, headers={"allow": allow})

    return every_method(path, dispatch, frozenset(methods))


class _KeepConnection:
    """Outermost layer: an exception raised after the whole response was sent stops here.

    Starlette re-raises every unhandled exception after its 500 is sent, and uvicorn then
    closes the connection even though the response was complete; a client that reuses
    pooled connections (the gateway) gets its next request cut off. The exception was
    already logged and reported by ``errors.unhandled_exception``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        complete = False

        async def tracking_send(message: Message) -> None:
            nonlocal complete
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                complete = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            if not complete:
                raise


class PlatformApp(Starlette):
    """Starlette with _KeepConnection outermost and, when given, one ``direct`` route.

    The direct route (the gateway's ``/api/{path:path}``, a plain ASGI app) skips the router
    and the exception middleware: per proxied request they cost ~30 µs of the gateway's
    ~340 (py-spy, issue 12), and its app raises nothing they would handle. It keeps the rest:
    the user middleware (request id, metrics, access log), the 500 handler for a bug of ours,
    and ``scope["route"]`` for the metrics' route label.
    """

    def __init__(self, *args: Any, direct: Route | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.direct = direct

    def build_middleware_stack(self) -> ASGIApp:
        full = _KeepConnection(super().build_middleware_stack())
        if self.direct is None:
            return full
        route, prefix, direct = self.direct, _prefix(self.direct), self._direct_stack(self.direct)

        async def dispatch(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] == "http" and scope["path"].startswith(prefix):
                scope["route"] = route
                await direct(scope, receive, send)
            else:
                await full(scope, receive, send)

        return dispatch

    def _direct_stack(self, route: Route) -> ASGIApp:
        app: ASGIApp = route.app
        for cls, args, kwargs in reversed(self.user_middleware):
            app = cls(app, *args, **kwargs)
        return _KeepConnection(ServerErrorMiddleware(app, handler=unhandled_exception, debug=self.debug))


def _prefix(route: Route) -> str:
    """``/api/`` for ``/api/{path:path}``: the only shape a direct route may have, since
    a prefix test is then the same match the router would make."""
    prefix, brace, param = route.path.partition("{")
    if not brace or not param.endswith(":path}") or "}" in param[:-1]:
        raise ValueError(f"a direct route ends in one {{name:path}} parameter, not {route.path!r}")
    return prefix


def create_app(obs: Observability, routes: Sequence[BaseRoute], lifespan: Lifespan | None = None,
               direct: Route | None = None) -> Starlette:
    @asynccontextmanager
    async def run(app: Starlette) -> AsyncIterator[None]:
        if obs.shipper is not None:
            obs.shipper.start()
        try:
            if lifespan is None:
                yield
            else:
                async with lifespan(app):
                    yield
        finally:
            if obs.shipper is not None:
                await obs.shipper.stop()

    app = PlatformApp(
        routes=[*routes, *([direct] if direct else []), Route("/metrics", obs.metrics.endpoint, methods=["GET"])],
        middleware=[Middleware(ObserveMiddleware, metrics=obs.metrics)],
        exception_handlers=EXCEPTION_HANDLERS,
        lifespan=run,
        direct=direct,
    )
    app.state.obs = obs
    return app
