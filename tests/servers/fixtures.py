"""pytest fixtures for the harness servers; register with ``pytest_plugins``.

Session fixtures start their server once and stop it at the end of the run: tests must not
leave them down. A test that takes a dependency down uses a ``fresh_*`` fixture, a private
instance it may stop, kill and restart freely. Work dirs (with each server's log) come from
``tmp_path_factory``, so pytest keeps the last runs' logs for post-mortems.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

# Imported where used: the root conftest registers this plugin for every run, and the
# servers' client libraries cost most of a second `pytest -m smoke` never needs.
if TYPE_CHECKING:
    from harness.servers.mongo import MongoServer
    from harness.servers.objectstore import ObjectStore
    from harness.servers.search import SearchServer
    from harness.servers.sentry import SentryServer


@pytest.fixture(scope="session")
def mongo_seed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A provisioned, stopped SecantusDB data dir: provisioning (two server runs) happens
    once per session, every MongoServer of the session starts from a copy of it."""
    from harness.servers.mongo import MongoServer

    provisioner = MongoServer(workdir=tmp_path_factory.mktemp("mongo-seed"))
    return provisioner.provision()


@pytest.fixture(scope="session")
def mongo_server(mongo_seed: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[MongoServer]:
    from harness.servers.mongo import MongoServer

    with MongoServer.from_seed(mongo_seed, workdir=tmp_path_factory.mktemp("mongo")) as server:
        yield server


@pytest.fixture
def fresh_mongo_server(mongo_seed: Path, tmp_path: Path) -> Iterator[MongoServer]:
    from harness.servers.mongo import MongoServer

    server = MongoServer.from_seed(mongo_seed, workdir=tmp_path / "mongo")
    try:
        yield server.start()
    finally:
        # Its data is thrown away: SIGKILL spares the ~2 s of SecantusDB's clean shutdown.
        server.kill()


APP_BUCKET = "init-test"


@pytest.fixture(scope="session")
def object_store(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    # The app identity is scoped as the minio role's entrypoint scopes the backend's key.
    scoped = [f"{action}:{APP_BUCKET}" for action in ("Read", "Write", "List", "Tagging")]
    from harness.servers.objectstore import ObjectStore

    with ObjectStore(workdir=tmp_path_factory.mktemp("objectstore"), app_actions=scoped) as server:
        yield server


@pytest.fixture(scope="session")
def search_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SearchServer]:
    from harness.servers.search import SearchServer

    with SearchServer(workdir=tmp_path_factory.mktemp("search")) as server:
        yield server


@pytest.fixture
def fresh_search_server(tmp_path: Path) -> Iterator[SearchServer]:
    from harness.servers.search import SearchServer

    server = SearchServer(workdir=tmp_path / "search")
    try:
        yield server.start()
    finally:
        server.kill()


@pytest.fixture(scope="session")
def sentry_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentryServer]:
    from harness.servers.sentry import SentryServer

    with SentryServer(workdir=tmp_path_factory.mktemp("sentry")) as server:
        yield server
