"""Products in MongoDB, through pymongo's asyncio client.

Writes are journaled (``j=True``): an acknowledged product survives a kill -9 of the
database. Timeouts are short so a database outage becomes a 503 in about two seconds
instead of a request that hangs.
"""

from __future__ import annotations

import builtins
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from bson import Decimal128, ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, AsyncMongoClient, ReturnDocument, WriteConcern
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from services.backend.models import ProductIn, ProductPatch

__all__ = ["DuplicateSku", "ProductStore", "StoreUnavailable", "parse_id"]


class StoreUnavailable(Exception):
    """The database could not be reached or refused us; maps to 503."""


class DuplicateSku(Exception):
    def __init__(self, sku: str) -> None:
        super().__init__(sku)
        self.sku = sku


def parse_id(raw: str) -> ObjectId | None:
    try:
        return ObjectId(raw)
    except (InvalidId, TypeError):
        return None


def _now() -> datetime:
    # Millisecond precision: what BSON dates keep, so a read equals what was written.
    now = datetime.now(UTC)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)


_COEFFICIENT = (1 << 49) - 1
_EXPONENT_BIAS = 6176


def price_float(price: Decimal128 | float) -> float:
    """A stored price as the float the API answers, as ``float(price.to_decimal())`` would
    give, without building a Decimal (15 µs each: most of a page's conversion time).

    Decimal128 is IEEE 754-2008 BID: sign, a 14-bit exponent and a 113-bit coefficient when the
    two bits after the sign are not 11 (every finite price the API stores). Python's int
    true division rounds correctly, as float(Decimal) does, so the result is the same float.
    """
    if not isinstance(price, Decimal128):
        return float(Decimal(str(price)))
    low, high = int.from_bytes(price.bid[:8], "little"), int.from_bytes(price.bid[8:], "little")
    if (high >> 61) & 0b11 == 0b11:  # the other encoding: huge coefficients, Infinity, NaN
        return float(price.to_decimal())
    coefficient = ((high & _COEFFICIENT) << 64) | low
    exponent = ((high >> 49) & 0x3FFF) - _EXPONENT_BIAS
    if not -400 < exponent < 300:  # far outside any price: overflow and slow powers of ten
        return float(price.to_decimal())
    value = coefficient * 10**exponent if exponent >= 0 else coefficient / 10**-exponent
    return -float(value) if high >> 63 else float(value)


def to_api(doc: dict[str, Any]) -> dict[str, Any]:
    created = _iso(doc["created_at"])
    out = {
        "id": str(doc["_id"]),
        "name": doc["name"],
        "price": price_float(doc["price"]),
        "sku": doc.get("sku"),
        "stock": doc.get("stock", 0),
        "created_at": created,
        # Never updated: the same instant, formatted once.
        "updated_at": created if doc["updated_at"] == doc["created_at"] else _iso(doc["updated_at"]),
    }
    if doc.get("image"):
        out["image"] = doc["image"]
    return out


def _iso(value: datetime) -> str:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _fields(product: ProductIn | ProductPatch, only_set: bool) -> tuple[dict[str, Any], list[str]]:
    data = product.model_dump(exclude_unset=only_set)
    to_set: dict[str, Any] = {}
    to_unset: list[str] = []
    for key, value in data.items():
        if key == "price":
            value = Decimal128(value.quantize(Decimal("0.01")))
        if value is None:
            to_unset.append(key)  # only sku can be None here: no SKU, not a null SKU
        else:
            to_set[key] = value
    return to_set, to_unset


class ProductStore:
    def __init__(self, url: str, database: str, timeout_ms: int = 2000) -> None:
        self._client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
            url,
            serverSelectionTimeoutMS=timeout_ms,
            connectTimeoutMS=timeout_ms,
            socketTimeoutMS=timeout_ms * 3,
            appname="backend",
            tz_aware=True,
        )
        db = self._client.get_database(database, write_concern=WriteConcern(w=1, j=True))
        self._db = db
        self._products = db.products
        self._indexes_ready = False

    async def close(self) -> None:
        await self._client.close()

    async def ping(self) -> None:
        try:
            await self._db.command("ping")
        except PyMongoError as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def _ensure_indexes(self) -> None:
        # Created lazily so the backend starts (and reports 503) while the database is down.
        if not self._indexes_ready:
            await self._products.create_index([("sku", ASCENDING)], unique=True, sparse=True, name="sku_unique")
            self._indexes_ready = True

    async def _call(self, operation: Callable[[], Awaitable[Any]]) -> Any:
        try:
            await self._ensure_indexes()
            return await operation()
        except DuplicateKeyError:
            raise
        except (ConnectionFailure, OperationFailure, PyMongoError) as exc:
            raise StoreUnavailable(str(exc)) from exc

    async def create(self, product: ProductIn) -> dict[str, Any]:
        to_set, _ = _fields(product, only_set=False)
        now = _now()
        doc = {**to_set, "created_at": now, "updated_at": now}
        try:
            result = await self._call(lambda: self._products.insert_one(doc))
        except DuplicateKeyError as exc:
            raise DuplicateSku(doc.get("sku", "")) from exc
        doc["_id"] = result.inserted_id
        return to_api(doc)

    async def list(self, limit: int, offset: int) -> tuple[list[dict[str, Any]], int]:
        async def page() -> tuple[list[dict[str, Any]], int]:
            cursor = self._products.find({}).sort("_id", ASCENDING).skip(offset).limit(limit)
            docs = [to_api(doc) async for doc in cursor]
            return docs, await self._products.count_documents({})

        result: tuple[list[dict[str, Any]], int] = await self._call(page)
        return result

    async def get(self, oid: ObjectId) -> dict[str, Any] | None:
        doc = await self._call(lambda: self._products.find_one({"_id": oid}))
        return to_api(doc) if doc else None

    async def replace(self, oid: ObjectId, product: ProductIn) -> dict[str, Any] | None:
        to_set, to_unset = _fields(product, only_set=False)
        return await self._update(oid, to_set, to_unset)

    async def patch(self, oid: ObjectId, patch: ProductPatch) -> dict[str, Any] | None:
        to_set, to_unset = _fields(patch, only_set=True)
        return await self._update(oid, to_set, to_unset)

    async def _update(self, oid: ObjectId, to_set: dict[str, Any], to_unset: builtins.list[str]) -> dict[str, Any] | None:
        update: dict[str, Any] = {"$set": {**to_set, "updated_at": _now()}}
        if to_unset:
            update["$unset"] = {key: "" for key in to_unset}
        try:
            doc = await self._call(
                lambda: self._products.find_one_and_update({"_id": oid}, update, return_document=ReturnDocument.AFTER)
            )
        except DuplicateKeyError as exc:
            raise DuplicateSku(str(to_set.get("sku", ""))) from exc
        return to_api(doc) if doc else None

    async def set_image(self, oid: ObjectId, image: dict[str, Any] | None) -> dict[str, Any] | None:
        update = {"$set": {"image": image, "updated_at": _now()}}
        doc = await self._call(
            lambda: self._products.find_one_and_update({"_id": oid}, update, return_document=ReturnDocument.AFTER)
        )
        return to_api(doc) if doc else None

    async def delete(self, oid: ObjectId) -> dict[str, Any] | None:
        doc = await self._call(lambda: self._products.find_one_and_delete({"_id": oid}))
        return to_api(doc) if doc else None
