"""Backup and restore round trip against the real MongoDB- and S3-role servers."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from bson import Decimal128
from minio import Minio
from pymongo import MongoClient

from harness.servers import MongoServer, ObjectStore
from ops.backup import (
    Remote,
    Scope,
    Target,
    backup,
    differences,
    download,
    expired,
    keep_setting,
    local_backups,
    next_run,
    parse_s3_url,
    prune_local,
    prune_remote,
    remote_backups,
    remote_from_env,
    reset,
    restore,
    run_backup,
    snapshot,
    upload,
)
from ops.status import backup_health as health

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


def scoped(target: Target, prefix: str, keys: list[str]) -> Target:
    scope = Scope({"products": {"sku": {"$gte": prefix, "$lt": prefix[:-1] + chr(ord(prefix[-1]) + 1)}}},
                  tuple(keys))
    return Target(target.mongo_uri, target.database, target.objects, target.bucket, scope)


def test_a_scoped_round_trip_touches_its_part_only(target: Target, tmp_path: Path) -> None:
    """Backup, wipe and restore of the products whose sku starts with S1 (and the objects under
    products/1/): the other products and objects stay as they were through all three."""
    seed(target)
    part = scoped(target, "S1", ["products/1/"])
    whole_before, part_before = snapshot(target), snapshot(part)
    assert len(part_before["mongo/products"]) == 11 and list(part_before["objects"]) == ["products/1/image"]
    manifest = backup(part, tmp_path / "b")
    assert manifest["collections"]["products"]["documents"] == 11 and list(manifest["objects"]) == ["products/1/image"]

    reset(part)
    assert snapshot(part) == {}, "the scoped wipe left its part"
    left = differences(whole_before, snapshot(target), limit=100)
    assert len(left) == 12 and all("missing" in line for line in left), f"the scoped wipe reached further: {left}"

    restore(target, tmp_path / "b")  # the manifest's scope governs, even on an unscoped target
    assert differences(whole_before, snapshot(target)) == []


def test_a_scoped_restore_refuses_another_scope(target: Target, tmp_path: Path) -> None:
    seed(target)
    backup(scoped(target, "S1", ["products/1/"]), tmp_path / "b")
    with pytest.raises(RuntimeError, match="scope"):
        restore(scoped(target, "S2", ["products/2/"]), tmp_path / "b")


# --- off the box: upload, download, keep the last N ------------------------------------------

def remote_env(object_store: ObjectStore, prefix: str = "nightly/stackproof", keep: int = 7) -> dict[str, str]:
    bucket = f"offsite-{os.urandom(4).hex()}"
    object_store.minio_client().make_bucket(bucket)
    return {"BACKUP_S3_URL": f"http://{object_store.endpoint}/{bucket}/{prefix}",
            "BACKUP_S3_ACCESS_KEY": object_store.access_key, "BACKUP_S3_SECRET_KEY": object_store.secret_key,
            "BACKUP_KEEP": str(keep)}


def remote(env: dict[str, str]) -> Remote:
    found = remote_from_env(env)
    assert found is not None
    return found


def test_expired_keeps_the_newest_n() -> None:
    names = ["20260101T000000Z", "20251231T235959Z", "20260103T020000Z", "20260102T023000Z", "notes", "latest"]
    assert expired(names, 2) == ["20251231T235959Z", "20260101T000000Z"]
    assert expired(names, 4) == []
    assert expired(names, 10) == []
    with pytest.raises(ValueError, match="at least 1"):
        expired(names, 0)


def test_s3_url_scheme_decides_tls() -> None:
    assert parse_s3_url("https://s3.eu-west-1.amazonaws.com/my-bucket/a/b/") == \
        ("s3.eu-west-1.amazonaws.com", True, "my-bucket", "a/b/")
    assert parse_s3_url("s3://s3.amazonaws.com/my-bucket") == ("s3.amazonaws.com", True, "my-bucket", "")
    assert parse_s3_url("http://127.0.0.1:9000/b") == ("127.0.0.1:9000", False, "b", "")
    for bad in ("ftp://host/b", "https://host", "my-bucket/prefix"):
        with pytest.raises(ValueError):
            parse_s3_url(bad)
    assert remote_from_env({}) is None
    with pytest.raises(ValueError, match="BACKUP_S3_SECRET_KEY"):
        remote_from_env({"BACKUP_S3_URL": "https://h/b", "BACKUP_S3_ACCESS_KEY": "k"})


def test_prune_local_keeps_the_last_n_complete_backups(tmp_path: Path) -> None:
    names = [f"2026010{day}T023000Z" for day in range(1, 6)]
    for name in names:
        (tmp_path / name).mkdir()
        (tmp_path / name / "manifest.json").write_text("{}")
    (tmp_path / "20250101T000000Z").mkdir()  # no manifest: an interrupted backup, not counted
    (tmp_path / "keep-me").mkdir()
    assert prune_local(tmp_path, 2) == names[:3]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["20250101T000000Z", *names[3:], "keep-me"]


def test_upload_download_restore(target: Target, object_store: ObjectStore, tmp_path: Path) -> None:
    """A backup goes to the other bucket, the local copy is lost, and it comes back whole."""
    seed(target)
    before = snapshot(target)
    offsite = remote(remote_env(object_store))
    local = tmp_path / "local" / "20260102T023000Z"
    backup(target, local)
    files = sorted(p.relative_to(local).as_posix() for p in local.rglob("*") if p.is_file())
    assert upload(offsite, local) == len(files)
    assert remote_backups(offsite) == ["20260102T023000Z"]
    shutil.rmtree(tmp_path / "local")

    reset(target)
    assert differences(before, snapshot(target)), "the wipe left everything in place"
    back = download(offsite, "latest", tmp_path / "downloaded")
    assert sorted(p.relative_to(back).as_posix() for p in back.rglob("*") if p.is_file()) == files
    restore(target, back)
    assert differences(before, snapshot(target)) == []


def test_a_restore_that_skips_images_is_caught(target: Target, tmp_path: Path) -> None:
    """The drill's comparison goes red when a restore brings the documents back but not the images."""
    _, sums = seed(target)
    before = snapshot(target)
    backup(target, tmp_path / "b")
    manifest = json.loads((tmp_path / "b" / "manifest.json").read_text())
    manifest["objects"] = {}
    (tmp_path / "b" / "manifest.json").write_text(json.dumps(manifest))
    reset(target)
    restore(target, tmp_path / "b")
    assert differences(before, snapshot(target), limit=100) == [f"objects: {key} missing" for key in sorted(sums)]


