from __future__ import annotations

import json
import logging

import pytest

from services.common.logs import DocumentHandler, EcsFormatter, Redactor, request_id_var
from services.common.settings import CommonSettings, ShipTiming


def settings(*secrets: str) -> CommonSettings:
    return CommonSettings(
        service="backend", version="9.9.9", environment="test", log_level="INFO", sentry_dsn=None,
        elasticsearch_url=None, log_queue_size=10, log_batch_size=5, log_ship=ShipTiming(1.0, 5.0),
        secrets=secrets,
    )


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("services.test", logging.INFO, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(rec, key, value)
    return rec


def test_document_has_ecs_fields() -> None:
    formatter = EcsFormatter(settings())
    token = request_id_var.set("rid-1")
    try:
        doc = json.loads(formatter.format(record("GET /x %d", 200, ecs={"http.response.status_code": 200})))
    finally:
        request_id_var.reset(token)
    assert doc["message"] == "GET /x 200"
    assert doc["log.level"] == "info"
    assert doc["service.name"] == "backend"
    assert doc["request_id"] == "rid-1"
    assert doc["http.response.status_code"] == 200
    assert doc["@timestamp"].endswith("Z") and "T" in doc["@timestamp"]


@pytest.mark.parametrize(
    "text",
    [
        "connecting to mongodb://app_user:hunter2-long@mongo:27017/ecommerce",
        "sentry dsn https://0123456789abcdef@sentry:9000/2",
        "the key is super-secret-key and that is all",
    ],
)
def test_secrets_never_reach_a_line(text: str) -> None:
    formatter = EcsFormatter(settings("super-secret-key", "hunter2-long"))
    line = formatter.format(record(text))
    assert "hunter2-long" not in line
    assert "super-secret-key" not in line
    assert "0123456789abcdef" not in line
    assert "[REDACTED]" in line


def test_exception_is_in_the_document_and_scrubbed() -> None:
    formatter = EcsFormatter(settings("topsecretvalue"))
    try:
        raise ValueError("bad password topsecretvalue")
    except ValueError:
        rec = logging.LogRecord("x", logging.ERROR, __file__, 1, "failed", (), exc_info=__import__("sys").exc_info())
    doc = formatter.document(rec)
    assert doc["error.type"] == "ValueError"
    assert "topsecretvalue" not in json.dumps(doc)


def test_short_values_are_not_treated_as_secrets() -> None:
    assert Redactor(["ab"])("a tab b") == "a tab b"


def test_shipping_loggers_are_not_shipped() -> None:
    shipped: list[dict[str, object]] = []
    handler = DocumentHandler(EcsFormatter(settings()), shipped.append)
    handler.emit(logging.LogRecord("elastic_transport.transport", logging.INFO, __file__, 1, "POST /_bulk", (), None))
    handler.emit(record("kept"))
    assert [doc["message"] for doc in shipped] == ["kept"]
