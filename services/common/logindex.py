"""The index template for ``*-logs-*``: the ECS fields the services ship, typed, so that
``request_id`` is an exact keyword and ``@timestamp`` a date in every daily index."""

from __future__ import annotations

from typing import Any

TEMPLATE = "stackproof-logs"


def _keyword() -> dict[str, str]:
    return {"type": "keyword"}


MAPPINGS: dict[str, Any] = {
    "properties": {
        "@timestamp": {"type": "date"},
        "message": {"type": "text"},
        "request_id": _keyword(),
        "log": {"properties": {"level": _keyword(), "logger": _keyword()}},
        "service": {"properties": {"name": _keyword(), "version": _keyword(), "environment": _keyword()}},
        "http": {"properties": {
            "route": _keyword(),
            "request": {"properties": {"method": _keyword()}},
            "response": {"properties": {"status_code": {"type": "integer"}}},
        }},
        "url": {"properties": {"path": _keyword(), "scheme": _keyword()}},
        "event": {"properties": {"duration": {"type": "long"}}},
        "error": {"properties": {"type": _keyword(), "message": {"type": "text"}, "stack_trace": {"type": "text"}}},
    }
}


def template() -> dict[str, Any]:
    """Keyword arguments for ``indices.put_index_template`` (sync or async client)."""
    return {
        "name": TEMPLATE,
        "index_patterns": ["*-logs-*"],
        "priority": 100,
        "template": {"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": MAPPINGS},
    }
