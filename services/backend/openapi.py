"""The backend's OpenAPI 3.1 document, built from the same pydantic models that validate.

It is served through the gateway, so it lists the gateway's own answers too (413 over its
body limit, 502 and 504 for an unreachable or slow backend). Links say what really follows
an answer: a created product can be read, replaced, changed, deleted and given an image;
only a product whose image was stored has one to read.
"""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from services.backend.api import MAX_LIMIT, MAX_OFFSET, MAX_SLOW_S
from services.backend.images import ALLOWED_TYPES
from services.backend.models import ErrorBody, Product, ProductIn, ProductPage, ProductPatch, sku_filter_schema

_REF = "#/components/schemas/{model}"

REASONS = {
    403: "The canary route without the canary's token (`x-canary-token`)",
    400: "Body is not valid JSON, or the gateway refused the path (`invalid_path`: a dot-segment, backslash, "
         "control character or non-UTF-8 once percent-decoded)",
    404: "No product with this id (also for a malformed id), or it has no image",
    409: "Another product has this sku",
    413: "Body over the size limit (the gateway's, or the backend's image limit); `limit_bytes` says it",
    415: "Unsupported Content-Type",
    422: "Invalid fields or parameters; `fields` names each one",
    500: "Deliberate: an unhandled exception, reported with the request id",
    502: "The gateway could not reach the backend, or the backend broke the connection",
    503: "A dependency (mongo, object_store) is unavailable; `dependency` names it",
    504: "The backend did not answer within the gateway's timeout",
}
GATEWAY = (400, 502, 504)  # any route behind the gateway (400: its path guard)
JSON_BODY = (400, 413, 415, 422)  # any route that reads a JSON body


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    return {str(s): {"description": REASONS[s], **_json("ErrorBody")} for s in sorted({*statuses, *GATEWAY})}


def _link(operation: str, description: str) -> dict[str, Any]:
    return {"operationId": operation, "parameters": {"id": "$response.body#/id"}, "description": description}


ID = {"name": "id", "in": "path", "required": True, "example": "6b0fc653fe56dbf9b250d88c",
      "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"}}
IMAGE_TYPES = {t: {"schema": {"type": "string", "format": "binary"}} for t in sorted(ALLOWED_TYPES)}
# What a product's id leads to, once the API has answered with it.
PRODUCT_LINKS = {
    "GetProduct": _link("getProduct", "Read the product"),
    "ReplaceProduct": _link("replaceProduct", "Replace the product"),
    "PatchProduct": _link("patchProduct", "Change some of its fields"),
    "DeleteProduct": _link("deleteProduct", "Delete it"),
    "PutProductImage": _link("putProductImage", "Store its image"),
}
IMAGE_LINKS = {**PRODUCT_LINKS, "GetProductImage": _link("getProductImage", "Read the image just stored")}


