"""The stack's init jobs against the real S3- and Elasticsearch-role servers; run twice
each, since compose may re-run them."""

from __future__ import annotations

import pytest
from minio import Minio
from minio.error import S3Error

from services.common.search import client as search_client
from services.init import objectstore, search
from tests.servers import ObjectStore, SearchServer

pytestmark = pytest.mark.servers


def test_bucket_created_versioned_private(object_store: ObjectStore, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MINIO_ENDPOINT", object_store.endpoint)
    monkeypatch.setenv("MINIO_ACCESS_KEY", object_store.access_key)
    monkeypatch.setenv("MINIO_SECRET_KEY", object_store.secret_key)
    monkeypatch.setenv("MINIO_BUCKET", "init-test")
    assert objectstore.main() == 0
    assert objectstore.main() == 0
    admin = Minio(object_store.endpoint, object_store.access_key, object_store.secret_key, secure=False)
    assert admin.get_bucket_versioning("init-test").status == "Enabled"
    with pytest.raises(S3Error):
        admin.get_bucket_policy("init-test")
    anonymous = Minio(object_store.endpoint, secure=False)
    with pytest.raises(S3Error) as refused:
        anonymous.list_objects("init-test").__next__()
    assert refused.value.code in {"AccessDenied", "AllAccessDisabled"}


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
