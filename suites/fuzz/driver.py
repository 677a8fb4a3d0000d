"""schemathesis driving the gateway from the OpenAPI document the gateway serves.

Every phase (examples, coverage, fuzzing, stateful) and every check schemathesis has; the
fault routes (``/api/debug/*``: a deliberate 500, a deliberate 504) stay out, since they
answer 5xx by design. The budget (``--fuzz-examples``) and the seed (``--fuzz-seed``) come
from :func:`fixtures.plugin.fuzz_run`, which also counts the cases.

schemathesis 4.32's own pytest collection does not fit pytest 9.2: a lazy schema
(``from_fixture``) fails on ``Function._nodeid``, and an eagerly loaded schema gives every
operation's item the same node id, so pytest-html and JUnit merge their rows. The suite
parametrizes by operation itself and builds each operation's test the way schemathesis's
plugin does (:func:`build_operation_test`: every enabled phase, the seed derived per
operation), so each failure is its own row, named after its operation.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import requests
import schemathesis
from schemathesis import Case, Response
from schemathesis.core.result import Err
from schemathesis.generation.feedback import FeedbackSources
from schemathesis.pytest._test_builder import build_operation_test
from schemathesis.python._constants.orchestrator import make_constants_value_source
from schemathesis.schemas import BaseSchema

from fixtures.clients.http import new_request_id
from fixtures.plugin import FuzzRun

FAULT_ROUTES = r"^/api/debug/"
PRODUCTS = "/api/products"
PRODUCT = "/api/products/{id}"
# A scenario is create → read/replace/patch/delete/image: a handful of linked steps.
SCENARIO_STEPS = 6
# Of the budget, what the stateful phase gets (in steps); the rest is split over the operations.
STATEFUL_SHARE = 0.2
REQUEST_TIMEOUT_S = 10
METHODS = frozenset({"get", "put", "post", "patch", "delete"})


@dataclass(frozen=True)
class Budget:
    """How ``--fuzz-examples`` cases are spread: the fuzzing phase's ``max_examples`` per
    operation, and the stateful phase's scenarios of :data:`SCENARIO_STEPS` steps."""

    per_operation: int
    scenarios: int

    @classmethod
    def split(cls, examples: int, operations: int) -> Budget:
        stateful = math.ceil(examples * STATEFUL_SHARE)
        return cls(per_operation=max(1, math.ceil((examples - stateful) / max(operations, 1))),
                   scenarios=max(1, math.ceil(stateful / SCENARIO_STEPS)))


def settings(run: FuzzRun, base_url: str, budget: Budget) -> schemathesis.Config:
    return schemathesis.Config.from_dict({
        "seed": run.seed,
        "base-url": base_url,
        "request-timeout": REQUEST_TIMEOUT_S,
        # No example database: a run is its seed and budget, not what earlier runs found.
        "generation": {"max-examples": budget.per_operation, "database": "none"},
        # Scenarios follow the document's links, and the Location headers the API answers with.
        # Not schemathesis's dependency analysis: it guesses that every operation taking a
        # product id follows a create, so "a new product has an image" (a 404 it then reports
        # as a created resource not found). Which links hold is the document's to say.
        "phases": {"stateful": {"max-steps": SCENARIO_STEPS, "inference": {"algorithms": ["location-headers"]}}},
    })


def with_input(document: dict[str, Any]) -> int:
    """How many operations outside the fault routes take input (parameters or a body): the
    ones the fuzzing phase can vary. Those without (GET /api/health) run a case or two."""
    count = 0
    for path, item in document.get("paths", {}).items():
        if re.match(FAULT_ROUTES, path):
            continue
        for method, operation in item.items():
            if method in METHODS and (item.get("parameters") or operation.get("parameters") or operation.get("requestBody")):
                count += 1
    return count


def load(document: dict[str, Any], run: FuzzRun, base_url: str) -> tuple[BaseSchema, Budget]:
    """The document as schemathesis sees it, fault routes excluded, and how the run's budget
    is spread over it."""
    budget = Budget.split(run.examples, with_input(document))
    schema = schemathesis.openapi.from_dict(document, config=settings(run, base_url, budget))
    return schema.exclude(path_regex=FAULT_ROUTES), budget


def operation_labels(schema: BaseSchema) -> list[str]:
    """``METHOD /path`` of each fuzzed operation; a document that does not load raises."""
    labels = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # an InvalidSchema, naming the operation
        labels.append(result.ok().label)
    return labels


@dataclass(frozen=True)
class Reproduction:
    """The case a failure was reported for, as a command anyone can run again."""

    operation: str
    request_id: str
    curl: str


