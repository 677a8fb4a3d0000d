"""Bucket for product images: created, versioned, private. Works with MinIO and SeaweedFS."""

from __future__ import annotations

import os
import sys

from minio import Minio
from minio.commonconfig import ENABLED
from minio.error import S3Error
from minio.versioningconfig import VersioningConfig


def main() -> int:
    bucket = os.environ.get("MINIO_BUCKET", "ecommerce")
    client = Minio(os.environ.get("MINIO_ENDPOINT", "minio:9000"), access_key=os.environ["MINIO_ACCESS_KEY"],
                   secret_key=os.environ["MINIO_SECRET_KEY"], secure=os.environ.get("MINIO_SECURE") == "true")
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
    return 0 if status == ENABLED else 1


if __name__ == "__main__":
    sys.exit(main())
