"""Pagination of GET /api/products: defaults, limit/offset semantics, oldest first, and 422
naming each bad parameter. Other suites write the same catalogue meanwhile, so checks
that compare two pages retry until both were read from the same catalogue."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from fixtures.waits import wait_for
from suites.contract.catalogue import PAGE_MAX, PRODUCTS, Catalogue, listing, page
from suites.contract.schema import OpenApi, describe

DEFAULT_LIMIT = 20


@pytest.fixture
def three(catalogue: Catalogue) -> list[dict[str, Any]]:
    """At least three products exist, whatever else the catalogue holds."""
    return [catalogue.create() for _ in range(3)]


def test_defaults(api: httpx.Client, openapi: OpenApi, three: list[dict[str, Any]]) -> None:
    # items and total are two reads in the backend: another suite's write may fall between.
    body = wait_for(lambda: page(api, openapi), target="GET /api/products", timeout=3,
                    expectation=f"a full default page: min({DEFAULT_LIMIT}, total) items",
                    until=lambda body: len(body["items"]) == min(DEFAULT_LIMIT, body["total"]))
    assert (body["limit"], body["offset"]) == (DEFAULT_LIMIT, 0), body


def test_limit_bounds_the_page(api: httpx.Client, openapi: OpenApi, three: list[dict[str, Any]]) -> None:
    for limit in (1, 2, 3):
        body = page(api, openapi, limit=limit)
        assert (body["limit"], len(body["items"])) == (limit, limit), f"limit={limit}: {body}"
    assert page(api, openapi, limit=PAGE_MAX)["limit"] == PAGE_MAX


def test_items_are_oldest_first(api: httpx.Client, openapi: OpenApi, three: list[dict[str, Any]]) -> None:
    items = page(api, openapi, limit=PAGE_MAX)["items"]
    ids = [item["id"] for item in items]
    assert ids == sorted(ids), f"page not in ObjectId order: {ids}"
    created = [item["created_at"] for item in items]
    assert created == sorted(created), f"page not oldest first: {created}"
    ours = [item["id"] for item in three]
    listed = wait_for(lambda: listing(api, openapi), target="GET /api/products (every page)",
                      expectation=f"products {ours} listed", until=lambda ids: set(ours) <= set(ids), timeout=3)
    assert [i for i in listed if i in ours] == ours, f"created in the order {ours}, listed {listed}"


def test_offset_shifts_the_window(api: httpx.Client, openapi: OpenApi, three: list[dict[str, Any]]) -> None:
    def windows() -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
        return page(api, openapi, limit=3), page(api, openapi, limit=2, offset=1), page(api, openapi, limit=3)

    def same_catalogue(seen: tuple[dict[str, Any], dict[str, Any], dict[str, Any]]) -> bool:
        first, _, again = seen
        return first == again

    first, shifted, _ = wait_for(windows, target="GET /api/products?limit=3 / ?limit=2&offset=1",
                                 expectation="two reads of the first page alike (catalogue not changing)",
                                 until=same_catalogue, timeout=5)
    assert shifted["offset"] == 1, shifted
    assert shifted["items"] == first["items"][1:3], f"offset=1 gave {shifted['items']}, page 0 was {first['items']}"


def test_offset_past_the_end_is_an_empty_page(api: httpx.Client, openapi: OpenApi, three: list[dict[str, Any]]) -> None:
    total = page(api, openapi, limit=1)["total"]
    body = page(api, openapi, offset=total + 10_000)
    assert body["items"] == [] and body["offset"] == total + 10_000, body
    assert body["total"] >= len(three), body


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
]


@pytest.mark.parametrize(("params", "expected"), INVALID, ids=[str(p) for p, _ in INVALID])
def test_bad_parameter_is_422_naming_it(api: httpx.Client, openapi: OpenApi, params: dict[str, Any],
                                        expected: set[str]) -> None:
    response = api.get(PRODUCTS, params=params)
    assert response.status_code == 422, describe(response)
    body = openapi.conforms(response, PRODUCTS)
    assert body["error"] == "validation_error", body
    assert {entry["field"] for entry in body["fields"]} == expected, describe(response)
