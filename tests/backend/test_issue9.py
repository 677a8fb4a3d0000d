"""Regressions for the fuzzer's findings (issue 9): the document and the validation agree."""

from __future__ import annotations

from typing import Any

import hypothesis
import pytest
import schemathesis
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source
from starlette.testclient import TestClient

from fixtures.plugin import FuzzRun
from services.backend import openapi
from services.backend.app import build as build_backend
from services.common.settings import load_backend
from suites.fuzz import driver
from tests.backend.test_images import PNG

pytestmark = pytest.mark.servers


def test_offset_past_the_documented_maximum_is_422_not_500(backend: TestClient) -> None:
    response = backend.get("/api/products", params={"offset": "2853471827080525480198144"})
    assert response.status_code == 422, response.text
    assert response.json()["fields"][0]["field"] == "offset"
    maximum = backend.get("/api/openapi.json").json()["paths"]["/api/products"]["get"]["parameters"][1]["schema"]["maximum"]
    assert backend.get("/api/products", params={"offset": maximum}).status_code == 200
    assert backend.get("/api/products", params={"offset": maximum + 1}).status_code == 422


@pytest.mark.parametrize("raw", ["+1", " 1", "1_0", "\u0661"])
def test_query_integers_are_ascii_digits_only(backend: TestClient, raw: str) -> None:
    assert backend.get("/api/products", params={"limit": raw}).status_code == 422


@pytest.mark.parametrize(("path", "allow"), [
    ("/api/products", "GET, HEAD, POST, OPTIONS"),
    ("/api/products/{id}", "GET, HEAD, PUT, PATCH, DELETE, OPTIONS"),
    ("/api/products/{id}/image", "GET, HEAD, PUT, OPTIONS"),
])
def test_allow_lists_every_method_of_the_path(backend: TestClient, path: str, allow: str) -> None:
    url = path.format(id="0" * 24)
    refused = backend.request("TRACE", url)
    assert refused.status_code == 405 and refused.headers["allow"] == allow, refused.headers
    options = backend.options(url)
    assert options.status_code == 204 and options.headers["allow"] == allow, options.headers


@pytest.mark.parametrize("body", [
    {"name": "a", "price": 999999999999.99},
    {"name": "a", "price": 0.07, "stock": 2147483648.0},
])
def test_schema_valid_bodies_are_accepted(backend: TestClient, body: dict[str, Any]) -> None:
    assert backend.post("/api/products", json=body).status_code == 201


@pytest.mark.parametrize(("body", "field"), [
    ({"name": "a", "price": 1e12}, "price"),
    ({"name": "a", "price": "1"}, "price"),
    ({"name": " a", "price": 1}, "name"),
    ({"name": "a", "price": 1, "stock": 1.5}, "stock"),
])
def test_schema_invalid_bodies_are_422_naming_the_field(backend: TestClient, body: dict[str, Any], field: str) -> None:
    response = backend.post("/api/products", json=body)
    assert response.status_code == 422 and {e["field"] for e in response.json()["fields"]} == {field}, response.text


