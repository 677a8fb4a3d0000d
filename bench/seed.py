"""Seed the running stack's catalogue with N products, to show what the suite costs does not
grow with the platform's data (issue 10): `python -m bench.seed --target compose://stackproof 100000`.

The seeded products are written straight into MongoDB as the app user (the API would take
minutes for 100,000), shaped as the backend writes them, with skus ``SEED-0000001``…; the
count given is what stays: more are inserted, extra ones deleted, 0 removes them all. Only
seeded products are touched.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from decimal import Decimal

from bson import Decimal128

from fixtures.clients import mongo
from fixtures.stack import open_stack

PREFIX = "SEED-"
BATCH = 5000


def seeded(collection: object) -> int:
    return int(collection.count_documents({"sku": {"$regex": f"^{PREFIX}"}}))  # type: ignore[attr-defined]


def product(n: int, now: datetime) -> dict[str, object]:
    return {"name": f"seeded product {n}", "price": Decimal128(Decimal("9.99")), "sku": f"{PREFIX}{n:07d}",
            "stock": n % 100, "created_at": now, "updated_at": now}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.seed", description=__doc__)
    parser.add_argument("count", type=int, help="seeded products to have afterwards")
    parser.add_argument("--target", default="compose://stackproof")
    args = parser.parse_args(argv)
    stack = open_stack(args.target)
    started = time.monotonic()
    with mongo.app_client(stack, timeout_ms=10_000) as client:
        products = client[stack.env().get("MONGO_DATABASE", "ecommerce")]["products"]
        have = seeded(products)
        if have > args.count:
            products.delete_many({"sku": {"$gte": f"{PREFIX}{args.count + 1:07d}", "$regex": f"^{PREFIX}"}})
        now = datetime.now(UTC)
        for first in range(have + 1, args.count + 1, BATCH):
            products.insert_many([product(n, now) for n in range(first, min(first + BATCH, args.count + 1))], ordered=False)
            print(f"seed: {min(first + BATCH - 1, args.count)}/{args.count}", file=sys.stderr, flush=True)
        total = products.estimated_document_count()
        print(f"seed: {seeded(products)} seeded products ({total} in all) in {time.monotonic() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
