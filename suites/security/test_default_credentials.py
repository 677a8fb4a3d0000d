"""Default and missing credentials are refused, and the app user stays in its database.

Every refusal is one that only a live server can give (an S3 error code, a MongoDB
``Unauthorized``, an HTTP 401), and each test first shows that the stack's own credentials
are accepted, so a server that is down or unreachable fails here instead of passing.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from minio.error import S3Error
from pymongo import MongoClient
from pymongo.errors import OperationFailure

from fixtures.clients import mongo, objectstore
from fixtures.clients.http import service_client
from fixtures.plugin import require
from fixtures.stack import Stack

S3_REFUSALS = {"InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied"}
UNAUTHORIZED = 13  # MongoDB's error code for both "requires authentication" and "not authorized"


def _refused(what: str, call: Callable[[], object]) -> OperationFailure:
    __tracebackhide__ = True
    try:
        result = call()
    except OperationFailure as refusal:
        assert refusal.code == UNAUTHORIZED, f"{what}: refused, but not as unauthorized: {refusal.details}"
        return refusal
    raise AssertionError(f"{what}: accepted, answered {result!r:.300}")


def test_object_store_refuses_minioadmin(stack: Stack) -> None:
    objectstore.client(stack).list_buckets()  # the stack's own keys work
    try:
        buckets = objectstore.with_credentials(stack, "minioadmin", "minioadmin").list_buckets()
    except S3Error as refusal:
        assert refusal.code in S3_REFUSALS, f"minio role: minioadmin/minioadmin refused with {refusal.code}: {refusal}"
    else:
        raise AssertionError(f"minio role accepts minioadmin/minioadmin: lists {[b.name for b in buckets]}")


def test_mongo_refuses_unauthenticated_reads(stack: Stack) -> None:
    host, port = stack.address("mongo")
    database = stack.env().get("MONGO_DATABASE", "ecommerce")
    with MongoClient[dict[str, Any]](host, port, serverSelectionTimeoutMS=3000) as anonymous:
        assert anonymous.admin.command("ping")["ok"] == 1  # it answers, and only that
        _refused("unauthenticated listDatabases", lambda: anonymous.admin.command("listDatabases"))
        _refused(f"unauthenticated find in {database}", lambda: anonymous[database]["products"].find_one())


def test_mongo_app_user_cannot_write_outside_its_database(stack: Stack) -> None:
    database = stack.env().get("MONGO_DATABASE", "ecommerce")
    with mongo.app_client(stack) as app:
        assert app[database].command("listCollections")["ok"] == 1  # authenticated, allowed at home
        for other in ("stackproof_elsewhere", "admin"):
            refusal = _refused(f"app user insert into {other}",
                               partial(app[other]["intrusion"].insert_one, {"by": "security suite"}))
            assert "insert" in str(refusal.details), f"app user insert into {other}: {refusal.details}"


def test_mongo_app_user_cannot_create_users(stack: Stack) -> None:
    database = stack.env().get("MONGO_DATABASE", "ecommerce")
    with mongo.app_client(stack) as app:
        for where, roles in ((database, ["readWrite"]), ("admin", ["root"])):
            _refused(f"app user createUser in {where} with {roles}",
                     partial(app[where].command, "createUser", "stackproof_intruder", pwd="x", roles=roles))


def test_grafana_refuses_admin_admin(stack: Stack) -> None:
    require(stack, "grafana")
    env = stack.env()
    # One failed login per run. Grafana blocks a user for 5 min after 5 failed logins, so the
    # stack's own login goes first: a lockout (from runs in quick succession) shows as such.
    with service_client(stack, "grafana", timeout=5) as http:
        own = http.get("/api/user", auth=(env.get("GRAFANA_ADMIN_USER", "admin"), env["GRAFANA_ADMIN_PASSWORD"]))
        default = http.get("/api/user", auth=("admin", "admin"))
    assert own.status_code == 200, f"grafana: the stack's admin credentials got {own.status_code} {own.text[:200]}"
    assert default.status_code == 401, f"grafana: admin/admin got {default.status_code} {default.text[:200]}"
