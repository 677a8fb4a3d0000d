"""The gateway application: /health, /metrics and the /api/* proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.platform import Observability, create_app, observability
from services.common.settings import GatewaySettings, load_gateway
from services.gateway.proxy import UpstreamProxy

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


def build(settings: GatewaySettings, registry: CollectorRegistry | None = None) -> Starlette:
    obs: Observability = observability(settings.common, registry)
    proxy = UpstreamProxy(settings.backend_url, settings.upstream_timeout, settings.max_body_bytes, obs.metrics)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse(
            {"ok": True, "service": "gateway", "version": settings.common.version, "uptime_s": obs.uptime()}
        )

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        await proxy.open()
        try:
            yield
        finally:
            await proxy.close()

    routes = [
        Route("/health", health, methods=["GET"]),
        Route("/api/{path:path}", proxy.handle, methods=METHODS),
    ]
    app = create_app(obs, routes, lifespan)
    app.state.proxy = proxy
    return app


def app() -> Starlette:
    """Factory for ``uvicorn --factory services.gateway.app:app``: settings from the environment."""
    return build(load_gateway())
