"""The stack's init jobs against the real S3-, Elasticsearch- and Sentry-role servers; run twice
each, since compose may re-run them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from minio import Minio
from minio.error import S3Error

from harness.servers import ObjectStore, SearchServer, SentryServer
from services.common.search import client as search_client
from services.init import objectstore, search, sentry
from tests.servers.fixtures import APP_BUCKET

pytestmark = pytest.mark.servers


def objectstore_env(monkeypatch: pytest.MonkeyPatch, store: ObjectStore, app: tuple[str, str] | None = None) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", store.endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", store.access_key)
    monkeypatch.setenv("MINIO_SECRET_KEY", store.secret_key)
    app_key, app_secret = app or (store.app_access_key, store.app_secret_key)
    monkeypatch.setenv("MINIO_APP_ACCESS_KEY", app_key)
    monkeypatch.setenv("MINIO_APP_SECRET_KEY", app_secret)
    monkeypatch.setenv("MINIO_BUCKET", APP_BUCKET)


def test_bucket_created_versioned_private(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    objectstore_env(monkeypatch, object_store)
    assert objectstore.main() == 0
    assert "the backend's key lists 'init-test' and cannot create buckets" in capsys.readouterr().out
    assert objectstore.main() == 0
    admin = Minio(object_store.endpoint, object_store.access_key, object_store.secret_key, secure=False)
    assert admin.get_bucket_versioning("init-test").status == "Enabled"
    with pytest.raises(S3Error):
        admin.get_bucket_policy("init-test")
    anonymous = Minio(object_store.endpoint, secure=False)
    with pytest.raises(S3Error) as refused:
        anonymous.list_objects("init-test").__next__()
    assert refused.value.code in {"AccessDenied", "AllAccessDisabled"}


def test_the_admin_key_is_refused_as_the_backends(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    objectstore_env(monkeypatch, object_store, app=(object_store.access_key, object_store.secret_key))
    assert objectstore.main() == 1
    assert "MINIO_APP_ACCESS_KEY is the admin key" in capsys.readouterr().err


def test_a_backend_key_that_can_create_buckets_fails_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    # A server configured with a wide key for the backend (say, by a careless override).
    with ObjectStore(workdir=tmp_path, app_actions=["Admin", "Read", "Write", "List"]) as wide:
        objectstore_env(monkeypatch, wide)
        assert objectstore.main() == 1
    assert "it can create buckets" in capsys.readouterr().err


def test_a_backend_key_without_its_bucket_fails_the_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    with ObjectStore(workdir=tmp_path, app_actions=["Read:elsewhere", "List:elsewhere"]) as narrow:
        objectstore_env(monkeypatch, narrow)
        assert objectstore.main() == 1
    assert "cannot list 'init-test': AccessDenied" in capsys.readouterr().err


def test_index_template_types_the_ecs_fields(search_server: SearchServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ELASTICSEARCH_URL", search_server.url)
    assert search.main() == 0
    assert search.main() == 0
    es = search_client(search_server.url)
    try:
        es.index(index="backend-logs-2026.01.01", document={"@timestamp": "2026-01-01T00:00:00Z", "request_id": "r1",
                                                              "http": {"response": {"status_code": 200}}})
        mapping = es.indices.get_mapping(index="backend-logs-2026.01.01")["backend-logs-2026.01.01"]["mappings"]
    finally:
        es.close()
    assert mapping["properties"]["request_id"]["type"] == "keyword"
    assert mapping["properties"]["@timestamp"]["type"] == "date"


def test_sentry_projects_and_dsn_files(sentry_server: SentryServer, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_URL", sentry_server.url)
    monkeypatch.setenv("SENTRY_API_TOKEN", sentry_server.token)
    monkeypatch.setenv("SENTRY_PROJECTS", "init-gateway,init-backend")
    monkeypatch.setenv("SENTRY_DSN_DIR", str(tmp_path))
    assert sentry.main() == 0
    first = json.loads((tmp_path / "sentry-dsns.json").read_text())
    assert sentry.main() == 0  # run again: the same projects, the same DSNs
    assert json.loads((tmp_path / "sentry-dsns.json").read_text()) == first
    assert first == {name: sentry_server.create_project(name) for name in ("init-gateway", "init-backend")}
    env_lines = (tmp_path / "sentry-dsns.env").read_text().splitlines()
    assert env_lines == [f"SENTRY_DSN_INIT_GATEWAY={first['init-gateway']}", f"SENTRY_DSN_INIT_BACKEND={first['init-backend']}"]


def test_sentry_init_names_the_refusal(sentry_server: SentryServer, tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SENTRY_URL", sentry_server.url)
    monkeypatch.setenv("SENTRY_API_TOKEN", "0" * 40)
    monkeypatch.setenv("SENTRY_DSN_DIR", str(tmp_path))
    with pytest.raises(SystemExit, match=r"sentry-init: GET .*/teams/ -> HTTP 40[13]"):
        sentry.main()
    assert not (tmp_path / "sentry-dsns.env").exists()


def test_seaweedfs_is_not_taken_for_minio(object_store: ObjectStore) -> None:
    # SeaweedFS would store an "add user" request as an object: the probe must say no first.
    admin = objectstore.MinioAdmin(endpoint=object_store.endpoint, secure=False,
                                   credentials=objectstore.StaticProvider(object_store.access_key, object_store.secret_key))
    assert objectstore.speaks_minio_admin(admin) is False


class RecordingAdmin:
    """MinioAdmin's calls as MinIO answers them; the official path cannot run here."""

    def __init__(self, attached: bool = False) -> None:
        self.calls: list[tuple[str, object]] = []
        self.attached = attached

    def user_add(self, access_key: str, secret_key: str) -> str:
        self.calls.append(("user_add", access_key))
        return ""

    def policy_add(self, name: str, policy: dict[str, object]) -> str:
        self.calls.append(("policy_add", (name, policy)))
        return ""

    def attach_policy(self, policies: list[str], user: str) -> str:
        self.calls.append(("attach_policy", (policies, user)))
        if self.attached:
            raise objectstore.MinioAdminException("400", f"<Code>{objectstore.ALREADY_APPLIED}</Code>")
        return ""


@pytest.mark.parametrize("attached", [False, True])
def test_minio_grants_the_app_key_its_bucket_only(attached: bool) -> None:
    admin = RecordingAdmin(attached)
    objectstore.grant_app_key(admin, "ecommerce", "app-key", "app-secret")  # type: ignore[arg-type]
    (_, user), (_, (name, policy)), (_, (policies, attached_to)) = admin.calls
    assert user == attached_to == "app-key" and policies == [name]
    resources = sorted(r for statement in policy["Statement"] for r in statement["Resource"])  # type: ignore[index]
    assert resources == ["arn:aws:s3:::ecommerce", "arn:aws:s3:::ecommerce/*"]
    actions = {a for statement in policy["Statement"] for a in statement["Action"]}  # type: ignore[index]
    assert not {a for a in actions if "Bucket" in a and a not in {"s3:ListBucket", "s3:GetBucketLocation"}}
