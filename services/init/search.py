"""Index template for ``*-logs-*`` at first start (the shippers also re-apply it whenever
Elasticsearch comes back: the offline role keeps everything in memory)."""

from __future__ import annotations

import os
import sys

from services.common.logindex import TEMPLATE, template
from services.common.search import client


def main() -> int:
    url = os.environ.get("ELASTICSEARCH_URL", "http://elasticsearch:9200")
    es = client(url)
    try:
        es.indices.put_index_template(**template())
        stored = es.indices.get_index_template(name=TEMPLATE)["index_templates"][0]["index_template"]
    finally:
        es.close()
    print(f"search-init: index template {TEMPLATE!r} for {stored['index_patterns']} at {url}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
