"""Pagination of GET /api/products: defaults, limit/offset semantics, oldest first, every
product on exactly one page, and 422 naming each bad parameter. Each test pages through
its own products only (``sku_prefix``, :class:`Catalogue`), so what it reads is exactly what
it created, whatever else the catalogue holds and whoever writes it meanwhile."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from suites.contract.catalogue import PAGE_MAX, PRODUCTS, Catalogue, listing, page
from suites.contract.schema import OpenApi, describe

DEFAULT_LIMIT = 20


@pytest.fixture
def three(catalogue: Catalogue) -> list[dict[str, Any]]:
    """Three products of this test's own, oldest first."""
    return [catalogue.create() for _ in range(3)]


def ids(body: dict[str, Any]) -> list[str]:
    return [item["id"] for item in body["items"]]


def test_defaults(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    # One more than a default page, so the default limit is seen cutting it.
    created = [catalogue.create()["id"] for _ in range(DEFAULT_LIMIT + 1)]
    body = page(api, openapi, sku_prefix=catalogue.prefix)
    assert (body["limit"], body["offset"], body["total"]) == (DEFAULT_LIMIT, 0, len(created)), body
    assert ids(body) == created[:DEFAULT_LIMIT], f"default page {ids(body)}, created {created}"


def test_limit_bounds_the_page(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                               three: list[dict[str, Any]]) -> None:
    ours = [item["id"] for item in three]
    for limit in (1, 2, 3, PAGE_MAX):
        body = page(api, openapi, sku_prefix=catalogue.prefix, limit=limit)
        assert (body["limit"], ids(body), body["total"]) == (limit, ours[:limit], 3), f"limit={limit}: {body}"


def test_items_are_oldest_first(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                three: list[dict[str, Any]]) -> None:
    items = page(api, openapi, sku_prefix=catalogue.prefix, limit=PAGE_MAX)["items"]
    # In the order they were created, whichever replica created each (an ObjectId orders by
    # second, then by process: two backend replicas listed by id were listed by replica).
    assert items == three, f"created {three}, listed {items}"
    order = [(item["created_at"], item["id"]) for item in items]
    assert order == sorted(order), f"page not by created_at, then id: {order}"


@pytest.mark.parametrize("limit", [1, 2])
def test_every_product_is_on_exactly_one_page(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                              three: list[dict[str, Any]], limit: int) -> None:
    ours = [item["id"] for item in three]
    assert listing(api, openapi, catalogue.prefix, limit=limit) == ours, f"pages of {limit}"


def test_offset_shifts_the_window(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                  three: list[dict[str, Any]]) -> None:
    first = page(api, openapi, sku_prefix=catalogue.prefix, limit=3)
    shifted = page(api, openapi, sku_prefix=catalogue.prefix, limit=2, offset=1)
    assert shifted["offset"] == 1, shifted
    assert shifted["items"] == first["items"][1:3], f"offset=1 gave {shifted['items']}, page 0 was {first['items']}"


def test_offset_past_the_end_is_an_empty_page(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                              three: list[dict[str, Any]]) -> None:
    for offset in (len(three), len(three) + 10_000):
        body = page(api, openapi, sku_prefix=catalogue.prefix, offset=offset)
        assert (body["items"], body["offset"], body["total"]) == ([], offset, len(three)), body


# query parameters, parameters the 422 must name
INVALID: list[tuple[dict[str, Any], set[str]]] = [
    ({"limit": 0}, {"limit"}),
    ({"limit": 101}, {"limit"}),
    ({"limit": -1}, {"limit"}),
    ({"limit": "ten"}, {"limit"}),
    ({"limit": "1.5"}, {"limit"}),
    ({"limit": ""}, {"limit"}),
    ({"offset": -1}, {"offset"}),
    ({"offset": "first"}, {"offset"}),
    ({"limit": 0, "offset": -1}, {"limit", "offset"}),
    ({"sku": ""}, {"sku"}),
    ({"sku": "CUP "}, {"sku"}),
    ({"sku": "CUP\n"}, {"sku"}),
    ({"sku": "x" * 65}, {"sku"}),
    ({"sku_prefix": ""}, {"sku_prefix"}),
    ({"sku_prefix": " CUP"}, {"sku_prefix"}),
    ({"sku_prefix": "C\tP"}, {"sku_prefix"}),
    ({"limit": 0, "sku": "", "sku_prefix": ""}, {"limit", "sku", "sku_prefix"}),
]


@pytest.mark.parametrize(("params", "expected"), INVALID, ids=[str(p) for p, _ in INVALID])
def test_bad_parameter_is_422_naming_it(api: httpx.Client, openapi: OpenApi, params: dict[str, Any],
                                        expected: set[str]) -> None:
    response = api.get(PRODUCTS, params=params)
    assert response.status_code == 422, describe(response)
    body = openapi.conforms(response, PRODUCTS)
    assert body["error"] == "validation_error", body
    assert {entry["field"] for entry in body["fields"]} == expected, describe(response)
