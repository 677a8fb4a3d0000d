"""GET /api/products?sku= and ?sku_prefix= (issue 10): a listing narrowed through the sku
index, its total counted with the same filter, bad values a 422 naming the parameter."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from starlette.testclient import TestClient

from services.backend import openapi
from services.backend.store import prefix_range, sku_filter
from suites.fuzz import driver

pytestmark = pytest.mark.servers

SKUS = ["CUP-1", "CUP-2", "CUP-20", "CUQ-1", "CUP", "CU", "cup-1", "CUP-\U0010ffff", "CUP\U0010ffff-9"]


def seed(client: TestClient, skus: list[str]) -> dict[str, str]:
    ids = {}
    for sku in skus:
        response = client.post("/api/products", json={"name": f"product {sku}", "price": 1, "sku": sku})
        assert response.status_code == 201, response.text
        ids[sku] = response.json()["id"]
    return ids


def listed(client: TestClient, **params: Any) -> tuple[list[str | None], int]:
    response = client.get("/api/products", params=params)
    assert response.status_code == 200, response.text
    body = response.json()
    return [item["sku"] for item in body["items"]], body["total"]


@pytest.mark.parametrize("prefix", ["CUP-", "CUP", "CU", "C", "CUP-2", "cup", "CUP-\U0010ffff", "CUP\U0010ffff", "X"])
def test_prefix_lists_exactly_the_skus_that_start_with_it(backend: TestClient, prefix: str) -> None:
    seed(backend, SKUS)
    backend.post("/api/products", json={"name": "no sku", "price": 1})
    expected = [sku for sku in SKUS if sku.startswith(prefix)]  # creation order: oldest first
    assert listed(backend, sku_prefix=prefix, limit=100) == (expected, len(expected))


def test_sku_lists_the_one_product(backend: TestClient) -> None:
    ids = seed(backend, SKUS)
    response = backend.get("/api/products", params={"sku": "CUP-2"})
    assert [item["id"] for item in response.json()["items"]] == [ids["CUP-2"]]
    assert response.json()["total"] == 1
    assert listed(backend, sku="CUP-3") == ([], 0)
    assert listed(backend, sku="cup-2") == ([], 0)  # exact: case counts


def test_sku_and_prefix_together_must_both_hold(backend: TestClient) -> None:
    seed(backend, SKUS)
    assert listed(backend, sku="CUP-20", sku_prefix="CUP-2") == (["CUP-20"], 1)
    assert listed(backend, sku="CUP-20", sku_prefix="CUQ") == ([], 0)


def test_limit_and_offset_page_within_the_filter(backend: TestClient) -> None:
    seed(backend, ["OTHER-1"])
    ours = [f"PAGE-{n:02d}" for n in range(7)]
    seed(backend, ours)
    seed(backend, ["OTHER-2"])
    pages = [listed(backend, sku_prefix="PAGE-", limit=3, offset=offset) for offset in (0, 3, 6, 9)]
    assert [skus for skus, _ in pages] == [ours[0:3], ours[3:6], ours[6:7], []]
    assert {total for _, total in pages} == {7}
    body = backend.get("/api/products", params={"sku_prefix": "PAGE-", "limit": 2, "offset": 1}).json()
    assert (body["limit"], body["offset"], [item["sku"] for item in body["items"]]) == (2, 1, ours[1:3])


def test_the_unfiltered_listing_is_unchanged(backend: TestClient) -> None:
    seed(backend, ["A-1", "B-1"])
    backend.post("/api/products", json={"name": "no sku", "price": 1})
    assert listed(backend) == (["A-1", "B-1", None], 3)


@pytest.mark.parametrize(("params", "fields"), [
    ({"sku": ""}, {"sku"}),
    ({"sku": " CUP"}, {"sku"}),
    ({"sku": "CUP "}, {"sku"}),
    ({"sku": "CUP\n"}, {"sku"}),
    ({"sku": "C\tP"}, {"sku"}),
    ({"sku": "x" * 65}, {"sku"}),
    ({"sku_prefix": ""}, {"sku_prefix"}),
    ({"sku_prefix": " CUP"}, {"sku_prefix"}),
    ({"sku_prefix": "CUP\x00"}, {"sku_prefix"}),
    ({"sku_prefix": "CUP\n"}, {"sku_prefix"}),
    ({"sku_prefix": "x" * 65}, {"sku_prefix"}),
    ({"sku": "", "sku_prefix": "", "limit": 0}, {"sku", "sku_prefix", "limit"}),
])
def test_bad_filter_is_422_naming_it(backend: TestClient, params: dict[str, str], fields: set[str]) -> None:
    response = backend.get("/api/products", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation_error"
    assert {entry["field"] for entry in body["fields"]} == fields, body


def test_a_prefix_may_end_in_a_space(backend: TestClient) -> None:
    seed(backend, ["CUP 01", "CUP01"])
    assert listed(backend, sku_prefix="CUP ") == (["CUP 01"], 1)
    assert listed(backend, sku_prefix="x" * 64) == ([], 0)


def test_name_ending_in_a_newline_is_refused(backend: TestClient) -> None:
    # re.match's `$` matched before a final newline: "A\n" was stored though the document forbids it.
    response = backend.post("/api/products", json={"name": "A\n", "price": 1, "sku": "NL\n"})
    assert response.status_code == 422, response.text
    assert {entry["field"] for entry in response.json()["fields"]} == {"name", "sku"}


@pytest.mark.parametrize(("prefix", "expected"), [
    ("CUP-", {"$gte": "CUP-", "$lt": "CUP."}),
    ("a\U0010ffff", {"$gte": "a\U0010ffff", "$lt": "b"}),
    ("\U0010ffff\U0010ffff", {"$gte": "\U0010ffff\U0010ffff"}),
    ("a\ud7ff", {"$gte": "a\ud7ff", "$lt": "a\ue000"}),  # past the surrogates, which are not characters
])
def test_prefix_range(prefix: str, expected: dict[str, str]) -> None:
    assert prefix_range(prefix) == expected


def test_sku_filter_shapes() -> None:
    assert sku_filter(None, None) == {}
    assert sku_filter("A-1", None) == {"sku": "A-1"}
    assert sku_filter("A-1", "A-") == {"sku": "A-1"}
    assert sku_filter("A-1", "B-") is None
    assert sku_filter(None, "A-") == {"sku": {"$gte": "A-", "$lt": "A."}}


@pytest.mark.parametrize(("label", "query", "expected"), [
    ("GET /api/products", {"limit": 3}, {"limit": 3, "sku_prefix": driver.LISTING_SCOPE}),
    ("GET /api/products", {}, {"sku_prefix": driver.LISTING_SCOPE}),
    ("GET /api/products", {"sku": "A-1"}, {"sku": "A-1"}),
    ("GET /api/products", {"sku_prefix": ""}, {"sku_prefix": ""}),  # a generated (invalid) filter stays
    ("POST /api/products", {}, {}),
])
def test_fuzzed_listings_without_a_filter_are_scoped(label: str, query: dict[str, Any], expected: dict[str, Any]) -> None:
    schema = schemathesis.openapi.from_dict(openapi.build(False))
    operation = schema.find_operation_by_label(label)
    assert operation is not None
    case = operation.Case(query=dict(query))
    driver.scope_listing(case)
    assert case.query == expected