def _products() -> dict[str, Any]:
    return {
        "/api/products": {
            "get": {
                "operationId": "listProducts",
                "summary": "List products, oldest first",
                "description": "Ordered by `created_at`, then `id`. "
                               "`sku` and `sku_prefix` narrow the listing (both given: both hold), and `total` "
                               "counts what they match. Either rides the unique sku index, so such a page costs "
                               "what it matches, not the size of the catalogue.",
                "parameters": [
                    {"name": "limit", "in": "query", "example": 10,
                     "schema": {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": 20}},
                    {"name": "offset", "in": "query", "example": 10,
                     "schema": {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET, "default": 0}},
                    {"name": "sku", "in": "query", "example": "CUP-ESP-01", "description": "Only the product with this sku",
                     "schema": sku_filter_schema()},
                    {"name": "sku_prefix", "in": "query", "example": "CUP-",
                     "description": "Only products whose sku starts with this", "schema": sku_filter_schema(prefix=True)},
                ],
                "responses": {"200": {"description": "A page of products", **_json("ProductPage")}, **_errors(422, 503)},
            },
            "post": {
                "operationId": "createProduct",
                "summary": "Create a product",
                "requestBody": {"required": True, **_json("ProductIn")},
                "responses": {"201": {"description": "Created; `Location` names it", **_json("Product"),
                                      "links": PRODUCT_LINKS},
                              **_errors(409, 503, *JSON_BODY)},
            },
        },
        "/api/products/{id}": {
            "parameters": [ID],
            "get": {"operationId": "getProduct", "summary": "One product",
                    "responses": {"200": {"description": "The product", **_json("Product")}, **_errors(404, 503)}},
            "put": {
                "operationId": "replaceProduct",
                "summary": "Replace a product (fields left out take their defaults)",
                "requestBody": {"required": True, **_json("ProductIn")},
                "responses": {"200": {"description": "Replaced", **_json("Product"), "links": PRODUCT_LINKS},
                              **_errors(404, 409, 503, *JSON_BODY)},
            },
            "patch": {
                "operationId": "patchProduct",
                "summary": "Change some fields of a product",
                "requestBody": {"required": True, **_json("ProductPatch")},
                "responses": {"200": {"description": "Changed", **_json("Product"), "links": PRODUCT_LINKS},
                              **_errors(404, 409, 503, *JSON_BODY)},
            },
            "delete": {"operationId": "deleteProduct", "summary": "Delete a product and its image",
                       "responses": {"204": {"description": "Deleted"}, **_errors(404, 503)}},
        },
        "/api/products/{id}/image": {
            "parameters": [ID],
            "put": {
                "operationId": "putProductImage",
                "summary": "Store the product's image in the object store (content must match its type)",
                "requestBody": {"required": True, "content": IMAGE_TYPES},
                "responses": {"200": {"description": "Stored; the product carries etag and sha256", **_json("Product"),
                                      "links": IMAGE_LINKS},
                              **_errors(404, 413, 415, 422, 503)},
            },
            "get": {
                "operationId": "getProductImage",
                "summary": "Stream the product's image back",
                "responses": {"200": {"description": "The image, with ETag and X-Checksum-SHA256", "content": IMAGE_TYPES},
                              **_errors(404, 503)},
            },
        },
    }


def _fault_routes() -> dict[str, Any]:
    echo = {"summary": "What the backend received: headers, query, body digest (fault routes only)",
            "responses": {"200": {"description": "The request as received"}, **_errors(413)}}
    return {
        "/api/debug/error": {"post": {
            "operationId": "debugError",
            "summary": "Raise an unhandled exception (fault routes only)",
            "responses": _errors(500),
        }},
        "/api/debug/slow": {"post": {
            "operationId": "debugSlow",
            "summary": "Answer after `seconds` (fault routes only); past the gateway's timeout, its 504",
            "parameters": [{"name": "seconds", "in": "query",
                            "schema": {"type": "number", "minimum": 0, "maximum": MAX_SLOW_S, "default": 1}}],
            "responses": {"200": {"description": "Slept"}, **_errors(422)},
        }},
        "/api/debug/echo": {method: {**echo, "operationId": f"debugEcho{method.title()}"}
                            for method in ("get", "post", "put", "patch", "delete")},
    }


CANARY_ROUTE = {
    "/api/canary/error": {"post": {
        "operationId": "canaryError",
        "summary": "The canary's tracer error (with CANARY_TOKEN set): captured for error tracking, answered 202",
        "parameters": [{"name": "x-canary-token", "in": "header", "required": True, "schema": {"type": "string"}}],
        "responses": {"202": {"description": "Captured: `event_id` to look up in error tracking"}, **_errors(403)},
    }},
}


def build(fault_routes: bool, canary_route: bool = False) -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in (ProductIn, ProductPatch)] + [(m, "serialization") for m in (Product, ProductPage, ErrorBody)],
        ref_template=_REF,
    )
    paths: dict[str, Any] = {
        "/api/health": {"get": {
            "operationId": "health",
            "summary": "Backend health with a check per dependency",
            "responses": {"200": {"description": "All dependencies reachable"},
                          "503": {"description": "`failing` names each unreachable dependency"}, **_errors()},
        }},
        "/api/openapi.json": {"get": {"operationId": "openapi", "summary": "This document",
                                      "responses": {"200": {"description": "OpenAPI"}, **_errors()}}},
        **_products(),
    }
    if fault_routes:
        paths.update(_fault_routes())
    if canary_route:
        paths.update(CANARY_ROUTE)
    return {
        "openapi": "3.1.0",
        "info": {"title": "stackproof backend", "version": "1"},
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }
