"""The products API answers the same bytes as the serialisation it had before issue 12 made
reading cheaper: every field shape the store can hold, through the list and item routes.

The reference below is that serialisation, frozen: documents decoded by pymongo's defaults
(tz-aware datetimes, Decimal128), each turned into the API's dict by the old ``to_api`` and
rendered as Starlette's ``JSONResponse`` renders. The backend must answer byte for byte what
it gives for the same documents, read straight from the database.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from bson import CodecOptions, Decimal128, ObjectId
from starlette.testclient import TestClient

from services.backend.store import LISTING_ORDER

pytestmark = pytest.mark.servers

JAN = datetime(2026, 1, 31, 23, 59, 59, 999000, tzinfo=UTC)


def as_stored(products: Any) -> Any:
    """The collection read as the backend reads it: datetimes tz-aware."""
    return products.with_options(codec_options=CodecOptions(tz_aware=True))


def reference_product(doc: dict[str, Any]) -> dict[str, Any]:
    """The old ``to_api``: float(Decimal) of the price, isoformat of each datetime."""
    def iso(value: datetime) -> str:
        return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")

    price = doc["price"]
    out = {
        "id": str(doc["_id"]),
        "name": doc["name"],
        "price": float(price.to_decimal()) if isinstance(price, Decimal128) else float(Decimal(str(price))),
        "sku": doc.get("sku"),
        "stock": doc.get("stock", 0),
        "created_at": iso(doc["created_at"]),
        "updated_at": iso(doc["updated_at"]),
    }
    if doc.get("image"):
        out["image"] = doc["image"]
    return out


def reference_bytes(content: Any) -> bytes:
    """Starlette's JSONResponse.render."""
    return json.dumps(content, ensure_ascii=False, allow_nan=False, indent=None, separators=(",", ":")).encode("utf-8")


IMAGE = {"content_type": "image/png", "size": 1234, "etag": "0f343b0931126a20f133d67c2b018a3b",
         "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"}


def shapes() -> list[dict[str, Any]]:
    """One document per shape the store can hold: what the API writes, what bench.seed
    writes, and older shapes ``to_api`` still reads (plain numbers, no stock)."""
    names = ["plain", "Ünïcödé naïve café", "雨の日の傘 ☂", "emoji 🛒🧪 and 𝔘𝔫𝔦", "quote \" and \\ backslash",
             "del \x7f and c1 \x85 \u2028 \u2029 end", "e\u0301 combining", "x" * 200, "<script>&amp;</script>", "tab\tin"]
    prices = ["19.90", "0.00", "10.00", "0.01", "999999999999.99", "9.99", "0.10", "1234.50", "7", "1E+2",
              "100.0", "0.30000000000000004", "123456789012.34", "5.00", "0.05"]
    docs: list[dict[str, Any]] = []
    for n, price in enumerate(prices):
        created = JAN + timedelta(days=n * 37, milliseconds=n * 7)
        doc: dict[str, Any] = {"_id": ObjectId(f"{0x6a000000 + n:08x}{n:016x}"), "name": names[n % len(names)],
                               "price": Decimal128(price), "created_at": created,
                               "updated_at": created if n % 3 else created + timedelta(seconds=n, milliseconds=1)}
        if n % 4 != 1:
            doc["sku"] = f"SHAPE-{n:03d}" if n % 5 else f"Ü-SKU {n} ✓"
        if n % 6 != 2:
            doc["stock"] = [0, 1, 2**63 - 1, 42, 7][n % 5]
        if n % 5 == 3:
            doc["image"] = {**IMAGE, "size": n}
        elif n == 4:
            doc["image"] = None  # set_image(oid, None): no image
        docs.append(doc)
    base = len(docs)
    docs += [
        {"_id": ObjectId(f"{0x6a000000 + base:08x}{base:016x}"), "name": "float price", "price": 12.5,
         "created_at": datetime(1970, 1, 1, tzinfo=UTC), "updated_at": datetime(1969, 12, 31, 23, 59, 59, 1000, tzinfo=UTC)},
        {"_id": ObjectId(f"{0x6a000000 + base + 1:08x}{base + 1:016x}"), "name": "int price", "price": 3, "stock": 5,
         "sku": "SHAPE-int", "created_at": datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC),
         "updated_at": datetime(2099, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)},
        {"_id": ObjectId(f"{0x6a000000 + base + 2:08x}{base + 2:016x}"), "name": "year one", "price": Decimal128("1.00"),
         "created_at": datetime(1, 1, 1, tzinfo=UTC), "updated_at": datetime(9999, 12, 31, 23, 59, 59, 999000, tzinfo=UTC)},
    ]
    return docs


