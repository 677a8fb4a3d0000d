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
from functools import partial
from typing import Any

from bson import Decimal128, ObjectId
from bson.errors import InvalidId
from pymongo import ASCENDING, AsyncMongoClient, WriteConcern
from pymongo.errors import ConnectionFailure, DuplicateKeyError, OperationFailure, PyMongoError

from services.backend.models import ProductIn, ProductPatch

__all__ = ["DuplicateSku", "ProductStore", "StoreUnavailable", "parse_id", "prefix_range", "sku_filter"]


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


_LAST = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)


def prefix_range(prefix: str) -> dict[str, str]:
    """``{"$gte": prefix, "$lt": next}``: every string that starts with ``prefix`` and no other.

    A range, not ``{"$regex": "^prefix"}``: the database walks the sku index for a range
    (2 ms at 100,000 products, measured on SecantusDB) but scans the collection for a regex
    (4.7 s). Strings compare by UTF-8 bytes, which is code point order, so the first string
    past the prefix's is the prefix with its last code point raised by one (a trailing
    U+10FFFF has no successor: drop it and raise the one before; all U+10FFFF: no bound).
    """
    stem = prefix.rstrip(chr(_LAST))
    if not stem:
        return {"$gte": prefix}
    following = ord(stem[-1]) + 1
    if following in _SURROGATES:  # not characters: the next one is U+E000
        following = _SURROGATES.stop
    return {"$gte": prefix, "$lt": stem[:-1] + chr(following)}


def sku_filter(sku: str | None, prefix: str | None) -> dict[str, Any] | None:
    """The query for products with this sku and/or whose sku starts with ``prefix`` (both:
    both hold); None when no product can match."""
    if sku is not None:
        return {"sku": sku} if prefix is None or sku.startswith(prefix) else None
    return {"sku": prefix_range(prefix)} if prefix is not None else {}


# Oldest first: by creation time, then id. Not by id alone: an ObjectId orders by its second,
# then by the process that made it (its random middle bytes), so with two backend replicas
# (a swarm stack) products created within one second listed by replica, not by age.
LISTING_ORDER = (("created_at", ASCENDING), ("_id", ASCENDING))


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
    if value.tzinfo is None:  # naive: UTC, as read by ProductStore._reads
        return value.isoformat(timespec="milliseconds") + "Z"
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
        # Pages and items are read with naive datetimes (UTC, as stored): decoding a tz-aware
        # one costs twice as much (20 products: 99 vs 53 µs, measured), and _iso writes "Z".
        self._reads = db.products.with_options(codec_options=db.codec_options.with_options(tz_aware=False))
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
            await self._products.create_index(list(LISTING_ORDER), name="listing_order")
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

    async def list(self, limit: int, offset: int, sku: str | None = None,
                   sku_prefix: str | None = None) -> tuple[list[dict[str, Any]], int]:
        """A page, oldest first, and how many match. A sku filter rides the unique sku index,
        and the count uses the same filter: its cost follows the matches, not the catalogue
        (unfiltered, both walk every product on SecantusDB, 5.6 s and 3.1 s at 100,000)."""
        query = sku_filter(sku, sku_prefix)
        if query is None:
            return [], 0

        async def page() -> tuple[list[dict[str, Any]], int]:
            # One more than the page: a page that ends the listing tells its total, which
            # spares the count's round trip (each command costs ~0.4 ms of the backend's CPU,
            # measured: most of a page's cost). Find and count were never one snapshot, so a
            # write landing between them could already show in either; this answer is one of
            # those the two reads could give.
            cursor = self._reads.find(query).sort(list(LISTING_ORDER)).skip(offset).limit(limit + 1)
            docs = [doc async for doc in cursor]
            items = [to_api(doc) for doc in docs[:limit]]  # the extra one only tells there is more
            if len(docs) <= limit and (docs or not offset):
                return items, offset + len(docs)
            return items, await self._products.count_documents(query)

        result: tuple[list[dict[str, Any]], int] = await self._call(page)
        return result

    async def get(self, oid: ObjectId) -> dict[str, Any] | None:
        doc = await self._call(lambda: self._reads.find_one({"_id": oid}))
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
            return await self._update_then_read(oid, update)
        except DuplicateKeyError as exc:
            raise DuplicateSku(str(to_set.get("sku", ""))) from exc

    async def _update_then_read(self, oid: ObjectId, update: dict[str, Any]) -> dict[str, Any] | None:
        # update_one, then find_one, both by _id: findAndModify reads the whole collection on
        # SecantusDB (3 to 10 s at 100,000 products, measured), these take 1 to 5 ms. The
        # answer is the product as stored after this write (a later write may show in it).
        result = await self._call(lambda: self._products.update_one({"_id": oid}, update))
        if not result.matched_count:
            return None
        doc = await self._call(lambda: self._products.find_one({"_id": oid}))
        return to_api(doc) if doc else None

    async def set_image(self, oid: ObjectId, image: dict[str, Any] | None) -> dict[str, Any] | None:
        return await self._update_then_read(oid, {"$set": {"image": image, "updated_at": _now()}})

    async def delete(self, oid: ObjectId) -> dict[str, Any] | None:
        """The product as it was when deleted (its image is the caller's to delete), or None.
        find_one then delete_one, not findAndModify (a collection scan on SecantusDB): the
        delete names the version read (updated_at), so an image stored in between is not
        left behind; another writer's change in between means read again."""
        for _ in range(3):
            doc = await self._call(lambda: self._products.find_one({"_id": oid}))
            if doc is None:
                return None
            version = {"_id": oid, "updated_at": doc["updated_at"]}
            result = await self._call(partial(self._products.delete_one, version))
            if result.deleted_count:
                return to_api(doc)
        raise StoreUnavailable("the product kept changing while it was being deleted")
