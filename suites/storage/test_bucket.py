"""The product-image bucket: it exists, keeps every version, and is private — no bucket
policy, and unsigned requests are refused even for objects that exist."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from minio import Minio
from minio.commonconfig import ENABLED

from fixtures.clients import objectstore
from fixtures.stack import Stack
from suites.storage.checks import put, refused

NO_POLICY = {"NoSuchBucketPolicy", "NoSuchPolicy"}


def test_bucket_exists(store: Minio, bucket: str) -> None:
    assert store.bucket_exists(bucket), f"bucket {bucket!r} does not exist: objectstore-init should have made it"


def test_versioning_is_enabled(store: Minio, bucket: str) -> None:
    status = store.get_bucket_versioning(bucket).status
    assert status == ENABLED, f"bucket {bucket!r} versioning is {status!r}"


def test_overwrite_keeps_the_previous_version(store: Minio, bucket: str, scratch: str) -> None:
    key = f"{scratch}versioned"
    first, second = put(store, bucket, key, b"first"), put(store, bucket, key, b"second")
    assert first.version_id and second.version_id and first.version_id != second.version_id, \
        f"versions {first.version_id!r} then {second.version_id!r}"
    listed = {obj.version_id for obj in store.list_objects(bucket, prefix=key, include_version=True)}
    assert {first.version_id, second.version_id} <= listed, f"listed versions {listed}"
    with store.get_object(bucket, key, version_id=first.version_id) as old:
        assert old.read() == b"first", "the previous version's content changed"
    with store.get_object(bucket, key) as current:
        assert current.read() == b"second"


def test_bucket_has_no_policy(store: Minio, bucket: str) -> None:
    refused(lambda: store.get_bucket_policy(bucket), NO_POLICY, f"bucket {bucket!r} policy (must have none: private)")


ANONYMOUS: dict[str, Callable[[Minio, str, str], Any]] = {
    "list": lambda s, b, key: list(s.list_objects(b)),
    "list-prefix": lambda s, b, key: list(s.list_objects(b, prefix=key)),
    "get": lambda s, b, key: s.get_object(b, key).read(),
    "stat": lambda s, b, key: s.stat_object(b, key),
    "put": lambda s, b, key: put(s, b, f"{key}-anonymous", b"anyone"),
    "delete": lambda s, b, key: s.remove_object(b, key),
}


@pytest.mark.parametrize("operation", list(ANONYMOUS))
def test_anonymous_request_is_refused(stack: Stack, store: Minio, bucket: str, scratch: str, operation: str) -> None:
    key = f"{scratch}private"
    put(store, bucket, key, b"private")  # refusing a key that exists, not one that is missing
    anonymous = objectstore.anonymous(stack)
    refused(lambda: ANONYMOUS[operation](anonymous, bucket, key), {"AccessDenied"}, f"anonymous {operation} on {bucket}/{key}")
    with store.get_object(bucket, key) as kept:
        assert kept.read() == b"private", f"anonymous {operation} changed {key}"
    refused(lambda: store.stat_object(bucket, f"{key}-anonymous"), {"NoSuchKey"}, "object put anonymously")
