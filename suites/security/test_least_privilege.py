"""The credentials the backend *actually* uses toward each store are least-privileged: not
only that such users exist, but that the running backend process holds them.

The backend's settings are read from its PID 1's environment (``/proc/1/environ``: what the
process was started with, whatever the compose file or .env says now), through the
backend's own settings loader; MongoDB is asked, over the backend's own connection string,
who the connection is authenticated as; the S3 key is tried for what it may and may not do.
Secrets are never printed.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable

import pytest
from minio.error import S3Error

from fixtures.clients import objectstore
from fixtures.stack import ComposeStack, Stack

# Inside the backend container: its PID 1's environment, the backend's settings from it,
# and MongoDB's connectionStatus over the backend's own URL.
_MONGO_AUTH = """
import json
from pymongo import MongoClient
from services.common.settings import load_backend
env = dict(e.split("=", 1) for e in open("/proc/1/environ").read().split("\\0") if "=" in e)
settings = load_backend(env)
with MongoClient(settings.mongo_url, serverSelectionTimeoutMS=3000) as client:
    status = client[settings.mongo_database].command("connectionStatus")
print(json.dumps({"database": settings.mongo_database, "auth": status["authInfo"]}))
"""


def process_env(stack: ComposeStack, service: str) -> dict[str, str]:
    result = stack.exec(service, ["cat", "/proc/1/environ"])
    assert result.rc == 0, f"{service}: cannot read /proc/1/environ: exit {result.rc}"
    return dict(entry.split("=", 1) for entry in result.output.split("\0") if "=" in entry)


@pytest.fixture(scope="module")
def backend_s3_key(compose_stack: ComposeStack) -> tuple[str, str]:
    env = process_env(compose_stack, "backend")
    missing = [name for name in ("MINIO_ACCESS_KEY", "MINIO_SECRET_KEY") if not env.get(name)]
    assert not missing, f"backend's PID 1 has no {missing}"
    return env["MINIO_ACCESS_KEY"], env["MINIO_SECRET_KEY"]


def test_backend_is_authenticated_to_mongo_as_the_app_user_only(compose_stack: ComposeStack) -> None:
    result = compose_stack.exec("backend", ["python3", "-c", _MONGO_AUTH])
    assert result.rc == 0, f"backend: connectionStatus over its own MongoDB URL failed: {result}"
    status = json.loads(result.output.strip().splitlines()[-1])
    database, auth = status["database"], status["auth"]
    app_user = compose_stack.env().get("MONGO_APP_USERNAME", "app_user")
    users = [(u["user"], u["db"]) for u in auth["authenticatedUsers"]]
    roles = sorted((r["role"], r["db"]) for r in auth["authenticatedUserRoles"])
    assert users == [(app_user, database)], f"backend's MongoDB connection is authenticated as {users}, wanted {app_user}@{database}"
    assert roles == [("readWrite", database)], f"backend's MongoDB user has roles {roles}, wanted only readWrite@{database}"


def test_backend_signs_with_its_own_key_not_the_admin_key(stack: Stack, backend_s3_key: tuple[str, str]) -> None:
    admin_key, _ = objectstore.credentials(stack)
    assert backend_s3_key[0] != admin_key, "the backend signs S3 requests with the object store's admin key (MINIO_ACCESS_KEY)"


def test_backend_key_reaches_its_bucket_and_nothing_else(stack: Stack, backend_s3_key: tuple[str, str]) -> None:
    app = objectstore.with_credentials(stack, *backend_s3_key)
    bucket = objectstore.bucket(stack)
    next(iter(app.list_objects(bucket, prefix="stackproof-least-privilege/")), None)  # allowed at home
    other = f"stackproof-lp-{secrets.token_hex(4)}"
    admin = objectstore.client(stack)
    admin.make_bucket(other)
    try:
        calls: tuple[tuple[str, Callable[[], object]], ...] = (
            ("create a bucket", lambda: app.make_bucket(f"{other}-new")),
            (f"list bucket {other}", lambda: next(iter(app.list_objects(other)), None)),
            (f"change {bucket}'s policy", lambda: app.delete_bucket_policy(bucket)))
        for what, call in calls:
            try:
                call()
            except S3Error as refusal:
                assert refusal.code == "AccessDenied", f"backend's key: {what}: refused with {refusal.code}, not AccessDenied"
            else:
                raise AssertionError(f"backend's S3 key may {what}: it is wider than its bucket's objects")
    finally:
        admin.remove_bucket(other)
