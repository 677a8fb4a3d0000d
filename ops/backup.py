"""MongoDB collections and object-store contents to ``backups/<timestamp>/`` and back.

Layout of a backup::

    manifest.json                      what was saved, with counts and checksums
    mongo/<collection>.jsonl           one document per line, MongoDB extended JSON
    mongo/<collection>.indexes.json    the collection's indexes (but _id)
    objects/<key>                      each object's bytes; manifest has type, metadata, sha256

Everything goes through the app user (readWrite on the app database is all a backup of
it needs) and the object store's access key. ``restore`` replaces the collections' and
bucket's contents with the backup's and checks every object's checksum afterwards.

Off the box: with ``BACKUP_S3_URL`` set (``https://s3.eu-west-1.amazonaws.com/my-bucket/stackproof``;
the scheme decides TLS), each backup is uploaded there under its timestamp, the manifest last,
so a backup without its manifest is an interrupted upload and is never restored or counted.
``BACKUP_KEEP`` (default 7) backups are kept, locally and in the bucket; older ones are deleted.
``restore --from-s3 latest`` downloads one and restores it. ``schedule`` runs a backup every
night at ``BACKUP_AT`` (UTC), in the opt-in ``backup`` service (compose/backup.yaml).
"""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import urllib3
from bson import json_util
from minio import Minio
from minio.datatypes import Object
from minio.deleteobjects import DeleteObject
from pymongo import MongoClient
from pymongo.database import Database

from ops import status as status_file

if TYPE_CHECKING:  # the backup service's image has services/ and ops/, not fixtures/
    from fixtures.stack import ComposeStack, Stack

JSON_OPTIONS = json_util.CANONICAL_JSON_OPTIONS
# A backup's folder name (UTC): sorts as it ages, so "the last N" is the last N names.
NAME_FORMAT = "%Y%m%dT%H%M%SZ"
NAME = re.compile(r"^\d{8}T\d{6}Z$")
MANIFEST = "manifest.json"
DEFAULT_KEEP = 7
DEFAULT_AT = "02:30"


@dataclass(frozen=True)
class Scope:
    """Part of the data: in each named collection the documents its filter matches, and the
    objects under the key prefixes. A scoped backup, wipe or restore touches that part and
    nothing else, so its cost follows the part, not the database (the suite's restore drill
    works on its own products while the catalogue holds millions)."""

    filters: Mapping[str, Mapping[str, Any]]  # collection -> filter (use indexed fields)
    prefixes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"filters": json.loads(json_util.dumps(dict(self.filters), json_options=JSON_OPTIONS)),
                "prefixes": list(self.prefixes)}

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Scope | None:
        if data is None:
            return None
        filters = json_util.loads(json.dumps(data["filters"]), json_options=JSON_OPTIONS)
        return cls(filters, tuple(data["prefixes"]))


@dataclass
class Target:
    mongo_uri: str
    database: str
    objects: Minio
    bucket: str
    scope: Scope | None = field(default=None)  # None: the whole database and bucket


def _collections(db: Database[dict[str, Any]], scope: Scope | None) -> list[str]:
    return sorted(scope.filters) if scope else sorted(db.list_collection_names())


def _query(name: str, scope: Scope | None) -> dict[str, Any]:
    return dict(scope.filters[name]) if scope else {}


def _objects(target: Target, scope: Scope | None, versions: bool = False) -> Iterator[Object]:
    """The objects in scope: listed by prefix, never the whole bucket, when scoped."""
    for prefix in scope.prefixes if scope else (None,):
        yield from target.objects.list_objects(target.bucket, prefix=prefix, recursive=True, include_version=versions)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def backup(target: Target, dest: Path) -> dict[str, Any]:
    dest.mkdir(parents=True, exist_ok=False)
    (dest / "mongo").mkdir()
    (dest / "objects").mkdir()
    scope = target.scope
    manifest: dict[str, Any] = {"created_at": time.time(), "database": target.database, "bucket": target.bucket,
                                "scope": scope.to_json() if scope else None, "collections": {}, "objects": {}}
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client[target.database]
        for name in _collections(db, scope):
            count = 0
            with (dest / "mongo" / f"{name}.jsonl").open("w") as out:
                for doc in db[name].find(_query(name, scope)).sort("_id", 1):
                    out.write(json_util.dumps(doc, json_options=JSON_OPTIONS) + "\n")
                    count += 1
            indexes = [ix for ix in db[name].list_indexes() if ix["name"] != "_id_"]
            (dest / "mongo" / f"{name}.indexes.json").write_text(json_util.dumps(indexes, json_options=JSON_OPTIONS))
            manifest["collections"][name] = {"documents": count, "indexes": len(indexes)}
            print(f"backup: {target.database}.{name}: {count} documents, {len(indexes)} indexes", flush=True)
    for obj in _objects(target, scope):
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
    """Replace what the backup covers with the backup's contents. A scoped backup (its manifest
    records the scope) replaces its part and leaves the rest of the database and bucket alone."""
    manifest: dict[str, Any] = json.loads((src / "manifest.json").read_text())
    scope = Scope.from_json(manifest.get("scope"))
    if target.scope is not None and (scope is None or scope.to_json() != target.scope.to_json()):
        raise RuntimeError(f"restore: the backup's scope {manifest.get('scope')} is not the target's {target.scope.to_json()}")
    _restore_collections(target, src, manifest["collections"], scope)
    _restore_objects(target, src, manifest["objects"], scope)
    return manifest


