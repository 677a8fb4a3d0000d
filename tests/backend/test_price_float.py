"""price_float decodes Decimal128 without a Decimal and answers exactly what
float(Decimal128.to_decimal()) answers: the API's JSON is unchanged by the shortcut."""
from __future__ import annotations

import math
import random

import pytest
from bson import Decimal128

from services.backend.store import price_float

EDGES = ["0", "0.00", "-0", "19.99", "-19.99", "999999999999.99", "0.01", "1E+5", "1E-6176",
         "123456789012345678901234567890.1234", "9.999999999999999999999999999999999E+6144",
         "1E+299", "1.7976931348623157E+308", "2.2250738585072014E-308", "5E-324", "Infinity", "-Infinity"]


def same(a: float, b: float) -> bool:
    return (math.isnan(a) and math.isnan(b)) or (a == b and repr(a) == repr(b))


@pytest.mark.parametrize("text", EDGES)
def test_edges(text: str) -> None:
    value = Decimal128(text)
    assert same(price_float(value), float(value.to_decimal())), text


def test_random_prices() -> None:
    rng = random.Random(20261202)
    texts = [f"{rng.randint(0, 10**12)}.{rng.randint(0, 99):02d}" for _ in range(20000)]
    texts += [f"{rng.random() * 10 ** rng.randint(-20, 20):.15g}" for _ in range(5000)]
    wrong = [t for t in texts if not same(price_float(Decimal128(t)), float(Decimal128(t).to_decimal()))]
    assert not wrong, wrong[:10]


def test_nan_and_plain_numbers() -> None:
    assert math.isnan(price_float(Decimal128("NaN")))
    assert price_float(19.99) == 19.99 and price_float(3) == 3.0
