"""Product images in the object store, through the minio client.

The minio client is synchronous, so calls run in the thread pool. Its HTTP pool is
built here with short timeouts and one retry: an unreachable store answers 503 in
seconds instead of holding a request through urllib3's default retries.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from io import BytesIO
from typing import Any, TypeVar

import urllib3
from minio import Minio
from minio.error import MinioException, S3Error
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

T = TypeVar("T")

ALLOWED_TYPES = {
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/webp": (b"RIFF",),  # plus "WEBP" at offset 8, checked below
}


class ObjectStoreUnavailable(Exception):
    """The object store could not be reached, or refused us; maps to 503."""


class ImageMissing(Exception):
    pass


def content_matches(content_type: str, data: bytes) -> bool:
    if not any(data.startswith(magic) for magic in ALLOWED_TYPES[content_type]):
        return False
    return content_type != "image/webp" or data[8:12] == b"WEBP"


@dataclass(frozen=True)
class StoredImage:
    content_type: str
    size: int
    etag: str
    sha256: str


class ImageStore:
    def __init__(self, endpoint: str, access_key: str, secret_key: str, bucket: str, secure: bool,
                 timeout: float = 3.0) -> None:
        self.timeout = timeout
        http = urllib3.PoolManager(
            timeout=urllib3.Timeout(connect=min(timeout, 2.0), read=timeout),
            retries=urllib3.Retry(total=1, connect=1, read=0, backoff_factor=0.2),
            maxsize=16,
        )
        self.bucket = bucket
        self.client = Minio(endpoint, access_key=access_key, secret_key=secret_key, secure=secure, http_client=http)

    async def _call(self, fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        # urllib3's timeouts bound each socket wait, not name resolution or retries: a dead
        # store could still hold a request past the gateway's own timeout. This bounds it all
        # (the worker thread finishes on its own; the request does not wait for it).
        try:
            return await asyncio.wait_for(run_in_threadpool(fn, *args, **kwargs), self.timeout)
        except TimeoutError as exc:
            raise ObjectStoreUnavailable(f"no answer within {self.timeout:g} s") from exc

    @staticmethod
    def key(product_id: str) -> str:
        return f"products/{product_id}/image"

    async def check(self) -> None:
        try:
            exists = await self._call(self.client.bucket_exists, self.bucket)
        except (MinioException, urllib3.exceptions.HTTPError, OSError, ValueError) as exc:
            raise ObjectStoreUnavailable(str(exc)) from exc
        if not exists:
            raise ObjectStoreUnavailable(f"bucket {self.bucket!r} does not exist")

    async def put(self, product_id: str, data: bytes, content_type: str) -> StoredImage:
        sha256 = hashlib.sha256(data).hexdigest()
        try:
            result = await self._call(
                self.client.put_object, self.bucket, self.key(product_id), BytesIO(data), len(data),
                content_type=content_type, metadata={"sha256": sha256},
            )
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ObjectStoreUnavailable(str(exc)) from exc
        return StoredImage(content_type, len(data), str(result.etag).strip('"'), sha256)

    async def open(self, product_id: str) -> tuple[urllib3.BaseHTTPResponse, AsyncIterator[bytes]]:
        try:
            response = await self._call(self.client.get_object, self.bucket, self.key(product_id))
        except S3Error as exc:
            if exc.code in {"NoSuchKey", "NoSuchObject"}:
                raise ImageMissing(product_id) from exc
            raise ObjectStoreUnavailable(str(exc)) from exc
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ObjectStoreUnavailable(str(exc)) from exc

        async def chunks() -> AsyncIterator[bytes]:
            try:
                async for chunk in iterate_in_threadpool(response.stream(64 * 1024)):
                    yield chunk
            finally:
                response.close()
                response.release_conn()

        return response, chunks()

    async def delete(self, product_id: str) -> None:
        try:
            await self._call(self.client.remove_object, self.bucket, self.key(product_id))
        except (MinioException, urllib3.exceptions.HTTPError, OSError) as exc:
            raise ObjectStoreUnavailable(str(exc)) from exc
