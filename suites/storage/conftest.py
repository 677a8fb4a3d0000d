"""The storage suite reaches the object store with the stack's credentials, and writes
only under a prefix of its own that it removes, every version of it, afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from minio import Minio

from fixtures.clients import objectstore
from fixtures.stack import Stack

PREFIX = "suite-storage"


@pytest.fixture(scope="session")
def store(stack: Stack) -> Minio:
    return objectstore.client(stack)


@pytest.fixture(scope="session")
def bucket(stack: Stack) -> str:
    return objectstore.bucket(stack)


@pytest.fixture
def scratch(store: Minio, bucket: str) -> Iterator[str]:
    """A key prefix no one else writes to."""
    prefix = f"{PREFIX}/{uuid.uuid4()}/"
    yield prefix
    leftovers = objectstore.purge(store, bucket, prefix)
    assert not leftovers, f"could not remove {bucket}/{prefix}: {leftovers}"