@dataclass
class Catalogue:
    """Products the fuzzer created and did not delete, so the run can clean up after itself."""

    ids: set[str] = field(default_factory=set)

    def record(self, case: Case[Any], response: Response) -> None:
        if case.method.upper() == "POST" and case.path == PRODUCTS and response.status_code == 201:
            self.ids.add(str(response.json()["id"]))
        elif case.method.upper() == "DELETE" and case.path == PRODUCT and response.status_code == 204:
            self.ids.discard(str((case.path_parameters or {}).get("id")))


@dataclass
class Driver:
    """Sends cases over one keep-alive session, each with its own ``X-Request-ID`` (so its
    logs and errors can be found), counts them per phase, and keeps the last failing case:
    Hypothesis replays the minimal failing example last, so that is the one reported."""

    run: FuzzRun
    schema: BaseSchema
    budget: Budget
    session: requests.Session = field(default_factory=requests.Session)
    created: Catalogue = field(default_factory=Catalogue)
    failed: Reproduction | None = None
    requests_sent: int = 0

    def __post_init__(self) -> None:
        @self.schema.hook("after_call")
        def after_call(context: Any, case: Case[Any], response: Response) -> None:
            # Every request, the checks' own follow-ups and stateful steps included.
            self.requests_sent += 1
            self.created.record(case, response)

    def kwargs(self) -> tuple[str, dict[str, Any]]:
        request_id = new_request_id()
        return request_id, {"session": self.session, "headers": {"X-Request-ID": request_id}}

    def count(self, case: Case[Any]) -> None:
        phase = getattr(getattr(case.meta, "phase", None), "name", None)
        self.run.cases[str(phase or "unknown")] += 1

    def remember(self, case: Case[Any], request_id: str, headers: dict[str, str]) -> None:
        self.failed = Reproduction(case.operation.label, request_id, case.as_curl_command(headers=headers))

    def send(self, case: Case[Any]) -> None:
        """One case, judged by every check."""
        __tracebackhide__ = True
        self.count(case)
        request_id, kwargs = self.kwargs()
        try:
            case.call_and_validate(**kwargs)
        except BaseException:
            self.remember(case, request_id, kwargs["headers"])
            raise

    def operation_test(self, label: str) -> Callable[[], None]:
        """The Hypothesis test of one operation: examples, coverage and fuzzing phases."""
        operation = self.schema.find_operation_by_label(label)
        assert operation is not None, f"{label} is not in the document the gateway serves"

        def test(case: Case[Any]) -> None:
            __tracebackhide__ = True
            self.send(case)

        return build_operation_test(
            config=self.schema.config, operation=operation, test_func=test, given_kwargs={},
            feedback=FeedbackSources(constants_value_source=make_constants_value_source(self.schema)),
        )

    def state_machine(self) -> type[Any]:
        """The stateful phase: scenarios following the document's links, every step checked."""
        driver = self
        machine = self.schema.as_state_machine()

        class Scenarios(machine):  # type: ignore[misc, valid-type]
            request_id = ""
            headers: dict[str, str]

            def setup(self) -> None:
                super().setup()
                self.headers = {}
                self.existing = set(driver.created.ids)

            def teardown(self) -> None:
                # Each scenario starts from the same catalogue: a sku one scenario created would
                # make the next scenario's create a 409, and Hypothesis would see the same
                # choices lead elsewhere (FlakyStrategyDefinition) instead of fuzzing on.
                driver.delete(driver.created.ids - self.existing)
                super().teardown()

            def get_call_kwargs(self, case: Case[Any]) -> dict[str, Any]:
                driver.count(case)
                self.request_id, kwargs = driver.kwargs()
                self.headers = kwargs["headers"]
                return kwargs

            def validate_response(self, response: Response, case: Case[Any], **kwargs: Any) -> None:
                __tracebackhide__ = True
                try:
                    super().validate_response(response, case, **kwargs)
                except BaseException:
                    driver.remember(case, self.request_id, self.headers)
                    raise

        return Scenarios

    def delete(self, ids: set[str]) -> dict[str, int]:
        """Delete these products; the statuses that were neither 204 nor 404 (already gone)."""
        problems = {}
        for product_id in sorted(ids):
            _, kwargs = self.kwargs()
            url = self.schema.get_base_url() + PRODUCT.format(id=product_id)
            status = self.session.delete(url, timeout=REQUEST_TIMEOUT_S, headers=kwargs["headers"]).status_code
            self.created.ids.discard(product_id)
            if status not in {204, 404}:
                problems[product_id] = status
        return problems
