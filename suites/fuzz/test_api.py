"""schemathesis over the gateway: every case the document implies passes every check.

Each test fails with schemathesis's account of the minimal failing case and carries it as a
curl command (the ``fuzz_reproduce_with`` property: an extra in the HTML report, a property
in junit.xml); the session summary prints the seed and budget that repeat the run.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

import hypothesis
import pytest

from fixtures.plugin import FUZZ_REPRODUCTION
from suites.fuzz.conftest import UNAVAILABLE
from suites.fuzz.driver import SCENARIO_STEPS, Driver

RecordProperty = Callable[[str, object], None]


def _record_reproduction(fuzz: Driver, record_property: RecordProperty) -> None:
    # Its own function: the driver sets `failed` while the test runs, after `reported` reset it.
    failed = fuzz.failed
    if failed is not None:
        record_property(FUZZ_REPRODUCTION, f"{failed.operation} (X-Request-ID {failed.request_id})\n{failed.curl}")


@contextmanager
def reported(fuzz: Driver, record_property: RecordProperty) -> Iterator[None]:
    """Records how many cases the test ran (``fuzz_cases`` in junit.xml) and, when it fails,
    the minimal failing case as a curl command."""
    fuzz.failed = None
    before = fuzz.run.total
    try:
        yield
        # A phase that generated nothing checked nothing: that is no pass.
        assert fuzz.run.total > before, "no case was generated: the document gives this test nothing to send"
    except BaseException:
        fuzz.run.failures += 1
        _record_reproduction(fuzz, record_property)
        raise
    finally:
        record_property("fuzz_cases", fuzz.run.total - before)


def test_operation(fuzz: Driver, operation: str, record_property: RecordProperty) -> None:
    """The examples, coverage and fuzzing phases of one operation: valid and invalid input."""
    if operation.startswith(UNAVAILABLE):
        pytest.fail(operation, pytrace=False)
    with reported(fuzz, record_property):
        fuzz.operation_test(operation)()


def test_stateful(fuzz: Driver, record_property: RecordProperty) -> None:
    """Scenarios along the document's links: create, then read, replace, patch, delete, store
    and read the image; each step's answer must be what the link promised."""
    scenarios = hypothesis.seed(fuzz.run.seed)(fuzz.state_machine())
    with reported(fuzz, record_property):
        scenarios.run(settings=hypothesis.settings(
            max_examples=fuzz.budget.scenarios, stateful_step_count=SCENARIO_STEPS, deadline=None, database=None,
            phases=[hypothesis.Phase.generate], suppress_health_check=list(hypothesis.HealthCheck),
        ))