def _restore_collections(target: Target, src: Path, collections: dict[str, Any], scope: Scope | None) -> None:
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client.get_database(target.database)
        for name in set(_collections(db, scope)) - set(collections):
            db[name].delete_many(_query(name, scope))  # the database ends up as it was: nothing newer survives
            print(f"restore: {target.database}.{name}: emptied (not in the backup)", flush=True)
        for name, expected in collections.items():
            docs = [json_util.loads(line, json_options=JSON_OPTIONS)
                    for line in (src / "mongo" / f"{name}.jsonl").read_text().splitlines() if line]
            db[name].delete_many(_query(name, scope))
            if docs:
                db[name].insert_many(docs)
            for index in json_util.loads((src / "mongo" / f"{name}.indexes.json").read_text()):
                keys = list(index.pop("key").items())
                index.pop("v", None)
                index.pop("ns", None)
                db[name].create_index(keys, **index)
            restored = db[name].count_documents(_query(name, scope))
            if restored != expected["documents"]:
                raise RuntimeError(f"restore: {name} has {restored} documents, backup had {expected['documents']}")
            print(f"restore: {target.database}.{name}: {restored} documents", flush=True)


def _restore_objects(target: Target, src: Path, wanted: dict[str, Any], scope: Scope | None) -> None:
    for obj in list(_objects(target, scope)):
        if obj.object_name is not None and obj.object_name not in wanted:
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


def reset(target: Target) -> None:
    """Empty the database's collections and the bucket (with a scope: only that part)."""
    scope = target.scope
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client[target.database]
        for name in _collections(db, scope):
            db[name].delete_many(_query(name, scope))
    for obj in list(_objects(target, scope, versions=True)):
        assert obj.object_name is not None
        target.objects.remove_object(target.bucket, obj.object_name, version_id=obj.version_id)
    part = "the scoped part of " if scope else ""
    print(f"reset: {part}{target.database} emptied, {part}bucket {target.bucket!r} emptied", flush=True)


# --- what a restore must bring back: the drill's comparison ---------------------------------

def snapshot(target: Target) -> dict[str, dict[str, str]]:
    """Every document's and object's checksum (in the target's scope), by collection/_id and by
    key: two snapshots are equal exactly when a restore brought everything back as it was."""
    found: dict[str, dict[str, str]] = {}
    scope = target.scope
    with MongoClient[dict[str, Any]](target.mongo_uri, serverSelectionTimeoutMS=5000) as client:
        db: Database[dict[str, Any]] = client[target.database]
        for name in _collections(db, scope):
            for doc in db[name].find(_query(name, scope)).sort("_id", 1):
                key = json_util.dumps(doc["_id"], json_options=JSON_OPTIONS)
                found.setdefault(f"mongo/{name}", {})[key] = _sha256(
                    json_util.dumps(doc, json_options=JSON_OPTIONS).encode())
    for obj in _objects(target, scope):
        assert obj.object_name is not None
        response = target.objects.get_object(target.bucket, obj.object_name)
        try:
            found.setdefault("objects", {})[obj.object_name] = _sha256(response.read())
        finally:
            response.close()
            response.release_conn()
    return found


def differences(before: dict[str, dict[str, str]], after: dict[str, dict[str, str]], limit: int = 10) -> list[str]:
    """What ``after`` lacks, holds extra, or holds changed, against ``before`` (at most ``limit`` lines)."""
    found: list[str] = []
    for part in sorted(set(before) | set(after)):
        was, now = before.get(part, {}), after.get(part, {})
        found += [f"{part}: {key} missing" for key in sorted(set(was) - set(now))]
        found += [f"{part}: {key} not in the backup" for key in sorted(set(now) - set(was))]
        found += [f"{part}: {key} checksum {now[key][:12]} != {was[key][:12]}"
                  for key in sorted(set(was) & set(now)) if was[key] != now[key]]
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])


