"""Idempotent first-start user provisioning for SecantusDB in the mongo role.

SecantusDB can only create users while it runs without --auth. So, when the data volume
has no marker matching the current MONGO_* credentials, this starts it without auth on
127.0.0.1:27018 (unreachable from other containers, and not the port the healthcheck
probes), creates or updates:
  * MONGO_INITDB_ROOT_USERNAME / _PASSWORD: role root on admin
  * MONGO_APP_USERNAME / _PASSWORD: role readWrite on MONGO_DATABASE only
stops it cleanly (SIGTERM) and writes the marker (a salted PBKDF2 of the credentials, never
the credentials themselves). The caller then starts the server with --auth.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import NoReturn

from pymongo import MongoClient
from pymongo.errors import OperationFailure, PyMongoError

PROVISION_PORT = 27018
START_TIMEOUT_S = float(os.environ.get("MONGO_PROVISION_START_TIMEOUT", "60"))
STOP_TIMEOUT_S = float(os.environ.get("MONGO_PROVISION_STOP_TIMEOUT", "60"))
MARKER_NAME = ".stackproof-users"


def log(msg: str) -> None:
    print(f"[mongo-provision] {msg}", file=sys.stderr, flush=True)


def fail(msg: str) -> NoReturn:
    log(f"ERROR: {msg}")
    sys.exit(1)


def required(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        fail(f"{name} is not set; the mongo role needs MONGO_INITDB_ROOT_USERNAME, "
             "MONGO_INITDB_ROOT_PASSWORD, MONGO_APP_USERNAME and MONGO_APP_PASSWORD")
    return value


def fingerprint(spec: dict[str, str], salt: bytes) -> str:
    material = json.dumps(spec, sort_keys=True).encode()
    return hashlib.pbkdf2_hmac("sha256", material, salt, 200_000).hex()


def marker_matches(marker: Path, spec: dict[str, str]) -> bool:
    try:
        data = json.loads(marker.read_text())
        salt = bytes.fromhex(data["salt"])
        return hmac.compare_digest(data["pbkdf2_sha256"], fingerprint(spec, salt))
    except (OSError, ValueError, KeyError):
        return False


def write_marker(marker: Path, spec: dict[str, str]) -> None:
    salt = secrets.token_bytes(16)
    tmp = marker.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"salt": salt.hex(), "pbkdf2_sha256": fingerprint(spec, salt),
                   "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}, fh)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, marker)


def ensure_user(client: MongoClient, db: str, user: str, pwd: str, roles: list[dict[str, str]]) -> None:
    database = client[db]
    existing = database.command("usersInfo", user).get("users", [])
    if existing:
        database.command("updateUser", user, pwd=pwd, roles=roles)
        log(f"updated user {user}@{db} roles={[r['role'] + '@' + r['db'] for r in roles]}")
    else:
        database.command("createUser", user, pwd=pwd, roles=roles)
        log(f"created user {user}@{db} roles={[r['role'] + '@' + r['db'] for r in roles]}")


def main() -> None:
    data_dir = Path(os.environ.get("MONGO_DATA_DIR", "/data/db"))
    spec = {
        "root_user": required("MONGO_INITDB_ROOT_USERNAME"),
        "root_password": required("MONGO_INITDB_ROOT_PASSWORD"),
        "app_user": required("MONGO_APP_USERNAME"),
        "app_password": required("MONGO_APP_PASSWORD"),
        "database": os.environ.get("MONGO_DATABASE") or "ecommerce",
    }
    if spec["root_user"] == spec["app_user"]:
        fail("MONGO_APP_USERNAME must differ from MONGO_INITDB_ROOT_USERNAME")
    marker = data_dir / MARKER_NAME
    if marker_matches(marker, spec):
        log("users already provisioned for these credentials; skipping")
        return

    log(f"provisioning users (SecantusDB without auth on 127.0.0.1:{PROVISION_PORT})")
    started = time.monotonic()
    proc = subprocess.Popen([
        "secantusd-py", "--host", "127.0.0.1", "--port", str(PROVISION_PORT),
        "--storage-path", str(data_dir), "--standalone",
        "--cache-size", os.environ.get("MONGO_CACHE_SIZE", "256M"),
    ])
    try:
        client = MongoClient(f"mongodb://127.0.0.1:{PROVISION_PORT}/?directConnection=true",
                             serverSelectionTimeoutMS=500, connectTimeoutMS=500)
        deadline = time.monotonic() + START_TIMEOUT_S
        last_error: Exception | None = None
        while True:
            if proc.poll() is not None:
                fail(f"secantusd-py exited with status {proc.returncode} during provisioning")
            try:
                client.admin.command("ping")
                break
            except PyMongoError as exc:
                last_error = exc
            if time.monotonic() >= deadline:
                fail(f"SecantusDB did not answer ping on 127.0.0.1:{PROVISION_PORT} within "
                     f"{START_TIMEOUT_S:.0f}s (last error: {last_error})")
            time.sleep(0.2)
        try:
            ensure_user(client, "admin", spec["root_user"], spec["root_password"],
                        [{"role": "root", "db": "admin"}])
            ensure_user(client, spec["database"], spec["app_user"], spec["app_password"],
                        [{"role": "readWrite", "db": spec["database"]}])
        except OperationFailure as exc:
            fail(f"user provisioning failed: {exc}")
        client.close()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                log(f"SecantusDB did not stop within {STOP_TIMEOUT_S:.0f}s of SIGTERM; SIGKILL")
                proc.kill()
                proc.wait()
                fail("provisioning server had to be killed; marker not written, will retry next start")
    if proc.returncode not in (0, -signal.SIGTERM):
        fail(f"provisioning server exited with status {proc.returncode}; marker not written")
    write_marker(marker, spec)
    log(f"users provisioned in {time.monotonic() - started:.1f}s")


if __name__ == "__main__":
    main()
