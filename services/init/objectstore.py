"""Bucket for product images: created, versioned, private; and the backend's own key, which
may read and write objects in that bucket and nothing else. Works with MinIO and SeaweedFS.

The admin key (MINIO_ACCESS_KEY) is this job's only: the backend signs with
MINIO_APP_ACCESS_KEY. MinIO grants that key through its admin API (a user with a policy on
the bucket); SeaweedFS has no such API and is given the key, scoped to the bucket, at start
(images/minio/entrypoint.sh). Either way the job then proves the scope with the key itself:
it can list the bucket and cannot create one, or the job fails.
"""

from __future__ import annotations

import os
import secrets
import sys

from minio import Minio
from minio.commonconfig import ENABLED
from minio.credentials.providers import StaticProvider
from minio.error import MinioAdminException, S3Error
from minio.minioadmin import MinioAdmin
from minio.versioningconfig import VersioningConfig

APP_POLICY = "stackproof-app"
# MinIO answers a policy already attached with this code; re-running the job is normal.
ALREADY_APPLIED = "XMinioAdminPolicyChangeAlreadyApplied"


def app_policy(bucket: str) -> dict[str, object]:
    """Objects of ``bucket``: read, write, delete; the bucket itself: list and locate only."""
    return {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": ["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
         "Resource": [f"arn:aws:s3:::{bucket}/*"]},
        {"Effect": "Allow", "Action": ["s3:ListBucket", "s3:GetBucketLocation"], "Resource": [f"arn:aws:s3:::{bucket}"]},
    ]}


def ensure_bucket(client: Minio, bucket: str) -> bool:
    if client.bucket_exists(bucket):
        print(f"objectstore-init: bucket {bucket!r} exists")
    else:
        client.make_bucket(bucket)
        print(f"objectstore-init: bucket {bucket!r} created")
    client.set_bucket_versioning(bucket, VersioningConfig(ENABLED))
    try:
        # Private means no bucket policy at all: only signed requests get in.
        client.delete_bucket_policy(bucket)
    except S3Error as exc:
        if exc.code not in {"NoSuchBucketPolicy", "NoSuchPolicy"}:
            raise
    status = client.get_bucket_versioning(bucket).status
    print(f"objectstore-init: bucket {bucket!r} versioning={status}, no policy (private)")
    return status == ENABLED


def speaks_minio_admin(admin: MinioAdmin) -> bool:
    """MinIO answers server info; SeaweedFS treats the admin path as an object (404), and would
    store an "add user" request as one, so nothing else may be sent before this answers."""
    try:
        admin.info()
    except MinioAdminException:
        return False
    return True


def grant_app_key(admin: MinioAdmin, bucket: str, access_key: str, secret_key: str) -> None:
    admin.user_add(access_key, secret_key)  # creates, or resets the secret of, the user
    admin.policy_add(APP_POLICY, policy=app_policy(bucket))
    try:
        admin.attach_policy([APP_POLICY], user=access_key)
    except MinioAdminException as exc:
        if ALREADY_APPLIED not in str(exc):
            raise
    print(f"objectstore-init: MinIO user for the backend's key has policy {APP_POLICY} on {bucket!r} only")


def scope_problems(app: Minio, bucket: str) -> list[str]:
    """What the backend's key can do beyond its bucket, or cannot do in it."""
    problems: list[str] = []
    try:
        next(iter(app.list_objects(bucket, prefix="stackproof-scope-probe/")), None)
    except S3Error as exc:
        problems.append(f"cannot list {bucket!r}: {exc.code}")
    elsewhere = f"stackproof-scope-probe-{secrets.token_hex(4)}"
    try:
        app.make_bucket(elsewhere)
    except S3Error as exc:
        if exc.code != "AccessDenied":
            problems.append(f"creating a bucket was refused with {exc.code}, not AccessDenied")
    else:
        app.remove_bucket(elsewhere)
        problems.append("it can create buckets (it is an admin key, or has a wider policy)")
    return problems


def main() -> int:
    bucket = os.environ.get("MINIO_BUCKET", "ecommerce")
    endpoint = os.environ.get("MINIO_ENDPOINT", "minio:9000")
    secure = os.environ.get("MINIO_SECURE") == "true"
    admin_key, admin_secret = os.environ["MINIO_ACCESS_KEY"], os.environ["MINIO_SECRET_KEY"]
    app_key, app_secret = os.environ["MINIO_APP_ACCESS_KEY"], os.environ["MINIO_APP_SECRET_KEY"]
    if app_key == admin_key:
        print("objectstore-init: MINIO_APP_ACCESS_KEY is the admin key; give the backend its own (make env)", file=sys.stderr)
        return 1
    if not ensure_bucket(Minio(endpoint, admin_key, admin_secret, secure=secure), bucket):
        return 1
    admin = MinioAdmin(endpoint=endpoint, credentials=StaticProvider(admin_key, admin_secret), secure=secure)
    if speaks_minio_admin(admin):
        grant_app_key(admin, bucket, app_key, app_secret)
    else:
        print("objectstore-init: no MinIO admin API here: the backend's key must be configured by the server (checked next)")
    problems = scope_problems(Minio(endpoint, app_key, app_secret, secure=secure), bucket)
    for problem in problems:
        print(f"objectstore-init: the backend's key (MINIO_APP_ACCESS_KEY): {problem}", file=sys.stderr)
    if not problems:
        print(f"objectstore-init: the backend's key lists {bucket!r} and cannot create buckets")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
