"""The fuzz layer talks to the gateway only, and generates every case from the OpenAPI
document the gateway serves. One test per operation, named after it (``-k "POST
/api/products"`` runs one), and one for the stateful phase."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import httpx
import pytest
from schemathesis.core.errors import SchemathesisError
from schemathesis.schemas import BaseSchema

from fixtures import plugin
from fixtures.clients.http import client
from fixtures.services import port as serving_port
from fixtures.stack import StackError
from suites.fuzz.driver import Budget, Driver, load, operation_labels

GATEWAY_PORT = serving_port("gateway")
DOCUMENT = "/api/openapi.json"
UNAVAILABLE = "the document could not be fuzzed: "


@dataclass
class Served:
    """The document as the gateway served it at collection time, loaded once per session."""

    base_url: str = ""
    schema: BaseSchema | None = None
    budget: Budget | None = None
    labels: list[str] = field(default_factory=list)
    problem: str = ""


_SERVED = pytest.StashKey[Served]()


def _load(config: pytest.Config) -> Served:
    served = Served()
    try:
        served.base_url = plugin.stack_for(config).url("gateway")
        with client(served.base_url) as http:
            response = http.get(DOCUMENT)
        if response.status_code != 200:
            served.problem = f"GET {served.base_url}{DOCUMENT} → {response.status_code} {response.text[:300]}"
            return served
        served.schema, served.budget = load(response.json(), plugin.fuzz_run(config), served.base_url)
        served.labels = operation_labels(served.schema)
    except (StackError, httpx.HTTPError, ValueError, SchemathesisError) as exc:
        served.problem = f"{served.base_url or config.getoption('--target')}{DOCUMENT}: {type(exc).__name__}: {exc}"
    return served


def served(config: pytest.Config) -> Served:
    if _SERVED not in config.stash:
        config.stash[_SERVED] = _load(config)
    return config.stash[_SERVED]


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    # Collection time, as the health suite parametrizes by service: an unreachable document
    # gives one parameter that fails, saying why, rather than no test at all.
    if "operation" in metafunc.fixturenames:
        document = served(metafunc.config)
        params = [pytest.param(label, id=label) for label in document.labels]
        metafunc.parametrize("operation", params or [pytest.param(UNAVAILABLE + document.problem, id="unavailable")])


@pytest.fixture(scope="session")
def fuzz(pytestconfig: pytest.Config) -> Iterator[Driver]:
    """The session's driver; afterwards, deletes every product the fuzzer left behind."""
    document = served(pytestconfig)
    if document.schema is None or document.budget is None:
        pytest.fail(UNAVAILABLE + document.problem, pytrace=False)
    run = plugin.fuzz_run(pytestconfig)
    driver = Driver(run, document.schema, document.budget)
    run.start()
    yield driver
    run.finish()
    run.requests = driver.requests_sent
    problems = driver.delete(set(driver.created.ids))
    assert not problems, f"could not delete the products the fuzzer created (id → status): {problems}"
