"""The restore drill: a backup leaves for another bucket, the stack's data is wiped, and the
backup comes back from that bucket: every document and object is back with its checksum,
and each product and its image answer through the API as before. Each phase is timed
(junit properties ``drill.<phase>_s``).

The "other bucket" is one of its own on the stack's object store (the admin key creates and
removes it): what leaves is the same S3 upload `make db-backup` makes to BACKUP_S3_URL.

The drill works on a scope of its own (ops.backup.Scope): its products, found by their sku
prefix through the sku index, and their images, listed by key prefix. Backup, wipe, restore
and the checksums are the code `make db-backup`/`db-restore` run, on that part only, so the
drill costs the same at 0 or 100,000 products, and a product outside the scope (the
bystander) must come through the wipe and the restore untouched.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from fixtures.clients import objectstore
from fixtures.clients.http import service_client
from fixtures.stack import ComposeStack
from ops.backup import (
    Remote,
    Scope,
    Target,
    backup,
    backup_name,
    differences,
    download,
    remote_backups,
    reset,
    restore,
    snapshot,
    target_for,
    upload,
)
from services.backend.store import prefix_range

PNG = b"\x89PNG\r\n\x1a\n"
PRODUCTS = 3
DRILL_BUCKET = "stackproof-restore-drill"


@pytest.fixture
def gateway(compose_stack: ComposeStack) -> Iterator[httpx.Client]:
    with service_client(compose_stack, "gateway", 5921) as http:
        yield http


@pytest.fixture
def sku_prefix() -> str:
    return f"drill-{uuid.uuid4().hex[:8]}-"


@pytest.fixture
def target(compose_stack: ComposeStack, sku_prefix: str, products: dict[str, str]) -> Target:
    """The stack's database and bucket, scoped to the drill's products and their images."""
    scope = Scope({"products": {"sku": prefix_range(sku_prefix)}}, tuple(f"products/{pid}/" for pid in sorted(products)))
    whole = target_for(compose_stack)
    return Target(whole.mongo_uri, whole.database, whole.objects, whole.bucket, scope)


@pytest.fixture
def offsite(compose_stack: ComposeStack, target: Target) -> Iterator[Remote]:
    """A bucket of the drill's own, emptied and removed afterwards."""
    store = objectstore.client(compose_stack, timeout=60.0)
    if not store.bucket_exists(DRILL_BUCKET):
        store.make_bucket(DRILL_BUCKET)
    scheme = "https" if compose_stack.env().get("MINIO_SECURE") == "true" else "http"
    yield Remote(store, DRILL_BUCKET, f"drill-{uuid.uuid4().hex[:8]}/", f"{scheme}://object store/{DRILL_BUCKET}")
    leftovers = objectstore.purge(store, DRILL_BUCKET, "")
    store.remove_bucket(DRILL_BUCKET)
    assert not leftovers, f"could not empty {DRILL_BUCKET}: {leftovers}"


def make_product(gateway: httpx.Client, sku: str, size: int) -> tuple[str, str]:
    """A product with this sku and an image of about ``size`` bytes: (id, the image's sha256)."""
    created = gateway.post("/api/products", json={"name": f"restore drill {sku}", "price": 1 + size % 7, "sku": sku})
    assert created.status_code == 201, f"create product: {created.status_code} {created.text[:300]}"
    product_id = str(created.json()["id"])
    data = PNG + os.urandom(size)
    stored = gateway.put(f"/api/products/{product_id}/image", content=data, headers={"content-type": "image/png"})
    assert stored.status_code == 200, f"PUT image of {product_id}: {stored.status_code} {stored.text[:300]}"
    return product_id, hashlib.sha256(data).hexdigest()


def remove_products(compose_stack: ComposeStack, gateway: httpx.Client, ids: list[str]) -> None:
    store, bucket = objectstore.client(compose_stack), objectstore.bucket(compose_stack)
    for product_id in ids:
        gateway.delete(f"/api/products/{product_id}")
        objectstore.purge(store, bucket, f"products/{product_id}/")