def test_lone_surrogate_is_400_not_500(backend: TestClient) -> None:
    response = backend.post("/api/products", content=b'{"\\ud800": 1}', headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


def test_document_lists_the_gateway_answers_and_fault_routes_only_when_on(backend: TestClient) -> None:
    spec = backend.get("/api/openapi.json").json()
    for item in spec["paths"].values():
        for operation in item.values():
            if isinstance(operation, dict) and "responses" in operation:
                assert {"502", "504"} <= set(operation["responses"]), operation
    assert "/api/debug/slow" in spec["paths"]
    assert not any(p.startswith("/api/debug") for p in openapi.build(False)["paths"])


def test_document_examples_are_accepted(backend: TestClient) -> None:
    """The examples the document carries (what a fuzzer's examples phase sends) are valid."""
    schemas = backend.get("/api/openapi.json").json()["components"]["schemas"]
    for example in schemas["ProductIn"]["examples"]:
        created = backend.post("/api/products", json=example)
        assert created.status_code == 201, created.text
        for patch in schemas["ProductPatch"]["examples"]:
            response = backend.patch(f"/api/products/{created.json()['id']}", json=patch)
            assert response.status_code == 200, response.text


def _operation(spec: dict[str, Any], operation_id: str) -> tuple[str, str]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if isinstance(operation, dict) and operation.get("operationId") == operation_id:
                return method.upper(), path
    raise AssertionError(f"a link names operationId {operation_id!r}, which the document does not have")


def _follow(backend: TestClient, spec: dict[str, Any], link: dict[str, Any], product_id: str) -> int:
    """A link of an answer, followed with a valid request: the status."""
    method, path = _operation(spec, link["operationId"])
    assert link["parameters"] == {"id": "$response.body#/id"}, link
    url = path.format(id=product_id)
    if path.endswith("/image") and method == "PUT":
        return backend.put(url, content=PNG, headers={"content-type": "image/png"}).status_code
    bodies = {"PUT": {"name": "b", "price": 2}, "PATCH": {"stock": 3}}
    return backend.request(method, url, json=bodies.get(method)).status_code


def test_links_say_what_follows(backend: TestClient) -> None:
    """A created product can be read, replaced, patched, deleted and given an image; only
    one whose image was stored has an image to read (a fuzzer following a link from create
    to the image read got a 404 and reported a created resource not found)."""
    spec = backend.get("/api/openapi.json").json()
    followed = {}
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            for status, response in (operation.get("responses", {}) if isinstance(operation, dict) else {}).items():
                for name, link in response.get("links", {}).items():
                    # Each link from a fresh answer of its source: what the source leaves behind.
                    product_id = backend.post("/api/products", json={"name": "linked", "price": 1}).json()["id"]
                    if path.endswith("/image"):
                        stored = backend.put(f"/api/products/{product_id}/image", content=PNG, headers={"content-type": "image/png"})
                        assert stored.status_code == 200, stored.text
                    followed[f"{method.upper()} {path} {status} → {name}"] = _follow(backend, spec, link, product_id)
    assert followed and all(code < 400 for code in followed.values()), followed
    assert not any(key.startswith("POST /api/products 201") and key.endswith("GetProductImage") for key in followed)


FUZZ_SEED = 9
IN_PROCESS = [f"{m.upper()} {p}" for p, item in openapi.build(False)["paths"].items() for m in item if m in driver.METHODS]


@pytest.fixture
def fuzzed(backend_settings: dict[str, str], products: Any) -> Any:
    """schemathesis over the backend app in-process, configured as the fuzz layer is. Its own
    app: schemathesis runs (and ends) the app's lifespan itself, which a TestClient's would
    wait on forever."""
    run = FuzzRun(seed=FUZZ_SEED, examples=200)
    config = driver.settings(run, "http://testserver", driver.Budget(per_operation=25, scenarios=10))
    app = build_backend(load_backend(backend_settings))
    return schemathesis.openapi.from_asgi("/api/openapi.json", app, config=config).exclude(path_regex=driver.FAULT_ROUTES)


@pytest.mark.parametrize("label", IN_PROCESS)
def test_fuzzer_finds_nothing(fuzzed: Any, label: str) -> None:
    """Every phase but the stateful one, every check, on one operation (issue 9's 11 findings
    were all of this kind: a 500, a wrong Allow, schema-valid refused, schema-invalid taken)."""
    operation = fuzzed.find_operation_by_label(label)
    sent: list[str] = []

    def check(case: Any) -> None:
        sent.append(case.method)
        case.call_and_validate()

    build_operation_test(config=fuzzed.config, operation=operation, test_func=check, given_kwargs={},
                         feedback=FeedbackSources(constants_value_source=make_constants_value_source(fuzzed)))()
    assert sent, f"{label}: no case generated"


def test_stateful_fuzzer_finds_nothing(fuzzed: Any, products: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    # Hypothesis also draws from the literal constants of every local module loaded in the
    # process (and caches what it drew from them), so with one seed the scenarios changed with
    # whatever else pytest had collected or run: the canary's chaos fixtures (new strings) sent
    # this test from "reached the image read" to not. Without them a run is its seed and the
    # document. Private API, pinned hypothesis: renamed, the patch fails loudly.
    from hypothesis.internal.conjecture import providers

    monkeypatch.setattr(providers, "_get_local_constants", providers.Constants)
    providers.CONSTANTS_CACHE.cache.clear()
    steps: list[str] = []

    class Scenarios(fuzzed.as_state_machine()):  # type: ignore[misc]
        def after_call(self, response: Any, case: Any) -> None:
            super().after_call(response, case)
            steps.append(case.operation.label)

        def teardown(self) -> None:
            products.delete_many({})  # each scenario starts from the same (empty) catalogue
            super().teardown()

    try:
        hypothesis.seed(FUZZ_SEED)(Scenarios).run(settings=hypothesis.settings(
            max_examples=10, stateful_step_count=driver.SCENARIO_STEPS, deadline=None, database=None,
            phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck)))
    finally:
        providers.CONSTANTS_CACHE.cache.clear()  # later tests draw from the local constants again
    assert "GET /api/products/{id}/image" in steps, f"no scenario reached the image read: {sorted(set(steps))}"
