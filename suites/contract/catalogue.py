"""Products a test creates through the gateway, with unique names and SKUs, and deletes
afterwards. Other suites share the database, so nothing here assumes an empty catalogue:
each test's products share a sku prefix of their own (:attr:`Catalogue.prefix`), and a
listing asks for that prefix, so it reads the test's products only, however many others the
platform holds (issue 10: walking every page took 40 s at 13,000 products)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from suites.contract.schema import OpenApi, describe

PRODUCTS = "/api/products"
PRODUCT = "/api/products/{id}"
IMAGE = "/api/products/{id}/image"
PAGE_MAX = 100


def unique(label: str) -> str:
    return f"{label}-{uuid.uuid4().hex[:12]}"


def png(size: int = 2048) -> bytes:
    """What the backend accepts as a PNG (its signature) followed by unique bytes."""
    return b"\x89PNG\r\n\x1a\n" + uuid.uuid4().bytes * (size // 16)


class Catalogue:
    def __init__(self, api: httpx.Client, openapi: OpenApi) -> None:
        self.api = api
        self.openapi = openapi
        self.created: list[str] = []
        self.prefix = unique("sp-contract") + "-"

    def fields(self, **overrides: Any) -> dict[str, Any]:
        return {"name": unique("contract product"), "price": 12.34, "sku": self.prefix + uuid.uuid4().hex[:8], "stock": 3,
                **overrides}

    def track(self, product_id: str) -> None:
        self.created.append(product_id)

    def create(self, **overrides: Any) -> dict[str, Any]:
        response = self.api.post(PRODUCTS, json=self.fields(**overrides))
        assert response.status_code == 201, describe(response)
        product: dict[str, Any] = self.openapi.conforms(response, PRODUCTS)
        self.track(product["id"])
        return product

    def with_image(self) -> dict[str, Any]:
        product = self.create()
        response = self.api.put(IMAGE.format(id=product["id"]), content=png(), headers={"content-type": "image/png"})
        assert response.status_code == 200, describe(response)
        stored: dict[str, Any] = self.openapi.conforms(response, IMAGE)
        return stored

    def get(self, product_id: str) -> dict[str, Any]:
        response = self.api.get(PRODUCT.format(id=product_id))
        assert response.status_code == 200, describe(response)
        product: dict[str, Any] = self.openapi.conforms(response, PRODUCT)
        return product

    def cleanup(self) -> list[str]:
        """Delete what this test created; a test may have deleted some already (404)."""
        problems = []
        for product_id in self.created:
            response = self.api.delete(PRODUCT.format(id=product_id))
            if response.status_code not in {204, 404}:
                problems.append(describe(response))
        return problems


def page(api: httpx.Client, openapi: OpenApi, **params: int | str) -> dict[str, Any]:
    response = api.get(PRODUCTS, params=params)
    assert response.status_code == 200, describe(response)
    body: dict[str, Any] = openapi.conforms(response, PRODUCTS)
    return body


def listing(api: httpx.Client, openapi: OpenApi, sku_prefix: str, limit: int = PAGE_MAX) -> list[str]:
    """The id of every product whose sku starts with ``sku_prefix``, page by page, as far as
    the first page's ``total`` says; each page must say the same total."""
    ids: list[str] = []
    offset, total = 0, 1
    while offset < total:
        body = page(api, openapi, sku_prefix=sku_prefix, limit=limit, offset=offset)
        assert offset == 0 or body["total"] == total, f"total changed from {total} to {body['total']} at offset {offset}"
        ids += [item["id"] for item in body["items"]]
        offset, total = offset + limit, body["total"]
    return ids
