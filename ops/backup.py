"""MongoDB collections and object-store contents to ``backups/<timestamp>/`` and back.

Layout of a backup::

    manifest.json                      what was saved, with counts and checksums
    mongo/<collection>.jsonl           one document per line, MongoDB extended JSON
    mongo/<collection>.indexes.json    the collection's indexes (but _id)
    objects/<key>                      each object's bytes; manifest has type, metadata, sha256

Everything goes through the app user (readWrite on the app database is all a backup of
it needs) and the object store's access key. ``restore`` replaces the collections' and
bucket's contents with the backup's and checks every object's checksum afterwards.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

from bson import json_util
from minio import Minio
from pymongo import MongoClient
from pymongo.database import Database

from fixtures.stack import CONFIG_FILES_LABEL, ComposeStack, StackError

JSON_OPTIONS = json_util.CANONICAL_JSON_OPTIONS


@dataclass
class Target:
    mongo_uri: str
    database: str
    objects: Minio
    bucket: str


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup(target: Target, dest: Path) -> dict[str, Any]:
    dest.mkdir(parents=True, exist_ok=False)
    (dest / "mongo").mkdir()
    (dest / "objects").mkdir()
    manifest: dict[str, Any] = {"created_at": time.time(), "database": target.database, "bucket": target.bucket,
                                "collections": {}, "objects": {}}
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client[target.database]
        for name in sorted(db.list_collection_names()):
            count = 0
            with (dest / "mongo" / f"{name}.jsonl").open("w") as out:
                for doc in db[name].find().sort("_id", 1):
                    out.write(json_util.dumps(doc, json_options=JSON_OPTIONS) + "\n")
                    count += 1
            indexes = [ix for ix in db[name].list_indexes() if ix["name"] != "_id_"]
            (dest / "mongo" / f"{name}.indexes.json").write_text(json_util.dumps(indexes, json_options=JSON_OPTIONS))
            manifest["collections"][name] = {"documents": count, "indexes": len(indexes)}
            print(f"backup: {target.database}.{name}: {count} documents, {len(indexes)} indexes", flush=True)
    for obj in target.objects.list_objects(target.bucket, recursive=True):
        assert obj.object_name is not None
        response = target.objects.get_object(target.bucket, obj.object_name)
        try:
            data = response.read()
        finally:
            response.close()
            response.release_conn()
        path = dest / "objects" / obj.object_name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        stat = target.objects.stat_object(target.bucket, obj.object_name)
        metadata = {k[len("x-amz-meta-"):]: v for k, v in (stat.metadata or {}).items() if k.lower().startswith("x-amz-meta-")}
        manifest["objects"][obj.object_name] = {"size": len(data), "sha256": _sha256(data),
                                                "content_type": stat.content_type, "metadata": metadata}
    print(f"backup: {len(manifest['objects'])} objects from bucket {target.bucket!r}", flush=True)
    (dest / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
    return manifest


def restore(target: Target, src: Path) -> dict[str, Any]:
    manifest: dict[str, Any] = json.loads((src / "manifest.json").read_text())
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client.get_database(target.database)
        for name in set(db.list_collection_names()) - set(manifest["collections"]):
            db[name].delete_many({})  # the database ends up as it was: nothing newer survives
            print(f"restore: {target.database}.{name}: emptied (not in the backup)", flush=True)
        for name, expected in manifest["collections"].items():
            docs = [json_util.loads(line, json_options=JSON_OPTIONS)
                    for line in (src / "mongo" / f"{name}.jsonl").read_text().splitlines() if line]
            db[name].delete_many({})
            if docs:
                db[name].insert_many(docs)
            for index in json_util.loads((src / "mongo" / f"{name}.indexes.json").read_text()):
                keys = list(index.pop("key").items())
                index.pop("v", None)
                index.pop("ns", None)
                db[name].create_index(keys, **index)
            restored = db[name].count_documents({})
            if restored != expected["documents"]:
                raise RuntimeError(f"restore: {name} has {restored} documents, backup had {expected['documents']}")
            print(f"restore: {target.database}.{name}: {restored} documents", flush=True)
    wanted = manifest["objects"]
    for obj in list(target.objects.list_objects(target.bucket, recursive=True)):
        if obj.object_name not in wanted:
            target.objects.remove_object(target.bucket, obj.object_name)
    for key, meta in wanted.items():
        path = src / "objects" / key
        with path.open("rb") as data:
            target.objects.put_object(target.bucket, key, data, path.stat().st_size,
                                      content_type=meta["content_type"], metadata=meta["metadata"])
        response = target.objects.get_object(target.bucket, key)
        try:
            if _sha256(response.read()) != meta["sha256"]:
                raise RuntimeError(f"restore: object {key!r} checksum differs after restore")
        finally:
            response.close()
            response.release_conn()
    print(f"restore: {len(wanted)} objects into bucket {target.bucket!r}, checksums verified", flush=True)
    return manifest


def reset(target: Target) -> None:
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client[target.database]
        for name in db.list_collection_names():
            db[name].delete_many({})
    for obj in list(target.objects.list_objects(target.bucket, recursive=True, include_version=True)):
        assert obj.object_name is not None
        target.objects.remove_object(target.bucket, obj.object_name, version_id=obj.version_id)
    print(f"reset: {target.database} emptied, bucket {target.bucket!r} emptied", flush=True)


# --- the CLI: the running stack's servers, found as the suites find them -------------------

def stack_target(project: str, env_file: Path) -> tuple[Target, ComposeStack]:
    if not env_file.exists():
        raise SystemExit(f"{env_file} not found: run `make env` (or point --env-file at the stack's .env)")
    try:
        stack = ComposeStack(project, env_file=env_file)
    except StackError as exc:
        raise SystemExit(str(exc)) from None
    env = stack.env()
    database = env.get("MONGO_DATABASE", "ecommerce")
    host, port = stack.address("mongo")
    uri = (f"mongodb://{quote_plus(env['MONGO_APP_USERNAME'])}:{quote_plus(env['MONGO_APP_PASSWORD'])}"
           f"@{host}:{port}/{database}?authSource={database}")
    s3_host, s3_port = stack.address("minio")
    objects = Minio(f"{s3_host}:{s3_port}", access_key=env["MINIO_ACCESS_KEY"],
                    secret_key=env["MINIO_SECRET_KEY"], secure=False)
    return Target(uri, database, objects, env.get("MINIO_BUCKET", "ecommerce")), stack


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ops.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["backup", "restore", "reset"])
    parser.add_argument("path", nargs="?", type=Path, help="restore: the backup folder")
    parser.add_argument("--project", default="stackproof")
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--into", type=Path, default=Path("backups"), help="backup: parent folder")
    args = parser.parse_args(argv)
    target, stack = stack_target(args.project, args.env_file)
    if args.action == "backup":
        dest = args.into / time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        backup(target, dest)
        print(f"backup: written to {dest}")
    elif args.action == "restore":
        if args.path is None or not (args.path / "manifest.json").exists():
            parser.error(f"restore needs a backup folder with a manifest.json, got {args.path}")
        restore(target, args.path)
    else:
        config_files = stack.container("mongo").labels.get(CONFIG_FILES_LABEL, "")
        if "compose.development.yaml" not in config_files:
            print(f"reset: refused: project {args.project!r} is not the development stack ({config_files})",
                  file=sys.stderr)
            return 1
        reset(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
