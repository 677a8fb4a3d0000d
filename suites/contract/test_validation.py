"""Every invalid body answers 422 ``validation_error`` naming exactly the offending
fields, all at once; the boundaries themselves are accepted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from suites.contract.catalogue import PRODUCT, PRODUCTS, Catalogue, unique
from suites.contract.schema import OpenApi, describe

OK = {"name": "valid", "price": 1}

# case id, body, fields the 422 must name (exactly)
INVALID_PRODUCT: list[tuple[str, Any, set[str]]] = [
    ("name-missing", {"price": 1}, {"name"}),
    ("name-empty", {**OK, "name": ""}, {"name"}),
    ("name-blank", {**OK, "name": "   "}, {"name"}),
    ("name-too-long", {**OK, "name": "n" * 201}, {"name"}),
    ("name-not-a-string", {**OK, "name": 42}, {"name"}),
    ("name-null", {**OK, "name": None}, {"name"}),
    ("price-missing", {"name": "valid"}, {"price"}),
    ("price-negative", {**OK, "price": -0.01}, {"price"}),
    ("price-3-decimals", {**OK, "price": 1.001}, {"price"}),
    ("price-string", {**OK, "price": "9.99"}, {"price"}),
    ("price-bool", {**OK, "price": True}, {"price"}),
    ("stock-negative", {**OK, "stock": -1}, {"stock"}),
    ("stock-float", {**OK, "stock": 1.5}, {"stock"}),
    ("stock-string", {**OK, "stock": "3"}, {"stock"}),
    ("stock-bool", {**OK, "stock": True}, {"stock"}),
    ("sku-empty", {**OK, "sku": ""}, {"sku"}),
    ("sku-too-long", {**OK, "sku": "s" * 65}, {"sku"}),
    ("unknown-field", {**OK, "colour": "red"}, {"colour"}),
    ("body-array", [OK], {"body"}),
    ("body-string", "product", {"body"}),
    ("body-number", 42, {"body"}),
    ("body-null", None, {"body"}),
    ("all-at-once", {"name": "", "price": -1, "stock": 1.5, "sku": "", "colour": "red"},
     {"name", "price", "stock", "sku", "colour"}),
]

INVALID_PATCH: list[tuple[str, Any, set[str]]] = [
    ("empty", {}, {"body"}),
    ("name-null", {"name": None}, {"name"}),
    ("price-null", {"price": None}, {"price"}),
    ("price-negative", {"price": -1}, {"price"}),
    ("price-3-decimals", {"price": 0.005}, {"price"}),
    ("stock-float", {"stock": 2.5}, {"stock"}),
    ("unknown-field", {"colour": "red"}, {"colour"}),
    ("body-array", [], {"body"}),
    ("all-at-once", {"name": "", "price": "1", "stock": -1, "colour": 1}, {"name", "price", "stock", "colour"}),
]

BOUNDARIES: list[tuple[str, dict[str, Any]]] = [
    ("name-200-chars", {"name": "n" * 200}),
    ("price-zero", {"price": 0}),
    ("price-2-decimals", {"price": 0.01}),
    ("price-integer", {"price": 10}),
    ("stock-zero", {"stock": 0}),
    ("sku-64-chars", {"sku": unique("sp-contract").rjust(64, "s")}),
]


def send(api: httpx.Client, method: str, url: str, body: Any) -> httpx.Response:
    # Encoded by hand: httpx's json=None would send no body at all, not the JSON null.
    return api.request(method, url, content=json.dumps(body).encode(), headers={"content-type": "application/json"})


def named_fields(openapi: OpenApi, response: httpx.Response, template: str) -> set[str]:
    __tracebackhide__ = True
    assert response.status_code == 422, describe(response)
    body = openapi.conforms(response, template)
    assert body["error"] == "validation_error", describe(response)
    assert body["fields"], f"422 names no field: {describe(response)}"
    return {entry["field"] for entry in body["fields"]}


@pytest.mark.parametrize(("body", "expected"), [case[1:] for case in INVALID_PRODUCT], ids=[c[0] for c in INVALID_PRODUCT])
def test_create_rejects(api: httpx.Client, openapi: OpenApi, body: Any, expected: set[str]) -> None:
    response = send(api, "POST", PRODUCTS, body)
    if response.status_code == 201:  # a wrongly accepted body must not stay in the shared catalogue
        api.delete(PRODUCT.format(id=response.json()["id"]))
    assert named_fields(openapi, response, PRODUCTS) == expected, f"sent {body!r}: {describe(response)}"


# A rejected change leaves the product as it was: PUT with a whole product, PATCH with some fields.
CHANGES = [("PUT", *case) for case in INVALID_PRODUCT] + [("PATCH", *case) for case in INVALID_PATCH]


@pytest.mark.parametrize(("method", "body", "expected"), [(m, b, e) for m, _, b, e in CHANGES],
                         ids=[f"{m}-{case_id}" for m, case_id, _, _ in CHANGES])
def test_change_rejects_and_keeps_the_product(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                              method: str, body: Any, expected: set[str]) -> None:
    product = catalogue.create()
    response = send(api, method, PRODUCT.format(id=product["id"]), body)
    assert named_fields(openapi, response, PRODUCT) == expected, f"sent {body!r}: {describe(response)}"
    assert catalogue.get(product["id"]) == product, f"a rejected {method} changed the product"


@pytest.mark.parametrize("overrides", [case[1] for case in BOUNDARIES], ids=[c[0] for c in BOUNDARIES])
def test_create_accepts_the_boundary(catalogue: Catalogue, overrides: dict[str, Any]) -> None:
    product = catalogue.create(**overrides)
    assert {key: product[key] for key in overrides} == overrides, product
