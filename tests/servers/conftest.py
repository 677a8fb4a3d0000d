"""Makes the harness fixtures available to tests/servers when run on their own.

When the project registers ``tests.servers.fixtures`` with ``pytest_plugins``, importing
them again here (under this package's own module name) would start a second set of
session servers, so this only fills in when that plugin is absent.
"""

import sys

if "tests.servers.fixtures" not in sys.modules:
    from .fixtures import (  # noqa: F401
        fresh_mongo_server,
        fresh_search_server,
        mongo_seed,
        mongo_server,
        object_store,
        search_server,
        sentry_server,
    )
