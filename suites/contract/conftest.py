"""The contract suite talks to the gateway only, and judges answers by the OpenAPI
document the backend serves through it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fixtures.clients.http import service_client
from fixtures.stack import Stack
from suites.contract.catalogue import Catalogue
from suites.contract.schema import OpenApi, describe

DEFAULT_MAX_BODY_BYTES = 1024 * 1024


@pytest.fixture(scope="session")
def api(stack: Stack) -> Iterator[httpx.Client]:
    with service_client(stack, "gateway") as http:
        yield http


@pytest.fixture(scope="session")
def openapi(api: httpx.Client) -> OpenApi:
    response = api.get("/api/openapi.json")
    assert response.status_code == 200, describe(response)
    return OpenApi(response.json())


@pytest.fixture
def catalogue(api: httpx.Client, openapi: OpenApi) -> Iterator[Catalogue]:
    products = Catalogue(api, openapi)
    yield products
    problems = products.cleanup()
    assert not problems, f"could not delete the products this test created: {problems}"


@pytest.fixture(scope="session")
def max_body_bytes(stack: Stack) -> int:
    """The gateway's request body limit as the stack configures it (the README's default)."""
    return int(stack.env().get("GATEWAY_MAX_BODY_BYTES") or DEFAULT_MAX_BODY_BYTES)
