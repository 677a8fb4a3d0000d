"""The OpenAPI document at /api/openapi.json describes exactly the routes the backend serves.

Every route the backend could serve has a probe below: a request that reaches its handler
without changing anything that outlives the test (wrong Content-Type for writes, a
throwaway product for DELETE). A probed route must answer (not 404/405) if and only if the
document lists it, and every documented operation must have a probe. Paths and methods
the document does not list answer 404/405.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from fixtures.clients.http import EMPTY_LISTING
from suites.contract.catalogue import IMAGE, PRODUCT, PRODUCTS, Catalogue
from suites.contract.schema import METHODS, OpenApi, describe


def not_json(api: httpx.Client, method: str, url: str) -> httpx.Response:
    """A write that its handler refuses (415) before it changes anything."""
    return api.request(method, url, content=b"{}", headers={"content-type": "text/plain"})


def answered(response: httpx.Response) -> bool:
    return response.status_code not in {404, 405}


def allows_post(response: httpx.Response) -> bool:
    # POST /api/debug/error raises by design (a Sentry event, a 500 in other suites'
    # counts): a GET shows the route is there and takes POST, without running it.
    return response.status_code == 405 and "POST" in response.headers.get("allow", "")


@dataclass(frozen=True)
class Probe:
    send: Callable[[httpx.Client, Catalogue, str], httpx.Response]
    routed: Callable[[httpx.Response], bool] = answered
    checks_operation: bool = True  # False when the probe used another method than the operation's


def echo(method: str) -> Probe:
    return Probe(lambda api, c, pid: api.request(method, "/api/debug/echo"))


PROBES: dict[tuple[str, str], Probe] = {
    ("GET", "/api/health"): Probe(lambda api, c, pid: api.get("/api/health")),
    ("GET", "/api/openapi.json"): Probe(lambda api, c, pid: api.get("/api/openapi.json")),
    ("GET", PRODUCTS): Probe(lambda api, c, pid: api.get(EMPTY_LISTING)),
    ("POST", PRODUCTS): Probe(lambda api, c, pid: not_json(api, "POST", PRODUCTS)),
    ("GET", PRODUCT): Probe(lambda api, c, pid: api.get(PRODUCT.format(id=pid))),
    ("PUT", PRODUCT): Probe(lambda api, c, pid: not_json(api, "PUT", PRODUCT.format(id=pid))),
    ("PATCH", PRODUCT): Probe(lambda api, c, pid: not_json(api, "PATCH", PRODUCT.format(id=pid))),
    ("DELETE", PRODUCT): Probe(lambda api, c, pid: api.delete(PRODUCT.format(id=c.create()["id"]))),
    ("PUT", IMAGE): Probe(lambda api, c, pid: not_json(api, "PUT", IMAGE.format(id=pid))),
    ("GET", IMAGE): Probe(lambda api, c, pid: api.get(IMAGE.format(id=pid))),
    ("POST", "/api/debug/slow"): Probe(lambda api, c, pid: api.post("/api/debug/slow", params={"seconds": 0})),
    ("POST", "/api/debug/error"): Probe(lambda api, c, pid: api.get("/api/debug/error"), allows_post, False),
    # The canary's route (with CANARY_TOKEN set): a GET shows it takes POST, without capturing anything.
    ("POST", "/api/canary/error"): Probe(lambda api, c, pid: api.get("/api/canary/error"), allows_post, False),
    **{(method, "/api/debug/echo"): echo(method) for method in ("GET", "POST", "PUT", "PATCH", "DELETE")},
}

UNDOCUMENTED_PATHS = ["/api/nope", "/api/", "/api/productsx", "/api/products/{id}/nope",
                      "/api/products/{id}/image/nope", "/api/health/nope", "/api/debug"]


def test_document_is_openapi_31_with_the_api_schemas(openapi: OpenApi) -> None:
    assert openapi.document.get("openapi", "").startswith("3.1."), openapi.document.get("openapi")
    for name in ("Product", "ProductPage", "ErrorBody", "ProductIn", "ProductPatch"):
        assert name in openapi.schemas, f"components.schemas lacks {name}: {sorted(openapi.schemas)}"
    for schema in openapi.document["components"]["schemas"].values():
        Draft202012Validator.check_schema(schema)  # raises SchemaError naming the fault


def test_every_documented_operation_has_a_probe(openapi: OpenApi) -> None:
    unprobed = openapi.operations() - set(PROBES)
    assert not unprobed, f"documented, but this suite cannot tell whether the backend serves them: {sorted(unprobed)}"


@pytest.mark.parametrize("operation", list(PROBES), ids=[f"{m} {p}" for m, p in PROBES])
def test_route_is_served_if_and_only_if_documented(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue,
                                                   operation: tuple[str, str]) -> None:
    probe = PROBES[operation]
    product_id = catalogue.with_image()["id"] if "{id}" in operation[1] else ""
    response = probe.send(api, catalogue, product_id)
    documented = operation in openapi.operations()
    served = probe.routed(response)
    assert served == documented, \
        f"{' '.join(operation)}: {'served' if served else 'not served'} ({describe(response)}) " \
        f"but {'documented' if documented else 'not in'} the OpenAPI document"
    if documented and probe.checks_operation:
        openapi.conforms(response, operation[1])


@pytest.mark.parametrize("template", UNDOCUMENTED_PATHS)
def test_undocumented_path_is_404(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue, template: str) -> None:
    assert template not in openapi.document["paths"], f"{template} is documented: probe it instead"
    product_id = catalogue.create()["id"] if "{id}" in template else ""
    response = api.get(template.format(id=product_id))
    assert response.status_code == 404, describe(response)
    assert openapi.error(response)["error"] == "not_found"


def undocumented_methods(document: dict[str, Any]) -> list[tuple[str, str]]:
    return [(method.upper(), path) for path, item in document["paths"].items()
            for method in METHODS if method not in item]


def test_undocumented_methods_are_405(api: httpx.Client, openapi: OpenApi, catalogue: Catalogue) -> None:
    product_id = catalogue.create()["id"]
    wrong = []
    for method, template in undocumented_methods(openapi.document):
        response = not_json(api, method, template.format(id=product_id))
        if response.status_code != 405:
            wrong.append(describe(response))
        else:
            assert openapi.error(response)["error"] == "method_not_allowed"
    assert not wrong, "undocumented methods that did not answer 405:\n" + "\n".join(wrong)
