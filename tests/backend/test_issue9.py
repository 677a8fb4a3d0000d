"""Regressions for the fuzzer's findings (issue 9): the document and the validation agree."""

from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.servers


def test_offset_past_the_documented_maximum_is_422_not_500(backend: TestClient) -> None:
    response = backend.get("/api/products", params={"offset": "2853471827080525480198144"})
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "offset"
    maximum = backend.get("/api/openapi.json").json()["paths"]["/api/products"]["get"]["parameters"][1]["schema"]["maximum"]
    assert backend.get("/api/products", params={"offset": maximum}).status_code == 200
    assert backend.get("/api/products", params={"offset": maximum + 1}).status_code == 422


@pytest.mark.parametrize("raw", ["+1", " 1", "1_0", "\u0661"])
def test_query_integers_are_ascii_digits_only(backend: TestClient, raw: str) -> None:
    assert backend.get("/api/products", params={"limit": raw}).status_code == 422


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/products", "GET, HEAD, POST, OPTIONS"),
    ("/api/products/{id}", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
    ("/api/products/{id}/image", "GET, HEAD, PUT, OPTIONS"),
])
def test_allow_lists_every_method_of_the_path(backend: TestClient, path: str, allow: str) -> None:
    url = path.format(id="0" * 24)
    refused = backend.request("TRACE", url)
    assert refused.status_code == 405 and refused.headers["allow"] == allow, refused.headers
    options = backend.options(url)
    assert options.status_code == 204 and options.headers["allow"] == allow, options.headers


@pytest.mark.parametrize("body", [
    {"name": "a", "price": 999999999999.99},
    {"name": "a", "price": 0.07, "stock": 2147483648.0},
])
def test_schema_valid_bodies_are_accepted(backend: TestClient, body: dict[str, Any]) -> None:
    assert backend.post("/api/products", json=body).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "a", "price": 1e12}, "price"),
    ({"name": "a", "price": "1"}, "price"),
    ({"name": " a", "price": 1}, "name"),
    ({"name": "a", "price": 1, "stock": 1.5}, "stock"),
])
def test_schema_invalid_bodies_are_422_naming_the_field(backend: TestClient, body: dict[str, Any], field: str) -> None:
    response = backend.post("/api/products", json=body)
    assert response.status_code == 422 and {e["field"] for e in response.json()["fields"]} == {field}, response.text


def test_lone_surrogate_is_400_not_500(backend: TestClient) -> None:
    response = backend.post("/api/products", content=b'{"\\ud800": 1}', headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


def test_document_lists_the_gateway_answers_and_fault_routes_only_when_on(backend: TestClient) -> None:
    spec = backend.get("/api/openapi.json").json()
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                assert {"502", "504"} <= set(operation["responses"]), operation
    assert "/api/debug/slow" in spec["paths"]
    from services.backend import openapi
    assert not any(p.startswith("/api/debug") for p in openapi.build(False)["paths"])
