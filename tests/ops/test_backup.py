"""Backup and restore round trip against the real MongoDB- and S3-role servers."""

from __future__ import annotations

import hashlib
import os
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128
from minio import Minio
from pymongo import MongoClient

from harness.servers import MongoServer, ObjectStore
from ops.backup import Target, backup, reset, restore

pytestmark = pytest.mark.servers


@pytest.fixture
def target(fresh_mongo_server: MongoServer, object_store: ObjectStore) -> Target:
    objects = Minio(object_store.endpoint, object_store.access_key, object_store.secret_key, secure=False)
    bucket = f"backup-{os.urandom(4).hex()}"
    objects.make_bucket(bucket)
    return Target(fresh_mongo_server.app_uri, fresh_mongo_server.database, objects, bucket)


def seed(target: Target) -> tuple[list[dict[str, Any]], dict[str, str]]:
    with fresh_client(target) as client:
        products = client[target.database].products
        products.create_index("sku", unique=True, sparse=True, name="sku_unique")
        products.insert_many([{"name": f"p{n}", "price": Decimal128(f"{n}.99"), "sku": f"S{n}"} for n in range(50)])
        docs = list(products.find().sort("_id", 1))
    sums = {}
    for n in range(3):
        data = os.urandom(10_000 + n)
        key = f"products/{n}/image"
        target.objects.put_object(target.bucket, key, BytesIO(data), len(data), content_type="image/png",
                                  metadata={"sha256": hashlib.sha256(data).hexdigest()})
        sums[key] = hashlib.sha256(data).hexdigest()
    return docs, sums


def fresh_client(target: Target) -> MongoClient[dict[str, Any]]:
    return MongoClient(target.mongo_uri, serverSelectionTimeoutMS=5000)


def test_round_trip(target: Target, tmp_path: Path) -> None:
    docs, sums = seed(target)
    manifest = backup(target, tmp_path / "b1")
    assert manifest["collections"]["products"] == {"documents": 50, "indexes": 1}
    assert {k: v["sha256"] for k, v in manifest["objects"].items()} == sums

    reset(target)
    with fresh_client(target) as client:
        assert client[target.database].products.count_documents({}) == 0
    assert list(target.objects.list_objects(target.bucket, recursive=True)) == []

    restore(target, tmp_path / "b1")
    with fresh_client(target) as client:
        products = client[target.database].products
        assert list(products.find().sort("_id", 1)) == docs
        assert "sku_unique" in products.index_information()
    for key, digest in sums.items():
        response = target.objects.get_object(target.bucket, key)
        assert hashlib.sha256(response.read()).hexdigest() == digest
        response.close()
        response.release_conn()


def test_restore_replaces_what_came_after(target: Target, tmp_path: Path) -> None:
    seed(target)
    backup(target, tmp_path / "b2")
    with fresh_client(target) as client:
        client[target.database].products.insert_one({"name": "after the backup"})
        client[target.database].orders.insert_one({"new": "collection"})
    target.objects.put_object(target.bucket, "stray", BytesIO(b"x"), 1)
    restore(target, tmp_path / "b2")
    with fresh_client(target) as client:
        assert client[target.database].products.count_documents({"name": "after the backup"}) == 0
        assert client[target.database].orders.count_documents({}) == 0
    assert "stray" not in {o.object_name for o in target.objects.list_objects(target.bucket, recursive=True)}
