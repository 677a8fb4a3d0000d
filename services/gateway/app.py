"""The gateway application: /health, /metrics and the /api/* proxy."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from services.common.platform import Observability, create_app, observability, resource
from services.common.settings import GatewaySettings, load_gateway
from services.gateway.proxy import UpstreamProxy


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

    # Every method goes to the backend, which knows each path's methods: a 405 from here
    # would carry an Allow header listing the gateway's methods, not the resource's. The
    # proxy is a plain ASGI app (no Request/Response objects per request: see proxy.py),
    # reached without the router (see platform.PlatformApp).
    api = Route("/api/{path:path}", proxy, methods=None)
    app = create_app(obs, [resource("/health", {"GET": health})], lifespan, direct=api)
    app.state.proxy = proxy
    return app


def app() -> Starlette:
    """Factory for ``uvicorn --factory services.gateway.app:app``: settings from the environment."""
    return build(load_gateway())
