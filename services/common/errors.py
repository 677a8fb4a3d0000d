"""JSON error bodies: every error a client sees names what went wrong and the request id."""

from __future__ import annotations

import logging
from typing import Any

import sentry_sdk
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

logger = logging.getLogger("services.errors")

_ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    500: "internal_error",
    502: "upstream_unavailable",
    503: "dependency_unavailable",
    504: "upstream_timeout",
}


def request_id(request: Request) -> str | None:
    return getattr(request.state, "request_id", None)


def error_response(
    request: Request, status: int, error: str | None = None, headers: dict[str, str] | None = None, **extra: Any
) -> JSONResponse:
    rid = request_id(request)
    body: dict[str, Any] = {"error": error or _ERROR_CODES.get(status, "error"), **extra, "request_id": rid}
    all_headers = {"x-request-id": rid} if rid else {}
    all_headers.update(headers or {})
    return JSONResponse(body, status_code=status, headers=all_headers)


async def http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    extra: dict[str, Any] = {}
    if exc.detail and exc.detail != _default_phrase(exc.status_code):
        extra["detail"] = exc.detail
    return error_response(request, exc.status_code, headers=dict(exc.headers or {}), **extra)


async def unhandled_exception(request: Request, exc: Exception) -> Response:
    # Runs in ServerErrorMiddleware, outside the observability middleware: the request id
    # header has to be set here. The traceback goes to the log; the client gets the id.
    logger.error("unhandled %s on %s %s", type(exc).__name__, request.method, request.url.path,
                 exc_info=exc, extra={"request_id": request_id(request)})
    # Reported here, where the request's scope (and its request_id tag) is still current;
    # the exception does not travel further (see platform._KeepConnection).
    sentry_sdk.capture_exception(exc)
    return error_response(request, 500)


async def client_disconnected(request: Request, exc: Exception) -> Response:
    # The client left while we read its body (e.g. the gateway cut an over-limit upload):
    # not a server fault, and nobody will read this answer.
    logger.info("client disconnected during %s %s", request.method, request.url.path)
    return error_response(request, 400, "client_disconnected")


def _default_phrase(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


EXCEPTION_HANDLERS = {HTTPException: http_exception, ClientDisconnect: client_disconnected,
                      Exception: unhandled_exception}
