"""The documented error answers: 404 for unknown and malformed ids on every method, 409 for
a taken SKU, 413 over the gateway's body limit, 415 for non-JSON, 400 for broken JSON."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from bson import ObjectId

from suites.contract.catalogue import IMAGE, PRODUCT, PRODUCTS, Catalogue, png
from suites.contract.schema import OpenApi, describe

MALFORMED_IDS = ["nope", "123", "0" * 23, "0" * 25, "g" * 24, "0" * 23 + "-", "%20"]

# operation id, path template, request arguments: each valid but for the id
ID_OPERATIONS: list[tuple[str, str, str, dict[str, Any]]] = [
    ("get", "GET", PRODUCT, {}),
    ("put", "PUT", PRODUCT, {"json": {"name": "valid", "price": 1}}),
    ("patch", "PATCH", PRODUCT, {"json": {"stock": 1}}),
    ("delete", "DELETE", PRODUCT, {}),
    ("get-image", "GET", IMAGE, {}),
    ("put-image", "PUT", IMAGE, {"content": png(), "headers": {"content-type": "image/png"}}),
]


@pytest.mark.parametrize("product_id", [str(ObjectId()), *MALFORMED_IDS], ids=["unknown", *MALFORMED_IDS])
@pytest.mark.parametrize(("method", "template", "kwargs"), [op[1:] for op in ID_OPERATIONS], ids=[op[0] for op in ID_OPERATIONS])
def test_no_such_product_is_404(api: httpx.Client, openapi: OpenApi, product_id: str, method: str, template: str,
                                kwargs: dict[str, Any]) -> None:
    response = api.request(method, template.format(id=product_id), **kwargs)
    assert response.status_code == 404, describe(response)
    assert openapi.conforms(response, template)["error"] == "not_found", describe(response)


def test_create_with_a_taken_sku_is_409(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    taken = catalogue.create()
    response = api.post(PRODUCTS, json=catalogue.fields(sku=taken["sku"]))
    if response.status_code == 201:
        catalogue.track(response.json()["id"])
    assert response.status_code == 409, describe(response)
    body = openapi.conforms(response, PRODUCTS)
    assert (body["error"], body.get("field")) == ("conflict", "sku"), body
    assert catalogue.get(taken["id"]) == taken


def test_a_padded_taken_sku_is_refused_not_stripped(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    # The schema's sku pattern has no surrounding whitespace, and the API says so rather than
    # silently stripping it (what a client sent is what is stored, or a 422 naming the field).
    taken = catalogue.create()
    response = api.post(PRODUCTS, json=catalogue.fields(sku=f"  {taken['sku']}  "))
    if response.status_code == 201:
        catalogue.track(response.json()["id"])
    assert response.status_code == 422, describe(response)
    body = openapi.conforms(response, PRODUCTS)
    assert [f["field"] for f in body["fields"]] == ["sku"], body
    assert catalogue.get(taken["id"]) == taken


@pytest.mark.parametrize("method", ["PATCH", "PUT"])
def test_taking_another_products_sku_is_409(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                            method: str) -> None:
    taken, other = catalogue.create(), catalogue.create()
    body = {"sku": taken["sku"]} if method == "PATCH" else catalogue.fields(sku=taken["sku"])
    response = api.request(method, PRODUCT.format(id=other["id"]), json=body)
    assert response.status_code == 409, describe(response)
    error = openapi.conforms(response, PRODUCT)
    assert (error["error"], error.get("field")) == ("conflict", "sku"), error
    assert catalogue.get(other["id"]) == other, f"a refused {method} changed the product"
    assert catalogue.get(taken["id"]) == taken


def json_of_size(size: int) -> bytes:
    """A JSON product of exactly ``size`` bytes (its name far too long, so never stored)."""
    head, tail = b'{"name": "', b'", "price": 1}'
    return head + b"n" * (size - len(head) - len(tail)) + tail


def chunked(body: bytes, chunk: int = 64 * 1024) -> Iterator[bytes]:
    for start in range(0, len(body), chunk):
        yield body[start:start + chunk]


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_body_over_the_gateway_limit_is_413(api: httpx.Client, openapi: OpenApi, max_body_bytes: int,
                                            framing: str) -> None:
    body = json_of_size(max_body_bytes + 1)
    content: bytes | Iterator[bytes] = body if framing == "content-length" else chunked(body)
    response = api.post(PRODUCTS, content=content, headers={"content-type": "application/json"})
    sent = response.request.headers
    assert ("transfer-encoding" in sent) == (framing == "chunked"), f"request was not framed {framing}: {sent}"
    assert response.status_code == 413, describe(response)
    error = openapi.conforms(response, PRODUCTS)
    assert (error["error"], error.get("limit_bytes")) == ("payload_too_large", max_body_bytes), error


def test_body_at_the_gateway_limit_is_read(api: httpx.Client, openapi: OpenApi, max_body_bytes: int) -> None:
    # The limit is inclusive and not lower than documented: the body reaches validation.
    response = api.post(PRODUCTS, content=json_of_size(max_body_bytes), headers={"content-type": "application/json"})
    assert response.status_code == 422, describe(response)
    assert [f["field"] for f in openapi.conforms(response, PRODUCTS)["fields"]] == ["name"]


NOT_JSON = ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/xml", None]


@pytest.mark.parametrize("content_type", NOT_JSON, ids=[str(t).split(";")[0] for t in NOT_JSON])
@pytest.mark.parametrize(("method", "template"), [("POST", PRODUCTS), ("PUT", PRODUCT), ("PATCH", PRODUCT)])
def test_non_json_body_is_415(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue, method: str,
                              template: str, content_type: str | None) -> None:
    product = catalogue.create()
    headers = {"content-type": content_type} if content_type else {}
    response = api.request(method, template.format(id=product["id"]), content=b'{"name": "x", "price": 1}',
                           headers=headers)
    if response.status_code == 201:
        catalogue.track(response.json()["id"])
    assert response.status_code == 415, describe(response)
    assert openapi.conforms(response, template)["error"] == "unsupported_media_type"
    assert catalogue.get(product["id"]) == product


def test_json_with_parameters_is_accepted(catalogue: Catalogue, api: httpx.Client, openapi: OpenApi) -> None:
    response = api.post(PRODUCTS, content=httpx.Request("POST", "/", json=catalogue.fields()).content,
                        headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 201, describe(response)
    catalogue.track(openapi.conforms(response, PRODUCTS)["id"])


def test_image_of_another_type_is_415(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    product = catalogue.create()
    response = api.put(IMAGE.format(id=product["id"]), content=png(), headers={"content-type": "application/json"})
    assert response.status_code == 415, describe(response)
    assert openapi.conforms(response, IMAGE)["error"] == "unsupported_media_type"


@pytest.mark.parametrize("body", [b"{", b'{"name": "x", "price": 1', b"", b"\xff\xfe"], ids=["brace", "truncated", "empty", "not-utf8"])
def test_broken_json_is_400(api: httpx.Client, openapi: OpenApi, body: bytes) -> None:
    response = api.post(PRODUCTS, content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, describe(response)
    assert openapi.conforms(response, PRODUCTS)["error"] == "malformed_json"
