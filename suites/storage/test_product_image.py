"""A product image through the API lands in the bucket as sent, and comes back as sent.

The image goes in and out through the gateway; the bucket is read directly, so the test
sees what the backend stored rather than what it says it stored.
"""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from minio import Minio

from fixtures.clients import objectstore
from fixtures.clients.http import service_client
from fixtures.stack import Stack
from suites.storage.checks import refused, sha256

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def gateway(stack: Stack) -> Iterator[httpx.Client]:
    with service_client(stack, "gateway") as http:
        yield http


@pytest.fixture
def product(gateway: httpx.Client, store: Minio, bucket: str) -> Iterator[dict[str, Any]]:
    """A product of this test's own; afterwards it is deleted and every version of its image purged."""
    response = gateway.post("/api/products", json={"name": f"storage image {uuid.uuid4()}", "price": 1})
    assert response.status_code == 201, f"create product: {response.status_code} {response.text[:300]}"
    created: dict[str, Any] = response.json()
    yield created
    deleted = gateway.delete(f"/api/products/{created['id']}")
    leftovers = objectstore.purge(store, bucket, f"products/{created['id']}/")
    assert deleted.status_code in {204, 404}, f"delete product: {deleted.status_code} {deleted.text[:300]}"
    assert not leftovers, f"could not purge the image of {created['id']}: {leftovers}"


def test_image_round_trip_through_the_api(gateway: httpx.Client, store: Minio, bucket: str,
                                          product: dict[str, Any]) -> None:
    data = PNG + os.urandom(300 * 1024)
    url = f"/api/products/{product['id']}/image"
    stored = gateway.put(url, content=data, headers={"content-type": "image/png"})
    assert stored.status_code == 200, f"PUT {url}: {stored.status_code} {stored.text[:300]}"
    image = stored.json()["image"]
    md5 = hashlib.md5(data).hexdigest()
    assert image == {"content_type": "image/png", "size": len(data), "etag": md5, "sha256": sha256(data)}, image

    back = gateway.get(url)
    assert back.status_code == 200, f"GET {url}: {back.status_code} {back.text[:300]}"
    assert sha256(back.content) == sha256(data), f"GET {url}: {len(back.content)} bytes, not the {len(data)} sent"
    headers = {name: back.headers.get(name) for name in ("content-type", "etag", "x-checksum-sha256")}
    assert headers == {"content-type": "image/png", "etag": f'"{md5}"', "x-checksum-sha256": sha256(data)}, headers

    key = f"products/{product['id']}/image"
    stat = store.stat_object(bucket, key)
    assert (stat.size, stat.etag, stat.content_type) == (len(data), md5, "image/png"), \
        f"{bucket}/{key}: size {stat.size}, etag {stat.etag}, type {stat.content_type}"
    metadata = {name.lower(): value for name, value in (stat.metadata or {}).items()}
    assert metadata.get("x-amz-meta-sha256") == sha256(data), f"{bucket}/{key} metadata {metadata}"
    with store.get_object(bucket, key) as response:
        assert sha256(response.read()) == sha256(data), f"{bucket}/{key} holds other bytes than were sent"


def test_deleting_the_product_removes_its_image(gateway: httpx.Client, store: Minio, bucket: str,
                                                product: dict[str, Any]) -> None:
    url = f"/api/products/{product['id']}"
    stored = gateway.put(f"{url}/image", content=PNG + os.urandom(1024), headers={"content-type": "image/png"})
    assert stored.status_code == 200, f"PUT {url}/image: {stored.status_code} {stored.text[:300]}"
    deleted = gateway.delete(url)
    assert deleted.status_code == 204, f"DELETE {url}: {deleted.status_code} {deleted.text[:300]}"
    key = f"products/{product['id']}/image"
    refused(lambda: store.stat_object(bucket, key), {"NoSuchKey"}, f"{bucket}/{key} after its product was deleted")
