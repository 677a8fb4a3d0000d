"""Small helpers the storage tests share."""

from __future__ import annotations

import hashlib
import io
from collections.abc import Callable
from typing import Any

from minio import Minio
from minio.error import S3Error
from minio.helpers import ObjectWriteResult


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def put(store: Minio, bucket: str, key: str, data: bytes) -> ObjectWriteResult:
    return store.put_object(bucket, key, io.BytesIO(data), len(data))


def refused(call: Callable[[], Any], codes: set[str], what: str) -> S3Error:
    """The store answered ``call`` with one of ``codes`` (not a connection error, not success)."""
    __tracebackhide__ = True
    try:
        result = call()
    except S3Error as exc:
        assert exc.code in codes, f"{what}: refused with {exc.code} ({exc.message}), expected one of {sorted(codes)}"
        return exc
    raise AssertionError(f"{what}: the store answered {result!r}, expected a refusal ({sorted(codes)})")
