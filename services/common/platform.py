"""What both services are built from: logs, metrics, error tracking, one app factory."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass, field

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from services.common import logs, tracking
from services.common.errors import EXCEPTION_HANDLERS
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
            flush_seconds=settings.log_flush_seconds,
        )
    logs.configure(settings, shipper.submit if shipper else None)
    return Observability(settings, metrics, shipper, tracking.init(settings))


Lifespan = Callable[[Starlette], AbstractAsyncContextManager[None]]


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
    def build_middleware_stack(self) -> ASGIApp:
        return _KeepConnection(super().build_middleware_stack())


def create_app(obs: Observability, routes: list[BaseRoute], lifespan: Lifespan | None = None) -> Starlette:
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
        routes=[*routes, Route("/metrics", obs.metrics.endpoint, methods=["GET"])],
        middleware=[Middleware(ObserveMiddleware, metrics=obs.metrics)],
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        lifespan=run,
    )
    app.state.obs = obs
    return app
