"""Index template for ``*-logs-*``: the ECS fields the services ship, typed."""

from __future__ import annotations

import os
import sys
from typing import Any

from services.common.search import client

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
        "url": {"properties": {"path": _keyword()}},
        "event": {"properties": {"duration": {"type": "long"}}},
        "error": {"properties": {"type": _keyword(), "message": {"type": "text"}, "stack_trace": {"type": "text"}}},
    }
}


def main() -> int:
    url = os.environ.get("ELASTICSEARCH_URL", "http://elasticsearch:9200")
    es = client(url)
    try:
        es.indices.put_index_template(
            name=TEMPLATE, index_patterns=["*-logs-*"], priority=100,
            template={"settings": {"number_of_shards": 1, "number_of_replicas": 0}, "mappings": MAPPINGS},
        )
        stored = es.indices.get_index_template(name=TEMPLATE)["index_templates"][0]["index_template"]
    finally:
        es.close()
    print(f"search-init: index template {TEMPLATE!r} for {stored['index_patterns']} at {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