# --- keeping the last N, here and in the bucket ----------------------------------------------

def backup_name(when: float | None = None) -> str:
    return time.strftime(NAME_FORMAT, time.gmtime(when))


def expired(names: list[str], keep: int) -> list[str]:
    """The backups beyond the newest ``keep`` (names that are not backups are never touched)."""
    if keep < 1:
        raise ValueError(f"BACKUP_KEEP must be at least 1 (a prune must never delete the last backup), got {keep}")
    dated = sorted(name for name in names if NAME.match(name))
    return dated[:-keep]


def local_backups(into: Path) -> list[str]:
    if not into.is_dir():
        return []
    return sorted(p.name for p in into.iterdir() if NAME.match(p.name) and (p / MANIFEST).is_file())


def prune_local(into: Path, keep: int) -> list[str]:
    dropped = expired(local_backups(into), keep)
    for name in dropped:
        shutil.rmtree(into / name)
        print(f"prune: removed {into / name} (keeping the last {keep})", flush=True)
    return dropped


@dataclass(frozen=True)
class Remote:
    """An S3 bucket (of the user's, off the box) and a key prefix the backups go under."""

    client: Minio
    bucket: str
    prefix: str  # "" or ending in "/"
    url: str

    def key(self, name: str, relative: str = "") -> str:
        return f"{self.prefix}{name}/{relative}"


def parse_s3_url(url: str) -> tuple[str, bool, str, str]:
    """``https://host[:port]/bucket[/prefix]`` (``s3://`` is https) to endpoint, TLS, bucket, prefix."""
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https", "s3"} or not parts.netloc:
        raise ValueError(f"BACKUP_S3_URL must look like https://host/bucket[/prefix], got {url!r}")
    bucket, _, prefix = parts.path.strip("/").partition("/")
    if not bucket:
        raise ValueError(f"BACKUP_S3_URL names no bucket: {url!r}")
    return parts.netloc, parts.scheme != "http", bucket, f"{prefix.strip('/')}/" if prefix.strip("/") else ""


def remote_from_env(env: Mapping[str, str], timeout: float = 60.0) -> Remote | None:
    """The backup bucket ``BACKUP_S3_URL`` names, signed with ``BACKUP_S3_ACCESS_KEY``/``_SECRET_KEY``;
    None when no URL is set (backups stay on this machine)."""
    url = env.get("BACKUP_S3_URL", "").strip()
    if not url:
        return None
    missing = [name for name in ("BACKUP_S3_ACCESS_KEY", "BACKUP_S3_SECRET_KEY") if not env.get(name)]
    if missing:
        raise ValueError(f"BACKUP_S3_URL is set but {', '.join(missing)} is not")
    endpoint, secure, bucket, prefix = parse_s3_url(url)
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=timeout),
                               retries=urllib3.Retry(total=3, backoff_factor=1.0), maxsize=4)
    client = Minio(endpoint, access_key=env["BACKUP_S3_ACCESS_KEY"], secret_key=env["BACKUP_S3_SECRET_KEY"],
                   secure=secure, region=env.get("BACKUP_S3_REGION") or None, http_client=http)
    return Remote(client, bucket, prefix, url)


def upload(remote: Remote, src: Path) -> int:
    """Every file of the backup folder ``src``, the manifest last: until it is there the
    backup does not count (an interrupted upload is never restored nor kept)."""
    files = sorted(p for p in src.rglob("*") if p.is_file() and p != src / MANIFEST) + [src / MANIFEST]
    for path in files:
        remote.client.fput_object(remote.bucket, remote.key(src.name, path.relative_to(src).as_posix()), str(path))
    print(f"upload: {len(files)} files of {src.name} to {remote.url}", flush=True)
    return len(files)


def remote_backups(remote: Remote) -> list[str]:
    names = []
    for obj in remote.client.list_objects(remote.bucket, prefix=remote.prefix, recursive=True):
        name, _, rest = (obj.object_name or "")[len(remote.prefix):].partition("/")
        if rest == MANIFEST and NAME.match(name):
            names.append(name)
    return sorted(names)