@pytest.fixture
def products(gateway: httpx.Client, compose_stack: ComposeStack, sku_prefix: str) -> Iterator[dict[str, str]]:
    """Products of the drill's own (its sku prefix), each with an image: id -> the image's sha256."""
    made = dict(make_product(gateway, f"{sku_prefix}{n}", 200 * 1024 + n) for n in range(PRODUCTS))
    yield made
    remove_products(compose_stack, gateway, list(made))


@pytest.fixture
def bystander(gateway: httpx.Client, compose_stack: ComposeStack) -> Iterator[str]:
    """A product outside the drill's scope (another sku prefix): the wipe and restore must not touch it."""
    product_id, _ = make_product(gateway, f"drill-bystander-{uuid.uuid4().hex[:8]}", 1024)
    yield product_id
    remove_products(compose_stack, gateway, [product_id])


def api_view(gateway: httpx.Client, ids: list[str]) -> dict[str, tuple[int, Any, int, str]]:
    """What a client sees of each product: its document and its image's checksum."""
    seen = {}
    for product_id in ids:
        doc = gateway.get(f"/api/products/{product_id}")
        image = gateway.get(f"/api/products/{product_id}/image")
        seen[product_id] = (doc.status_code, doc.json() if doc.status_code == 200 else doc.text[:200],
                            image.status_code, hashlib.sha256(image.content).hexdigest())
    return seen


def test_backup_wipe_restore(target: Target, offsite: Remote, products: dict[str, str], bystander: str,
                             gateway: httpx.Client, tmp_path: Path, record_property: Callable[[str, object], None]) -> None:
    ids = sorted(products)
    before, seen_before = snapshot(target), api_view(gateway, ids)
    bystander_before = api_view(gateway, [bystander])
    assert sorted(before.get("objects", {})) == [f"products/{pid}/image" for pid in ids], \
        f"the drill's scope holds {sorted(before.get('objects', {}))}, not its products' images"
    assert sum(len(v) for p, v in before.items() if p.startswith("mongo/")) == PRODUCTS, \
        f"the drill's scope holds {[(p, len(v)) for p, v in before.items()]}, not its {PRODUCTS} products"
    assert {pid: seen[3] for pid, seen in seen_before.items()} == products, "the seeded images do not read back"
    took: dict[str, float] = {}

    def timed(phase: str, started: float) -> None:
        took[phase] = round(time.monotonic() - started, 3)
        record_property(f"drill.{phase}_s", took[phase])

    start = time.monotonic()
    name = backup_name()
    backup(target, tmp_path / "local" / name)
    timed("backup", start)
    mark = time.monotonic()
    upload(offsite, tmp_path / "local" / name)
    timed("upload", mark)
    shutil.rmtree(tmp_path / "local")  # the box loses its copy: what comes back comes from the bucket

    mark = time.monotonic()
    reset(target)
    timed("wipe", mark)
    wiped = snapshot(target)
    assert not wiped.get("objects") and not any(wiped.get(p) for p in before if p.startswith("mongo/")), \
        f"the wipe left data behind: {sorted((p, len(v)) for p, v in wiped.items() if v)}"
    assert gateway.get(f"/api/products/{ids[0]}").status_code == 404, "a wiped product still answers"
    assert api_view(gateway, [bystander]) == bystander_before, "the wipe reached a product outside its scope"

    mark = time.monotonic()
    assert remote_backups(offsite) == [name], f"{offsite.url}/{offsite.prefix}: {remote_backups(offsite)}"
    back = download(offsite, "latest", tmp_path / "downloaded")
    timed("download", mark)
    mark = time.monotonic()
    restore(target, back)
    timed("restore", mark)
    timed("total", start)

    after = snapshot(target)
    objects = len(before.get("objects", {}))
    documents = sum(len(v) for p, v in before.items() if p.startswith("mongo/"))
    record_property("drill.documents", documents)
    record_property("drill.objects", objects)
    print(f"restore drill: {documents} documents, {objects} objects; " +
          ", ".join(f"{phase} {seconds:.2f} s" for phase, seconds in took.items()))
    assert differences(before, after) == [], "the restore did not bring everything back"
    assert api_view(gateway, ids) == seen_before, "a product or its image answers differently after the restore"
    assert api_view(gateway, [bystander]) == bystander_before, "the restore changed a product outside its scope"

