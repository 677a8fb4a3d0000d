"""Products CRUD through the gateway: each verb's status, headers and body."""

from __future__ import annotations

import httpx

from suites.contract.catalogue import PRODUCT, PRODUCTS, Catalogue, listing, page
from suites.contract.schema import OpenApi, describe


def test_create_answers_201_with_location_of_the_product(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    fields = catalogue.fields(price=19.99, stock=7)
    response = api.post(PRODUCTS, json=fields)
    assert response.status_code == 201, describe(response)
    product = openapi.conforms(response, PRODUCTS)
    catalogue.track(product["id"])
    assert response.headers.get("location") == f"/api/products/{product['id']}", f"Location: {response.headers}"
    assert {key: product[key] for key in fields} == fields, f"created {product}, sent {fields}"
    assert product["created_at"] == product["updated_at"], product

    fetched = api.get(response.headers["location"])
    assert fetched.status_code == 200, describe(fetched)
    assert openapi.conforms(fetched, PRODUCT) == product


def test_create_fills_defaults(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    created = api.post(PRODUCTS, json={"name": catalogue.fields()["name"], "price": 0})
    assert created.status_code == 201, describe(created)
    product = openapi.conforms(created, PRODUCTS)
    catalogue.track(product["id"])
    assert (product["sku"], product["stock"], product["price"]) == (None, 0, 0), product
    assert "image" not in product or product["image"] is None, product


def test_list_contains_the_created_product(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    product = catalogue.create()
    # Its neighbours in sku order, just outside the prefix on either side: a filter that
    # reads one string too far (or too short) lists them.
    stem, last = catalogue.prefix[:-1], catalogue.prefix[-1]
    for sku in (stem, stem + chr(ord(last) + 1) + "0", stem + chr(ord(last) - 1) + "z"):
        catalogue.create(sku=sku)
    assert listing(api, openapi, catalogue.prefix) == [product["id"]], f"sku_prefix={catalogue.prefix!r}"

    by_sku = page(api, openapi, sku=product["sku"])
    assert (by_sku["items"], by_sku["total"]) == ([product], 1), f"sku={product['sku']!r}: {by_sku}"


def test_put_replaces_the_whole_product(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    original = catalogue.create(stock=9)
    replacement = {"name": catalogue.fields()["name"], "price": 5.5}
    response = api.put(PRODUCT.format(id=original["id"]), json=replacement)
    assert response.status_code == 200, describe(response)
    replaced = openapi.conforms(response, PRODUCT)
    # Fields left out take their defaults, as the document says; identity and creation stay.
    expected = {**original, **replacement, "sku": None, "stock": 0, "updated_at": replaced["updated_at"]}
    assert replaced == expected, f"PUT answered {replaced}, expected {expected}"
    assert replaced["updated_at"] >= original["updated_at"], replaced
    assert catalogue.get(original["id"]) == replaced


def test_patch_changes_only_the_given_fields(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    original = catalogue.create()
    url = PRODUCT.format(id=original["id"])
    response = api.patch(url, json={"price": 0.01})
    assert response.status_code == 200, describe(response)
    patched = openapi.conforms(response, PRODUCT)
    assert patched == {**original, "price": 0.01, "updated_at": patched["updated_at"]}, patched

    response = api.patch(url, json={"sku": None})  # documented: null removes the SKU
    assert response.status_code == 200, describe(response)
    assert openapi.conforms(response, PRODUCT)["sku"] is None
    assert catalogue.get(original["id"])["sku"] is None


def test_delete_answers_204_then_the_product_is_gone(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    product = catalogue.create()
    url = PRODUCT.format(id=product["id"])
    response = api.delete(url)
    assert response.status_code == 204, describe(response)
    assert response.content == b"", f"204 with a body: {response.content[:200]!r}"
    openapi.conforms(response, PRODUCT)

    for after in (api.get(url), api.delete(url), api.patch(url, json={"stock": 1}),
                  api.put(url, json={"name": "gone", "price": 1})):
        assert after.status_code == 404, f"after DELETE: {describe(after)}"
        assert openapi.conforms(after, PRODUCT)["error"] == "not_found"
