"""Product images through the real S3-role server (SeaweedFS)."""

from __future__ import annotations

import hashlib
import os

import pytest
from starlette.testclient import TestClient

pytestmark = pytest.mark.servers

PNG = b"\x89PNG\r\n\x1a\n" + os.urandom(300 * 1024)
JPEG = b"\xff\xd8\xff\xe0" + os.urandom(1024)
WEBP = b"RIFF\x00\x00\x00\x00WEBPVP8 " + os.urandom(1024)


def product_id(backend: TestClient) -> str:
    response = backend.post("/api/products", json={"name": "With image", "price": 5})
    assert response.status_code == 201
    return str(response.json()["id"])


@pytest.mark.parametrize(("content_type", "data"), [("image/png", PNG), ("image/jpeg", JPEG), ("image/webp", WEBP)])
def test_round_trip_with_checksum(backend: TestClient, content_type: str, data: bytes) -> None:
    pid = product_id(backend)
    stored = backend.put(f"/api/products/{pid}/image", content=data, headers={"content-type": content_type})
    assert stored.status_code == 200, stored.text
    image = stored.json()["image"]
    assert image["sha256"] == hashlib.sha256(data).hexdigest()
    assert image["size"] == len(data)

    fetched = backend.get(f"/api/products/{pid}/image")
    assert fetched.status_code == 200
    assert fetched.content == data
    assert fetched.headers["content-type"] == content_type
    assert fetched.headers["x-checksum-sha256"] == image["sha256"]
    assert fetched.headers["etag"] == f'"{image["etag"]}"'


def test_replacing_an_image_changes_its_etag(backend: TestClient) -> None:
    pid = product_id(backend)
    first = backend.put(f"/api/products/{pid}/image", content=PNG, headers={"content-type": "image/png"}).json()
    second = backend.put(f"/api/products/{pid}/image", content=JPEG, headers={"content-type": "image/jpeg"}).json()
    assert first["image"]["etag"] != second["image"]["etag"]
    assert backend.get(f"/api/products/{pid}/image").content == JPEG


def test_unsupported_type_is_415(backend: TestClient) -> None:
    pid = product_id(backend)
    response = backend.put(f"/api/products/{pid}/image", content=b"GIF89a", headers={"content-type": "image/gif"})
    assert response.status_code == 415


def test_content_that_is_not_the_declared_type_is_422(backend: TestClient) -> None:
    pid = product_id(backend)
    response = backend.put(f"/api/products/{pid}/image", content=JPEG, headers={"content-type": "image/png"})
    assert response.status_code == 422
    assert response.json()["fields"][0]["field"] == "body"


def test_image_over_the_limit_is_413(backend: TestClient) -> None:
    pid = product_id(backend)
    big = b"\x89PNG\r\n\x1a\n" + b"\0" * (5 * 1024 * 1024)
    assert backend.put(f"/api/products/{pid}/image", content=big, headers={"content-type": "image/png"}).status_code == 413


def test_image_of_unknown_product_is_404(backend: TestClient) -> None:
    missing = "0123456789abcdef01234567"
    assert backend.put(f"/api/products/{missing}/image", content=PNG, headers={"content-type": "image/png"}).status_code == 404
    assert backend.get(f"/api/products/{missing}/image").status_code == 404
    assert backend.get(f"/api/products/{product_id(backend)}/image").status_code == 404


def test_deleting_the_product_deletes_the_object(backend: TestClient) -> None:
    pid = product_id(backend)
    backend.put(f"/api/products/{pid}/image", content=PNG, headers={"content-type": "image/png"})
    assert backend.delete(f"/api/products/{pid}").status_code == 204
    assert backend.get(f"/api/products/{pid}/image").status_code == 404