def download(remote: Remote, name: str, into: Path) -> Path:
    """Backup ``name`` (or ``latest``) from the bucket into ``into/<name>``."""
    if name == "latest":
        names = remote_backups(remote)
        if not names:
            raise RuntimeError(f"download: no complete backup under {remote.url}")
        name = names[-1]
    dest = into / name
    count = 0
    for obj in remote.client.list_objects(remote.bucket, prefix=remote.key(name), recursive=True):
        assert obj.object_name is not None
        relative = obj.object_name[len(remote.key(name)):]
        if ".." in Path(relative).parts:  # keys are the bucket owner's; never let one write outside dest
            raise RuntimeError(f"download: refusing key {obj.object_name!r}")
        remote.client.fget_object(remote.bucket, obj.object_name, str(dest / relative))
        count += 1
    if not (dest / MANIFEST).is_file():
        raise RuntimeError(f"download: {remote.key(name)} has no {MANIFEST} (not a complete backup)")
    print(f"download: {count} files of {name} from {remote.url} to {dest}", flush=True)
    return dest


def prune_remote(remote: Remote, keep: int) -> list[str]:
    dropped = expired(remote_backups(remote), keep)
    for name in dropped:
        keys = [DeleteObject(o.object_name) for o in remote.client.list_objects(
            remote.bucket, prefix=remote.key(name), recursive=True) if o.object_name is not None]
        errors = [f"{e.name}: {e.code}" for e in remote.client.remove_objects(remote.bucket, keys)]
        if errors:
            raise RuntimeError(f"prune: could not delete {remote.key(name)} from {remote.url}: {errors[:5]}")
        print(f"prune: removed {remote.key(name)} from {remote.url} (keeping the last {keep})", flush=True)
    return dropped


def keep_setting(env: Mapping[str, str]) -> int:
    raw = env.get("BACKUP_KEEP") or str(DEFAULT_KEEP)
    try:
        return int(raw)
    except ValueError:
        raise ValueError(f"BACKUP_KEEP must be a whole number, got {raw!r}") from None


def run_backup(target: Target, env: Mapping[str, str], into: Path, upload_it: bool = True) -> Path:
    """One backup as `make db-backup` and the nightly job make it: write, upload, prune."""
    keep = keep_setting(env)
    remote = remote_from_env(env) if upload_it else None
    dest = into / backup_name()
    backup(target, dest)
    print(f"backup: written to {dest}", flush=True)
    if remote is not None:
        upload(remote, dest)
        prune_remote(remote, keep)
    prune_local(into, keep)
    return dest


# --- the CLI: the running stack's servers, found as the suites find them -------------------

def target_for(stack: Stack) -> Target:
    """From this machine, as the suites reach the stack: its addresses and .env, through the
    suites' own clients (MINIO_SECURE honoured)."""
    from fixtures.clients import mongo, objectstore

    env = stack.env()
    database = env.get("MONGO_DATABASE", "ecommerce")
    uri = mongo.uri(stack, env["MONGO_APP_USERNAME"], env["MONGO_APP_PASSWORD"], database)
    return Target(uri, database, objectstore.client(stack, timeout=60.0), objectstore.bucket(stack))


def stack_target(project: str, env_file: Path) -> tuple[Target, ComposeStack]:
    from fixtures.stack import ComposeStack, StackError

    if not env_file.exists():
        raise SystemExit(f"{env_file} not found: run `make env` (or point --env-file at the stack's .env)")
    try:
        stack = ComposeStack(project, env_file=env_file)
        return target_for(stack), stack
    except StackError as exc:
        raise SystemExit(str(exc)) from None


def in_stack_target() -> Target:
    """Inside the stack (the backup service): the backend's own settings and credentials,
    read as the backend reads them (services.common.settings)."""
    from services.common.settings import load_backend

    settings = load_backend()
    http = urllib3.PoolManager(timeout=urllib3.Timeout(connect=10.0, read=60.0),
                               retries=urllib3.Retry(total=0), maxsize=4)
    objects = Minio(settings.minio_endpoint, access_key=settings.minio_access_key,
                    secret_key=settings.minio_secret_key, secure=settings.minio_secure, http_client=http)
    return Target(settings.mongo_url, settings.mongo_database, objects, settings.minio_bucket)


def next_run(at: str, now: dt.datetime) -> dt.datetime:
    """The next ``HH:MM`` (UTC) after ``now``."""
    hour, _, minute = at.partition(":")
    candidate = now.replace(hour=int(hour), minute=int(minute), second=0, microsecond=0)
    return candidate if candidate > now else candidate + dt.timedelta(days=1)


