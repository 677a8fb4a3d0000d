"""Structured JSON logs (ECS field names) on stdout, with secrets scrubbed.

Every record becomes one flat document whose dotted keys follow the Elastic Common
Schema; the same document goes to stdout and, through :mod:`services.common.shipper`,
to Elasticsearch.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import traceback
from collections.abc import Callable, Iterable
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from services.common.settings import CommonSettings

request_id_var: ContextVar[str | None] = ContextVar("request_id", default=None)

# user:password@ in any URL (DSNs, MongoDB URIs) is a credential whatever its value.
_URL_CREDENTIALS = re.compile(r"(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*://)[^/\s@]+@")
REDACTED = "[REDACTED]"

# Loggers whose records describe the shipping itself: shipping them would loop.
_NOT_SHIPPED = ("elastic_transport", "elasticsearch", "httpx", "httpcore", "services.common.shipper")


class Redactor:
    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first so a secret containing another is replaced whole; very short
        # values would mangle ordinary text and are not real secrets anyway.
        self._secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        text = _URL_CREDENTIALS.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def document(self, doc: dict[str, Any]) -> dict[str, Any]:
        return {key: self(value) if isinstance(value, str) else value for key, value in doc.items()}


class EcsFormatter(logging.Formatter):
    def __init__(self, settings: CommonSettings) -> None:
        super().__init__()
        self._service = settings.service
        self._version = settings.version
        self._environment = settings.environment
        self.redact = Redactor(settings.secrets)

    def document(self, record: logging.LogRecord) -> dict[str, Any]:
        cached: dict[str, Any] | None = getattr(record, "_ecs_document", None)
        if cached is not None:
            return cached
        stamp = datetime.fromtimestamp(record.created, tz=UTC)
        doc: dict[str, Any] = {
            "@timestamp": stamp.strftime("%Y-%m-%dT%H:%M:%S.") + f"{stamp.microsecond // 1000:03d}Z",
            "log.level": record.levelname.lower(),
            "log.logger": record.name,
            "message": record.getMessage(),
            "service.name": self._service,
            "service.version": self._version,
            "service.environment": self._environment,
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            doc["request_id"] = request_id
        doc.update(getattr(record, "ecs", None) or {})
        if record.exc_info and record.exc_info[0] is not None:
            doc["error.type"] = record.exc_info[0].__name__
            doc["error.message"] = str(record.exc_info[1])
            doc["error.stack_trace"] = "".join(traceback.format_exception(*record.exc_info))
        doc = self.redact.document(doc)
        record._ecs_document = doc  # formatted once for every handler
        return doc

    def format(self, record: logging.LogRecord) -> str:
        return json.dumps(self.document(record), default=str, ensure_ascii=False)


class DocumentHandler(logging.Handler):
    """Hands each record's ECS document to a sink (the Elasticsearch shipper)."""

    def __init__(self, formatter: EcsFormatter, sink: Callable[[dict[str, Any]], None]) -> None:
        super().__init__()
        self._formatter = formatter
        self._sink = sink

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(_NOT_SHIPPED):
            return
        try:
            self._sink(self._formatter.document(record))
        except Exception:  # noqa: BLE001 -- a logging failure must never break the request that logged
            self.handleError(record)


def configure(settings: CommonSettings, sink: Callable[[dict[str, Any]], None] | None = None) -> EcsFormatter:
    """Route every logger (ours, uvicorn's, libraries') through the ECS formatter."""
    formatter = EcsFormatter(settings)
    stdout = logging.StreamHandler(sys.stdout)
    stdout.setFormatter(formatter)
    handlers: list[logging.Handler] = [stdout]
    if sink is not None:
        handlers.append(DocumentHandler(formatter, sink))
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_stackproof", False):
            root.removeHandler(old)
    for handler in handlers:
        handler._stackproof = True  # type: ignore[attr-defined]
        root.addHandler(handler)
    root.setLevel(settings.log_level if settings.log_level in logging._nameToLevel else "INFO")
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logging.getLogger(name).handlers.clear()
        logging.getLogger(name).propagate = True
    # httpx logs every request at INFO: for the gateway that doubles the access log.
    for name in ("httpx", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    # Our own access log replaces uvicorn's (it has the route, request id and duration).
    logging.getLogger("uvicorn.access").disabled = True
    return formatter
