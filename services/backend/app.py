"""The backend application: products, images, health, metrics and the fault routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from prometheus_client import CollectorRegistry
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute

from services.backend import openapi
from services.backend.api import ApiError, BackendApi, api_error, canary_error, debug_echo, debug_error, debug_slow
from services.backend.images import ImageStore
from services.backend.store import ProductStore
from services.common.platform import create_app, observability, resource
from services.common.settings import BackendSettings, load_backend


def build(settings: BackendSettings, registry: CollectorRegistry | None = None) -> Starlette:
    obs = observability(settings.common, registry)
    products = ProductStore(settings.mongo_url, settings.mongo_database, settings.mongo_timeout_ms)
    images = ImageStore(settings.minio_endpoint, settings.minio_access_key, settings.minio_secret_key,
                        settings.minio_bucket, settings.minio_secure)
    api = BackendApi(products, images, obs.metrics, settings.image_max_bytes)
    spec = openapi.build(settings.enable_fault_routes, canary_route=settings.canary_token is not None)

    async def health(request: Request) -> JSONResponse:
        return await api.health(request, "backend", settings.common.version, obs.uptime())

    async def openapi_json(request: Request) -> JSONResponse:
        return JSONResponse(spec)

    routes: list[BaseRoute] = [
        resource("/api/health", {"GET": health}),
        resource("/api/openapi.json", {"GET": openapi_json}),
        resource("/api/products", {"GET": api.list, "POST": api.create}),
        resource("/api/products/{id}", {"GET": api.get, "PUT": api.replace, "PATCH": api.patch, "DELETE": api.delete}),
        resource("/api/products/{id}/image", {"GET": api.get_image, "PUT": api.put_image}),
    ]
    if settings.enable_fault_routes:
        routes += [
            resource("/api/debug/error", {"POST": debug_error}),
            resource("/api/debug/slow", {"POST": debug_slow}),
            resource("/api/debug/echo", {m: debug_echo for m in ("GET", "POST", "PUT", "PATCH", "DELETE")}),
        ]

    if settings.canary_token:
        routes.append(resource("/api/canary/error", {"POST": canary_error(settings.canary_token)}))

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await products.close()

    app = create_app(obs, routes, lifespan)
    app.add_exception_handler(ApiError, api_error)
    return app


def app() -> Starlette:
    """Factory for ``uvicorn --factory services.backend.app:app``: settings from the environment."""
    return build(load_backend())