def schedule(make_target: Callable[[], Target], env: Mapping[str, str], into: Path, status: Path,
             at: str, runs: int | None = None) -> None:
    """Run a backup every day at ``at`` (UTC), forever (or ``runs`` times); ``status`` records
    the last outcome for the healthcheck. A failed night is reported and retried the next."""
    done = 0
    while runs is None or done < runs:
        when = next_run(at, dt.datetime.now(dt.UTC))
        status_file.write(status, {"next_run": when.isoformat(), "last": status_file.read(status).get("last")})
        print(f"schedule: next backup at {when.isoformat()}", flush=True)
        time.sleep(max(0.0, (when - dt.datetime.now(dt.UTC)).total_seconds()))
        started = time.time()
        try:
            dest = run_backup(make_target(), env, into)
            last: dict[str, Any] = {"ok": True, "name": dest.name, "seconds": round(time.time() - started, 1)}
        except Exception as exc:  # noqa: BLE001 (any failure is reported, and the job lives to retry)
            print(f"schedule: backup failed: {exc!r}", file=sys.stderr, flush=True)
            last = {"ok": False, "error": repr(exc)[:500], "at": dt.datetime.now(dt.UTC).isoformat()}
        status_file.write(status, {"next_run": next_run(at, dt.datetime.now(dt.UTC)).isoformat(), "last": last})
        done += 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m ops.backup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("action", choices=["backup", "restore", "reset", "list", "schedule", "health"])
    parser.add_argument("path", nargs="?", type=Path, help="restore: the backup folder")
    parser.add_argument("--project", default="stackproof")
    parser.add_argument("--env-file", type=Path, default=Path(".env"))
    parser.add_argument("--in-stack", action="store_true",
                        help="run inside the stack (the backup service): servers and settings from the environment")
    parser.add_argument("--into", type=Path, default=Path("backups"), help="backup: parent folder")
    parser.add_argument("--no-upload", action="store_true", help="backup: keep it on this machine only")
    parser.add_argument("--from-s3", metavar="NAME", help="restore: download NAME (or latest) from BACKUP_S3_URL first")
    parser.add_argument("--at", default=None, help=f"schedule: HH:MM UTC (default BACKUP_AT or {DEFAULT_AT})")
    parser.add_argument("--status", type=Path, default=Path("/tmp/backup-status.json"),
                        help="schedule/health: where the last outcome is recorded")
    return parser


def _restore(parser: argparse.ArgumentParser, args: argparse.Namespace, target: Target,
             env: Mapping[str, str]) -> None:
    path = args.path
    if args.from_s3:
        remote = remote_from_env(env)
        if remote is None:
            parser.error("restore --from-s3 needs BACKUP_S3_URL (and its credentials) in the environment or .env")
        path = download(remote, args.from_s3, args.into / "downloaded")
    if path is None or not (path / MANIFEST).exists():
        parser.error(f"restore needs a backup folder with a manifest.json, got {path}")
    restore(target, path)


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.action == "health":
        return status_file.backup_health(args.status)
    stack: ComposeStack | None = None
    if args.in_stack:
        env: Mapping[str, str] = os.environ
        target = in_stack_target()
    else:
        target, stack = stack_target(args.project, args.env_file)
        env = {**stack.env(), **{k: v for k, v in os.environ.items() if k.startswith("BACKUP_")}}
    if args.action == "backup":
        run_backup(target, env, args.into, upload_it=not args.no_upload)
    elif args.action == "restore":
        _restore(parser, args, target, env)
    elif args.action == "list":
        remote = remote_from_env(env)
        print("local:", " ".join(local_backups(args.into)) or "none")
        print(f"{remote.url if remote else 'BACKUP_S3_URL'}:",
              " ".join(remote_backups(remote)) if remote else "not set")
    elif args.action == "schedule":
        schedule(in_stack_target if args.in_stack else lambda: target, env, args.into, args.status,
                 args.at or env.get("BACKUP_AT") or DEFAULT_AT)
    else:
        return _reset(args.project, stack, target)
    return 0


def _reset(project: str, stack: ComposeStack | None, target: Target) -> int:
    from fixtures.stack import CONFIG_FILES_LABEL

    config_files = stack.container("mongo").labels.get(CONFIG_FILES_LABEL, "") if stack else ""
    if "compose.development.yaml" not in config_files:
        print(f"reset: refused: project {project!r} is not the development stack ({config_files})", file=sys.stderr)
        return 1
    reset(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
