"""HTTP handlers of the backend. Each maps store outcomes to one documented status."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

import sentry_sdk
from pydantic import BaseModel, ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from services.backend.images import ALLOWED_TYPES, ImageMissing, ImageStore, ObjectStoreUnavailable, content_matches
from services.backend.models import ProductIn, ProductPatch, field_errors, sku_problem
from services.backend.store import DuplicateSku, ProductStore, StoreUnavailable, parse_id
from services.common.errors import error_response
from services.common.metrics import Metrics

MAX_JSON_BYTES = 1024 * 1024
MAX_LIMIT = 100
DEFAULT_LIMIT = 20
# The database skips `offset` documents one by one, and its skip is a 64-bit integer: a bound
# keeps a page cheap and an out-of-range offset a 422 (it was a 500 from the driver).
MAX_OFFSET = 1_000_000
_INTEGER = re.compile(r"-?[0-9]+")
_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?")
MAX_SLOW_S = 30
HEALTH_TIMEOUT_S = 3.0


class ApiError(Exception):
    """An expected client or dependency error, rendered as a JSON body."""

    def __init__(self, status: int, error: str | None = None, **extra: Any) -> None:
        super().__init__(status, error)
        self.status = status
        self.error = error
        self.extra = extra


async def api_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(request, exc.status, exc.error, **exc.extra)


def _unavailable(dependency: str, exc: Exception) -> ApiError:
    return ApiError(503, "dependency_unavailable", dependency=dependency, detail=str(exc)[:500])


async def read_body(request: Request, limit: int) -> bytes:
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(413, limit_bytes=limit)
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise ApiError(413, limit_bytes=limit)
    return bytes(body)


async def read_json(request: Request) -> Any:
    media_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if media_type != "application/json" and not media_type.endswith("+json"):
        raise ApiError(415, detail="Content-Type must be application/json", content_type=media_type or None)
    body = await read_body(request, MAX_JSON_BYTES)
    try:
        data = json.loads(body)
    except ValueError as exc:
        raise ApiError(400, "malformed_json", detail=str(exc)) from exc
    if b"\\u" in body and _has_lone_surrogate(data):
        # JSON lets "\ud800" through; no store (and no JSON answer naming it) can encode it.
        raise ApiError(400, "malformed_json", detail="a \\u escape is a lone surrogate (not a character)")
    return data


def _has_lone_surrogate(data: Any) -> bool:
    try:
        json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def validate(model: type[BaseModel], data: Any) -> Any:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ApiError(422, "validation_error", fields=field_errors(exc)) from exc


def _int_param(request: Request, name: str, default: int, low: int, high: int,
               errors: list[dict[str, str]]) -> int:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    # Digits only: int() would also take " 7", "+7", "7_0" and non-ASCII digits, which the
    # document's `integer` does not.
    if not _INTEGER.fullmatch(raw):
        errors.append({"field": name, "message": f"must be an integer, got {raw[:40]!r}", "type": "int_parsing"})
        return default
    value = int(raw) if len(raw) <= 20 else high + 1  # past any bound; int() of 5,000 digits is a DoS
    if not low <= value <= high:
        errors.append({"field": name, "message": f"must be between {low} and {high}, got {raw[:40]}", "type": "range"})
    return value


def _sku_param(request: Request, name: str, prefix: bool, errors: list[dict[str, str]]) -> str | None:
    raw = request.query_params.get(name)
    if raw is None:
        return None
    problem = sku_problem(raw, prefix)
    if problem is not None:
        errors.append({"field": name, "message": problem, "type": "string_pattern_mismatch"})
    return raw


class BackendApi:
    def __init__(self, products: ProductStore, images: ImageStore, metrics: Metrics, image_max_bytes: int) -> None:
        self.products = products
        self.images = images
        self.metrics = metrics
        self.image_max_bytes = image_max_bytes

    async def _product_id(self, request: Request) -> Any:
        oid = parse_id(request.path_params["id"])
        if oid is None:
            raise ApiError(404, detail="no product with this id")
        return oid

    async def _call(self, awaitable: Any) -> Any:
        try:
            return await awaitable
        except StoreUnavailable as exc:
            raise _unavailable("mongo", exc) from exc
        except ObjectStoreUnavailable as exc:
            raise _unavailable("object_store", exc) from exc
        except DuplicateSku as exc:
            raise ApiError(409, "conflict", field="sku", detail=f"a product with sku {exc.sku!r} exists") from exc

    @staticmethod
    def _found(product: dict[str, Any] | None) -> dict[str, Any]:
        if product is None:
            raise ApiError(404, detail="no product with this id")
        return product

    async def health(self, request: Request, service: str, version: str, uptime: float) -> JSONResponse:
        async def probe(name: str, check: Any) -> tuple[str, dict[str, Any]]:
            started = time.perf_counter()
            try:
                await asyncio.wait_for(check(), HEALTH_TIMEOUT_S)
                result: dict[str, Any] = {"ok": True}
            except TimeoutError:
                result = {"ok": False, "error": f"no answer within {HEALTH_TIMEOUT_S} s"}
            except Exception as exc:  # noqa: BLE001 -- a probe reports every failure, whatever its type
                result = {"ok": False, "error": f"{type(exc).__name__}: {str(exc)[:300]}"}
            result["latency_ms"] = round((time.perf_counter() - started) * 1000, 1)
            self.metrics.dependency_up.labels(service, name).set(1 if result["ok"] else 0)
            return name, result

        checks = dict(await asyncio.gather(probe("mongo", self.products.ping), probe("object_store", self.images.check)))
        ok = all(check["ok"] for check in checks.values())
        body: dict[str, Any] = {"ok": ok, "service": service, "version": version, "uptime_s": uptime, "checks": checks}
        if not ok:
            body["failing"] = sorted(name for name, check in checks.items() if not check["ok"])
        return JSONResponse(body, status_code=200 if ok else 503)

    async def create(self, request: Request) -> JSONResponse:
        product = validate(ProductIn, await read_json(request))
        created = await self._call(self.products.create(product))
        return JSONResponse(created, status_code=201, headers={"location": f"/api/products/{created['id']}"})

    async def list(self, request: Request) -> JSONResponse:
        errors: list[dict[str, str]] = []
        limit = _int_param(request, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT, errors)
        offset = _int_param(request, "offset", 0, 0, MAX_OFFSET, errors)
        sku = _sku_param(request, "sku", False, errors)
        sku_prefix = _sku_param(request, "sku_prefix", True, errors)
        if errors:
            raise ApiError(422, "validation_error", fields=errors)
        items, total = await self._call(self.products.list(limit, offset, sku, sku_prefix))
        return JSONResponse({"items": items, "total": total, "limit": limit, "offset": offset})

    async def get(self, request: Request) -> JSONResponse:
        oid = await self._product_id(request)
        return JSONResponse(self._found(await self._call(self.products.get(oid))))

    async def replace(self, request: Request) -> JSONResponse:
        oid = await self._product_id(request)
        product = validate(ProductIn, await read_json(request))
        return JSONResponse(self._found(await self._call(self.products.replace(oid, product))))

    async def patch(self, request: Request) -> JSONResponse:
        oid = await self._product_id(request)
        patch = validate(ProductPatch, await read_json(request))
        return JSONResponse(self._found(await self._call(self.products.patch(oid, patch))))

    async def delete(self, request: Request) -> Response:
        oid = await self._product_id(request)
        product = self._found(await self._call(self.products.delete(oid)))
        if product.get("image"):
            await self._call(self.images.delete(product["id"]))
        return Response(status_code=204)

    async def put_image(self, request: Request) -> JSONResponse:
        oid = await self._product_id(request)
        content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if content_type not in ALLOWED_TYPES:
            raise ApiError(415, detail=f"image must be one of {', '.join(sorted(ALLOWED_TYPES))}",
                           content_type=content_type or None)
        data = await read_body(request, self.image_max_bytes)
        if not data:
            raise ApiError(422, "validation_error", fields=[{"field": "body", "message": "image is empty", "type": "missing"}])
        if not content_matches(content_type, data):
            raise ApiError(422, "validation_error", fields=[
                {"field": "body", "message": f"content is not a {content_type} image", "type": "content_mismatch"}])
        self._found(await self._call(self.products.get(oid)))
        stored = await self._call(self.images.put(str(oid), data, content_type))
        image = {"content_type": stored.content_type, "size": stored.size, "etag": stored.etag, "sha256": stored.sha256}
        product = self._found(await self._call(self.products.set_image(oid, image)))
        return JSONResponse(product, status_code=200)

    async def get_image(self, request: Request) -> Response:
        oid = await self._product_id(request)
        product = self._found(await self._call(self.products.get(oid)))
        image = product.get("image")
        if not image:
            raise ApiError(404, detail="this product has no image")
        try:
            _, chunks = await self._call(self.images.open(product["id"]))
        except ImageMissing as exc:
            raise ApiError(404, detail="image is recorded but missing from the object store") from exc
        headers = {
            "etag": f'"{image["etag"]}"',
            "content-length": str(image["size"]),
            "x-checksum-sha256": image["sha256"],
        }
        return StreamingResponse(chunks, media_type=image["content_type"], headers=headers)


async def debug_error(request: Request) -> Response:
    raise RuntimeError(f"deliberate fault for error tracking (request {request.state.request_id})")


async def debug_slow(request: Request) -> JSONResponse:
    raw = request.query_params.get("seconds", "1")
    if not _NUMBER.fullmatch(raw):  # float() would also take "nan", " 1" and "1_0"
        raise ApiError(422, "validation_error", fields=[
            {"field": "seconds", "message": "must be a number", "type": "float_parsing"}])
    seconds = float(raw)
    if not 0 <= seconds <= MAX_SLOW_S:
        raise ApiError(422, "validation_error", fields=[
            {"field": "seconds", "message": f"must be between 0 and {MAX_SLOW_S}", "type": "range"}])
    await asyncio.sleep(seconds)  # the fault itself: a deliberately slow answer
    return JSONResponse({"slept_s": seconds})


async def debug_echo(request: Request) -> JSONResponse:
    """What the backend received, as seen after the gateway: headers, query, body digest."""
    digest = hashlib.sha256()
    size = 0
    async for chunk in request.stream():
        digest.update(chunk)
        size += len(chunk)
    return JSONResponse({
        "method": request.method,
        "path": request.url.path,
        "query": request.url.query,
        "headers": dict(request.headers),
        "body_bytes": size,
        "body_sha256": digest.hexdigest(),
    })


class CanaryError(RuntimeError):
    """The canary's deliberate error: captured and reported, never raised to the client."""


CANARY_TOKEN_HEADER = "x-canary-token"


def canary_error(token: str) -> Callable[[Request], Awaitable[Response]]:
    """POST /api/canary/error: with the canary's token, capture a deliberate exception (tagged with
    the request id) and answer 202 with the event id the canary then looks up in the Sentry role.
    A 202, not a 500: the canary's tracer must not count as a failed request (HighErrorRate)."""

    async def handler(request: Request) -> Response:
        supplied = request.headers.get(CANARY_TOKEN_HEADER, "")
        if not hmac.compare_digest(supplied.encode(), token.encode()):
            raise ApiError(403, "forbidden", detail=f"{CANARY_TOKEN_HEADER} missing or wrong")
        rid = request.state.request_id
        try:
            raise CanaryError(f"canary tracer error (request {rid})")
        except CanaryError as exc:
            with sentry_sdk.new_scope() as scope:
                scope.set_tag("canary", "true")
                event_id = sentry_sdk.capture_exception(exc, scope=scope)
        return JSONResponse({"event_id": event_id, "request_id": rid}, status_code=202)

    return handler
