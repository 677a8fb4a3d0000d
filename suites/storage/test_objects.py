"""Objects in the bucket: what comes back is what went in (sha256), presigned URLs work
and expire, and requests signed with the wrong secret or an unknown key are refused."""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from datetime import timedelta

import pytest
from minio import Minio

from fixtures.clients import objectstore
from fixtures.clients.http import client
from fixtures.stack import Stack
from fixtures.waits import wait_for
from suites.storage.checks import put, refused, sha256

MiB = 1024 * 1024
BAD_SIGNATURE = {"SignatureDoesNotMatch", "InvalidAccessKeyId", "AccessDenied"}
PRESIGN_EXPIRY_S = 2
RecordProperty = Callable[[str, object], None]


# Kept small on purpose: the offline store (SeaweedFS, 512 MiB limit) grows ~90 MiB per
# 10 MiB multipart upload and was OOM-killed after a few runs; the stack is shared.
@pytest.mark.parametrize("size", [1, 256 * 1024 + 7, MiB + 1], ids=["1B", "256KiB+7", "1MiB+1"])
def test_round_trip_keeps_every_byte(store: Minio, bucket: str, scratch: str, size: int,
                                     record_property: RecordProperty) -> None:
    data, key = os.urandom(size), f"{scratch}random-{size}"
    started = time.perf_counter()
    store.put_object(bucket, key, io.BytesIO(data), size, metadata={"sha256": sha256(data)})
    with store.get_object(bucket, key) as response:
        back = response.read()
    record_property(f"roundtrip_{size}B_s", round(time.perf_counter() - started, 3))
    assert (len(back), sha256(back)) == (size, sha256(data)), f"{bucket}/{key}: {len(back)} bytes came back of {size}"
    stat = store.stat_object(bucket, key)
    assert stat.size == size, f"{bucket}/{key}: stat size {stat.size}, put {size}"
    metadata = {name.lower(): value for name, value in (stat.metadata or {}).items()}
    assert metadata.get("x-amz-meta-sha256") == sha256(data), f"{bucket}/{key} metadata: {metadata}"


def test_presigned_get_works_then_expires(stack: Stack, store: Minio, bucket: str, scratch: str,
                                          record_property: RecordProperty) -> None:
    key, data = f"{scratch}presigned", os.urandom(1024)
    put(store, bucket, key, data)
    signed = time.monotonic()
    url = store.presigned_get_object(bucket, key, expires=timedelta(seconds=PRESIGN_EXPIRY_S))
    with client(stack.url("minio")) as http:
        fresh = http.get(url)
        assert fresh.status_code == 200 and fresh.content == data, \
            f"fresh presigned URL: {fresh.status_code} {fresh.text[:300]}"
        expired = wait_for(lambda: http.get(url), target=f"presigned GET {bucket}/{key}",
                           expectation=f"403 once its {PRESIGN_EXPIRY_S} s expiry has passed",
                           until=lambda response: response.status_code != 200, timeout=PRESIGN_EXPIRY_S + 5,
                           interval=0.2, max_interval=0.2)
    refused_after = time.monotonic() - signed
    record_property("presigned_refused_after_s", round(refused_after, 2))
    assert expired.status_code == 403 and "AccessDenied" in expired.text, \
        f"expired presigned URL: {expired.status_code} {expired.text[:300]}"
    # X-Amz-Date has whole seconds, so the URL is good for at least expiry - 1 s.
    assert refused_after >= PRESIGN_EXPIRY_S - 1.1, f"refused after {refused_after:.2f} s, expiry {PRESIGN_EXPIRY_S} s"


def test_tampered_presigned_url_is_refused(stack: Stack, store: Minio, bucket: str, scratch: str) -> None:
    key = f"{scratch}tampered"
    put(store, bucket, key, b"secret")
    put(store, bucket, f"{key}-other", b"other")
    url = store.presigned_get_object(bucket, key, expires=timedelta(minutes=1))
    with client(stack.url("minio")) as http:
        # The same signature for another key, and a changed signature for this one.
        for forged in (url.replace("/tampered?", "/tampered-other?"), url[:-1] + ("0" if url[-1] != "0" else "1")):
            response = http.get(forged)
            assert response.status_code == 403, f"forged presigned URL {forged}: {response.status_code} {response.text[:300]}"


@pytest.mark.parametrize("identity", ["wrong-secret", "unknown-key"])
def test_bad_credentials_are_refused(stack: Stack, store: Minio, bucket: str, scratch: str, identity: str) -> None:
    key = f"{scratch}guarded"
    put(store, bucket, key, b"guarded")
    intruder = objectstore.wrong_secret(stack) if identity == "wrong-secret" else objectstore.unknown_key(stack)
    refused(lambda: intruder.bucket_exists(bucket), BAD_SIGNATURE, f"{identity}: bucket_exists")
    refused(lambda: list(intruder.list_objects(bucket, prefix=scratch)), BAD_SIGNATURE, f"{identity}: list")
    refused(lambda: intruder.get_object(bucket, key).read(), BAD_SIGNATURE, f"{identity}: get {key}")
    refused(lambda: put(intruder, bucket, f"{key}-intruder", b"x"), BAD_SIGNATURE, f"{identity}: put")
    refused(lambda: store.stat_object(bucket, f"{key}-intruder"), {"NoSuchKey"}, f"object put with {identity}")


def test_store_answers_the_right_credentials(store: Minio, bucket: str, scratch: str) -> None:
    # The control for the refusals above: the same calls with the stack's own credentials.
    key = f"{scratch}control"
    put(store, bucket, key, b"ok")
    assert [obj.object_name for obj in store.list_objects(bucket, prefix=scratch)] == [key]
    with store.get_object(bucket, key) as response:
        assert response.read() == b"ok"
