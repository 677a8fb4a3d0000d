"""Real servers on 127.0.0.1 for the project's unit and integration tests.

See ``fixtures.py`` for the pytest fixtures and each module for its server's quirks.
"""

from .base import LocalServer, ServerError, ServerExited, ServerNotReady, free_port, free_ports, wait_ready
from .mongo import MongoCredentials, MongoServer
from .objectstore import ObjectStore
from .search import SearchServer
from .sentry import SentryServer, event_tags

__all__ = [
    "LocalServer",
    "MongoCredentials",
    "MongoServer",
    "ObjectStore",
    "SearchServer",
    "SentryServer",
    "ServerError",
    "ServerExited",
    "ServerNotReady",
    "event_tags",
    "free_port",
    "free_ports",
    "wait_ready",
]
