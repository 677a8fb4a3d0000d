"""Products CRUD against a real MongoDB-role server (SecantusDB)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import jsonschema
import pytest
from bson import ObjectId
from starlette.testclient import TestClient

pytestmark = pytest.mark.servers

VALID = {"name": "Test Product", "price": 99.99, "sku": "SKU-1", "stock": 3}


def create(client: TestClient, **fields: Any) -> dict[str, Any]:
    response = client.post("/api/products", json={**VALID, **fields})
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


def fields_named(response: Any) -> set[str]:
    assert response.status_code == 422, response.text
    return {error["field"] for error in response.json()["fields"]}


def test_create_read_update_delete(backend: TestClient) -> None:
    created = create(backend)
    assert created["name"] == "Test Product" and created["price"] == 99.99 and created["stock"] == 3
    assert created["created_at"] == created["updated_at"]
    url = f"/api/products/{created['id']}"
    assert backend.get(url).json() == created

    replaced = backend.put(url, json={"name": "Renamed", "price": 10})
    assert replaced.status_code == 200
    assert replaced.json()["sku"] is None and replaced.json()["stock"] == 0 and replaced.json()["price"] == 10.0

    patched = backend.patch(url, json={"stock": 7})
    assert patched.status_code == 200
    assert patched.json()["stock"] == 7 and patched.json()["name"] == "Renamed"
    assert patched.json()["updated_at"] >= created["updated_at"]

    assert backend.delete(url).status_code == 204
    assert backend.get(url).status_code == 404
    assert backend.delete(url).status_code == 404


def test_created_product_has_a_location(backend: TestClient) -> None:
    response = backend.post("/api/products", json={"name": "A", "price": 1})
    assert response.headers["location"] == f"/api/products/{response.json()['id']}"


def test_price_keeps_two_decimals(backend: TestClient) -> None:
    assert create(backend, sku=None, price=0.1)["price"] == 0.1
    assert create(backend, sku=None, price=19.9)["price"] == 19.9
    assert create(backend, sku=None, price=0)["price"] == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price": 1}, "name"),
        ({"name": "", "price": 1}, "name"),
        ({"name": "   ", "price": 1}, "name"),
        ({"name": "x" * 201, "price": 1}, "name"),
        ({"name": 5, "price": 1}, "name"),
        ({"name": "A"}, "price"),
        ({"name": "A", "price": -0.01}, "price"),
        ({"name": "A", "price": 1.234}, "price"),
        ({"name": "A", "price": "9.99"}, "price"),
        ({"name": "A", "price": True}, "price"),
        ({"name": "A", "price": 1, "stock": -1}, "stock"),
        ({"name": "A", "price": 1, "stock": 1.5}, "stock"),
        ({"name": "A", "price": 1, "stock": "3"}, "stock"),
        ({"name": "A", "price": 1, "stock": 2**63}, "stock"),
        ({"name": "A", "price": 1, "sku": ""}, "sku"),
        ({"name": "A", "price": 1, "colour": "red"}, "colour"),
        ([{"name": "A", "price": 1}], "body"),
    ],
)
def test_invalid_field_is_named(backend: TestClient, body: Any, field: str) -> None:
    assert field in fields_named(backend.post("/api/products", json=body))


def test_every_offending_field_is_named_at_once(backend: TestClient) -> None:
    response = backend.post("/api/products", json={"name": "", "price": -1, "stock": -1, "extra": 1})
    assert fields_named(response) == {"name", "price", "stock", "extra"}
    assert response.json()["request_id"] == response.headers["x-request-id"]


def test_name_of_200_characters_is_accepted(backend: TestClient) -> None:
    assert create(backend, name="x" * 200, sku=None)["name"] == "x" * 200


def test_non_json_is_415(backend: TestClient) -> None:
    response = backend.post("/api/products", content=b"name=A", headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code == 415
    assert response.json()["error"] == "unsupported_media_type"
    assert backend.post("/api/products", content=b"{}").status_code == 415


def test_malformed_json_is_400(backend: TestClient) -> None:
    response = backend.post("/api/products", content=b'{"name": ', headers={"content-type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"] == "malformed_json"


def test_body_over_a_mebibyte_is_413(backend: TestClient) -> None:
    big = b'{"name": "' + b"x" * (1024 * 1024) + b'", "price": 1}'
    response = backend.post("/api/products", content=big, headers={"content-type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize("product_id", ["0123456789abcdef01234567", "not-an-id", "123"])
@pytest.mark.parametrize("method", ["get", "put", "patch", "delete"])
def test_unknown_or_malformed_id_is_404(backend: TestClient, product_id: str, method: str) -> None:
    kwargs = {"json": VALID} if method in {"put", "patch"} else {}
    response = getattr(backend, method)(f"/api/products/{product_id}", **kwargs)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "not_found"


def test_duplicate_sku_is_409(backend: TestClient) -> None:
    create(backend, sku="DUP")
    response = backend.post("/api/products", json={**VALID, "sku": "DUP"})
    assert response.status_code == 409
    assert response.json()["field"] == "sku"


def test_changing_to_a_taken_sku_is_409(backend: TestClient) -> None:
    create(backend, sku="TAKEN")
    other = create(backend, sku="FREE")
    assert backend.patch(f"/api/products/{other['id']}", json={"sku": "TAKEN"}).status_code == 409
    assert backend.put(f"/api/products/{other['id']}", json={**VALID, "sku": "TAKEN"}).status_code == 409


def test_products_without_sku_do_not_conflict(backend: TestClient) -> None:
    create(backend, sku=None)
    create(backend, sku=None)


def test_patch_rules(backend: TestClient) -> None:
    url = f"/api/products/{create(backend)['id']}"
    assert "body" in fields_named(backend.patch(url, json={}))
    assert "price" in fields_named(backend.patch(url, json={"price": None}))
    assert backend.patch(url, json={"sku": None}).json()["sku"] is None


def test_pagination(backend: TestClient) -> None:
    ids = [create(backend, name=f"P{n}", sku=f"S{n}")["id"] for n in range(5)]
    page = backend.get("/api/products", params={"limit": 2, "offset": 1}).json()
    assert [item["id"] for item in page["items"]] == ids[1:3]
    assert (page["total"], page["limit"], page["offset"]) == (5, 2, 1)
    assert backend.get("/api/products").json()["limit"] == 20
    assert backend.get("/api/products", params={"offset": 10}).json()["items"] == []
    assert len(backend.get("/api/products", params={"limit": 100}).json()["items"]) == 5


def test_listing_is_oldest_first_whichever_process_made_the_id(backend: TestClient, products: Any) -> None:
    """Two backend replicas make ObjectIds with different random middles: within one second
    an older product can have the larger id. The listing follows created_at, not the id."""
    created = datetime(2026, 1, 2, 3, 4, 5, 100000)
    second = int(created.replace(tzinfo=UTC).timestamp()).to_bytes(4, "big")
    older, newer = ObjectId(second + b"\xff" * 8), ObjectId(second + b"\x00" * 8)  # replica B's id > replica A's
    for oid, name, at in ((older, "older", created), (newer, "newer", created + timedelta(milliseconds=5))):
        products.insert_one({"_id": oid, "name": name, "price": 1.0, "sku": f"ORDER-{name}", "stock": 0,
                             "created_at": at, "updated_at": at})
    listed = backend.get("/api/products", params={"sku_prefix": "ORDER-"}).json()["items"]
    assert [item["name"] for item in listed] == ["older", "newer"], listed


@pytest.mark.parametrize(("params", "field"), [
    ({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"limit": "ten"}, "limit"),
    ({"offset": -1}, "offset"), ({"offset": "x"}, "offset"),
])
def test_pagination_bounds(backend: TestClient, params: dict[str, Any], field: str) -> None:
    assert field in fields_named(backend.get("/api/products", params=params))


def test_openapi_describes_every_route(backend: TestClient) -> None:
    spec = backend.get("/api/openapi.json").json()
    for route in backend.app.routes:  # type: ignore[attr-defined]
        if route.path == "/metrics":
            continue  # not under /api: scraped inside the network, never through the gateway
        assert route.path in spec["paths"], f"{route.path} missing from the OpenAPI document"
        for method in route.endpoint.methods - {"HEAD"}:
            assert method.lower() in spec["paths"][route.path], f"{method} {route.path} undocumented"


def test_responses_match_the_openapi_schemas(backend: TestClient) -> None:
    spec = backend.get("/api/openapi.json").json()
    resolver = {"components": spec["components"]}

    def check(body: Any, name: str) -> None:
        jsonschema.validate(body, {"$ref": f"#/components/schemas/{name}", **resolver})

    created = create(backend)
    check(created, "Product")
    check(backend.get("/api/products").json(), "ProductPage")
    check(backend.get("/api/products/nope").json(), "ErrorBody")
    check(backend.post("/api/products", json={}).json(), "ErrorBody")