def test_remote_keeps_the_last_n(target: Target, object_store: ObjectStore, tmp_path: Path) -> None:
    seed(target)
    offsite = remote(remote_env(object_store))
    names = [f"2026010{day}T023000Z" for day in range(1, 5)]
    backup(target, tmp_path / names[0])
    for name in names[1:]:
        shutil.copytree(tmp_path / names[0], tmp_path / name)
    for name in names:
        upload(offsite, tmp_path / name)
    # An interrupted upload (no manifest) is neither counted nor deleted.
    offsite.client.put_object(offsite.bucket, offsite.key("20250101T000000Z", "mongo/products.jsonl"), BytesIO(b"x"), 1)
    assert remote_backups(offsite) == names
    assert prune_remote(offsite, 2) == names[:2]
    assert remote_backups(offsite) == names[2:]
    left = {o.object_name.split("/")[2] for o in offsite.client.list_objects(offsite.bucket, recursive=True)
            if o.object_name is not None}
    assert left == {"20250101T000000Z", *names[2:]}


def test_run_backup_uploads_and_prunes(target: Target, object_store: ObjectStore, tmp_path: Path) -> None:
    """`make db-backup` with BACKUP_S3_URL: written here, uploaded, and both places keep BACKUP_KEEP."""
    seed(target)
    env = remote_env(object_store, prefix="", keep=1)
    offsite = remote(env)
    old = tmp_path / "backups" / "20200101T000000Z"
    backup(target, old)
    upload(offsite, old)
    dest = run_backup(target, env, tmp_path / "backups")
    assert remote_backups(offsite) == [dest.name]
    assert local_backups(tmp_path / "backups") == [dest.name]
    assert keep_setting({}) == 7


def test_next_run_is_the_coming_night() -> None:
    now = dt.datetime(2026, 1, 1, 12, 0, tzinfo=dt.UTC)
    assert next_run("02:30", now) == dt.datetime(2026, 1, 2, 2, 30, tzinfo=dt.UTC)
    assert next_run("23:00", now) == dt.datetime(2026, 1, 1, 23, 0, tzinfo=dt.UTC)


def test_health_reports_a_failed_night(tmp_path: Path) -> None:
    status = tmp_path / "status.json"
    assert health(status) == 1
    status.write_text(json.dumps({"next_run": "2026-01-02T02:30:00+00:00", "last": None}))
    assert health(status) == 0
    status.write_text(json.dumps({"next_run": "x", "last": {"ok": False, "error": "S3Error"}}))
    assert health(status) == 1
