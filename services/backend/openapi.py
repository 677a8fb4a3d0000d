"""The backend's OpenAPI 3.1 document, built from the same pydantic models that validate."""

from __future__ import annotations

from typing import Any

from pydantic.json_schema import models_json_schema

from services.backend.models import ErrorBody, Product, ProductIn, ProductPage, ProductPatch

_REF = "#/components/schemas/{model}"


def _json(schema: str) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": {"$ref": _REF.format(model=schema)}}}}


def _errors(*statuses: int) -> dict[str, Any]:
    reasons = {
        400: "Body is not valid JSON",
        404: "No product with this id (also for a malformed id)",
        409: "Another product has this sku",
        413: "Body over the size limit",
        415: "Unsupported Content-Type",
        422: "Invalid fields; `fields` names each one",
        503: "A dependency (mongo, object_store) is unavailable; `dependency` names it",
    }
    return {str(s): {"description": reasons[s], **_json("ErrorBody")} for s in statuses}


ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "pattern": "^[0-9a-f]{24}$"}}
JSON_BODY_ERRORS = (400, 413, 415, 422, 503)


def build(fault_routes: bool) -> dict[str, Any]:
    _, defs = models_json_schema(
        [(m, "validation") for m in (ProductIn, ProductPatch)] + [(m, "serialization") for m in (Product, ProductPage, ErrorBody)],
        ref_template=_REF,
    )
    image_types = {t: {"schema": {"type": "string", "format": "binary"}} for t in ("image/png", "image/jpeg", "image/webp")}
    paths: dict[str, Any] = {
        "/api/health": {"get": {
            "summary": "Backend health with a check per dependency",
            "responses": {"200": {"description": "All dependencies reachable"},
                          "503": {"description": "`failing` names each unreachable dependency"}},
        }},
        "/api/openapi.json": {"get": {"summary": "This document", "responses": {"200": {"description": "OpenAPI"}}}},
        "/api/products": {
            "get": {
                "summary": "List products, oldest first",
                "parameters": [
                    {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 100, "default": 20}},
                    {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0, "default": 0}},
                ],
                "responses": {"200": {"description": "A page of products", **_json("ProductPage")}, **_errors(422, 503)},
            },
            "post": {
                "summary": "Create a product",
                "requestBody": {"required": True, **_json("ProductIn")},
                "responses": {"201": {"description": "Created", **_json("Product")}, **_errors(409, *JSON_BODY_ERRORS)},
            },
        },
        "/api/products/{id}": {
            "parameters": [ID],
            "get": {"summary": "One product", "responses": {"200": {"description": "The product", **_json("Product")}, **_errors(404, 503)}},
            "put": {
                "summary": "Replace a product (fields left out take their defaults)",
                "requestBody": {"required": True, **_json("ProductIn")},
                "responses": {"200": {"description": "Replaced", **_json("Product")}, **_errors(404, 409, *JSON_BODY_ERRORS)},
            },
            "patch": {
                "summary": "Change some fields of a product",
                "requestBody": {"required": True, **_json("ProductPatch")},
                "responses": {"200": {"description": "Changed", **_json("Product")}, **_errors(404, 409, *JSON_BODY_ERRORS)},
            },
            "delete": {"summary": "Delete a product and its image",
                       "responses": {"204": {"description": "Deleted"}, **_errors(404, 503)}},
        },
        "/api/products/{id}/image": {
            "parameters": [ID],
            "put": {
                "summary": "Store the product's image in the object store",
                "requestBody": {"required": True, "content": image_types},
                "responses": {"200": {"description": "Stored; the product carries etag and sha256", **_json("Product")},
                              **_errors(404, 413, 415, 422, 503)},
            },
            "get": {
                "summary": "Stream the product's image back",
                "responses": {"200": {"description": "The image, with ETag and X-Checksum-SHA256", "content": image_types},
                              **_errors(404, 503)},
            },
        },
    }
    if fault_routes:
        paths["/api/debug/error"] = {"post": {
            "summary": "Raise an unhandled exception (fault routes only)",
            "responses": {"500": {"description": "Internal error with the request id", **_json("ErrorBody")}},
        }}
        paths["/api/debug/slow"] = {"post": {
            "summary": "Answer after `seconds` (fault routes only)",
            "parameters": [{"name": "seconds", "in": "query", "schema": {"type": "number", "minimum": 0, "maximum": 30}}],
            "responses": {"200": {"description": "Slept"}, **_errors(422)},
        }}
        echo = {"summary": "What the backend received: headers, query, body digest (fault routes only)",
                "responses": {"200": {"description": "The request as received"}}}
        paths["/api/debug/echo"] = {method: echo for method in ("get", "post", "put", "patch", "delete")}
    return {
        "openapi": "3.1.0",
        "info": {"title": "stackproof backend", "version": "1"},
        "paths": paths,
        "components": {"schemas": defs["$defs"]},
    }