@pytest.fixture
def seeded(backend: TestClient, products: Any) -> list[dict[str, Any]]:
    products.insert_many(shapes())
    # Through the API too: what create writes (price quantized, now's milliseconds).
    for body in ({"name": "via api", "price": 19.9, "sku": "SHAPE-api", "stock": 3}, {"name": "api no sku", "price": 0}):
        assert backend.post("/api/products", json=body).status_code == 201
    # The listing's order (oldest first, then id), which is not what this test is about.
    return list(as_stored(products).find({}).sort(list(LISTING_ORDER)))


def expected_page(docs: list[dict[str, Any]], limit: int = 20, offset: int = 0, sku: str | None = None,
                  sku_prefix: str | None = None) -> bytes:
    def matches(doc: dict[str, Any]) -> bool:
        have = doc.get("sku")
        return (sku is None or have == sku) and (sku_prefix is None or (have is not None and have.startswith(sku_prefix)))

    chosen = [doc for doc in docs if matches(doc)]
    items = [reference_product(doc) for doc in chosen[offset:offset + limit]]
    return reference_bytes({"items": items, "total": len(chosen), "limit": limit, "offset": offset})


PAGES: list[dict[str, Any]] = [
    {}, {"limit": 1}, {"limit": 100}, {"offset": 5, "limit": 7}, {"offset": 17}, {"offset": 19, "limit": 1},
    {"offset": 20}, {"offset": 1000}, {"sku": "SHAPE-002"}, {"sku": "Ü-SKU 5 ✓"}, {"sku": "nope"},
    {"sku_prefix": "SHAPE-"}, {"sku_prefix": "SHAPE-0", "limit": 2, "offset": 1}, {"sku_prefix": "Ü"},
    {"sku": "SHAPE-003", "sku_prefix": "SHAPE"}, {"sku": "SHAPE-003", "sku_prefix": "X"},
]


@pytest.mark.parametrize("params", PAGES, ids=lambda p: ",".join(f"{k}={v}" for k, v in p.items()) or "default")
def test_list_answers_the_reference_bytes(backend: TestClient, seeded: list[dict[str, Any]], params: dict[str, Any]) -> None:
    response = backend.get("/api/products", params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    expected = expected_page(seeded, **params)
    assert response.content == expected, f"{params}:\n got      {response.content!r}\n expected {expected!r}"


def test_every_item_answers_the_reference_bytes(backend: TestClient, seeded: list[dict[str, Any]]) -> None:
    assert len(seeded) == len(shapes()) + 2
    for doc in seeded:
        response = backend.get(f"/api/products/{doc['_id']}")
        assert response.status_code == 200, response.text
        assert response.headers["content-type"] == "application/json"
        expected = reference_bytes(reference_product(doc))
        assert response.content == expected, f"\n got      {response.content!r}\n expected {expected!r}"


def test_writes_answer_what_a_read_answers(backend: TestClient, products: Any) -> None:
    created = backend.post("/api/products", json={"name": "Ünïcödé ☂", "price": 1234.5, "sku": "W-1", "stock": 2})
    assert created.status_code == 201
    url = f"/api/products/{created.json()['id']}"
    assert created.content == backend.get(url).content
    for method, body in (("put", {"name": "renamed", "price": 0.1}), ("patch", {"stock": 9, "sku": "W-2"})):
        changed = getattr(backend, method)(url, json=body)
        assert changed.status_code == 200
        assert changed.content == backend.get(url).content
        doc = as_stored(products).find_one({"_id": ObjectId(created.json()["id"])})
        assert changed.content == reference_bytes(reference_product(doc))
