"""Product payloads and their validation.

Each field type carries its rule and the JSON Schema that states it (``WithJsonSchema``),
side by side, so the served document says exactly what the validation enforces:
schema-valid is accepted, schema-invalid is a 422 naming the field. pydantic reports every
offending field at once; :func:`field_errors` turns that into the ``{"field", "message",
"type"}`` list the 422 body carries.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, JsonValue, PlainValidator, ValidationError, WithJsonSchema, model_validator

# 14 digits, 2 of them after the point: what the API promised (and Decimal128 keeps exactly).
PRICE_MAX = Decimal("999999999999.99")
CENT = Decimal("0.01")
# MongoDB stores 64-bit integers: a larger stock is a 422, not an OverflowError at write time.
STOCK_MAX = 2**63 - 1
# One line of text without surrounding spaces: no C0 control character anywhere, no space or
# control character at either end. Spelled with explicit ranges because \s differs between
# the regex engines that read the document (Python, Rust, ECMA).
TEXT_PATTERN = r"^[^\x00-\x20](?:[^\x00-\x1f]*[^\x00-\x20])?$"
_TEXT = re.compile(TEXT_PATTERN)


def _text(max_length: int) -> Callable[[Any], str]:
    def check(value: Any) -> str:
        if not isinstance(value, str):
            raise ValueError("must be a string")
        if not 1 <= len(value) <= max_length:
            raise ValueError(f"must be 1 to {max_length} characters, got {len(value)}")
        if not _TEXT.match(value):
            raise ValueError("must be one line with no leading or trailing whitespace")
        if not value.isascii():
            try:
                value.encode("utf-8")
            except UnicodeEncodeError as exc:  # a lone surrogate from a \ud800 escape
                raise ValueError("must be valid Unicode (no lone surrogate)") from exc
        return value

    return check


def _text_schema(max_length: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": max_length, "pattern": TEXT_PATTERN}


def _price(value: Any) -> Decimal:
    # JSON numbers only: "9.99" as a string or true as a bool is a client bug, not a price.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError("must be a finite number")
    price = Decimal(value) if isinstance(value, int) else Decimal(repr(value))
    if not 0 <= price <= PRICE_MAX:
        raise ValueError(f"must be between 0 and {PRICE_MAX}")
    if price % CENT:
        raise ValueError("must have at most 2 decimal places")
    return price


PRICE_SCHEMA = {"type": "number", "minimum": 0, "maximum": float(PRICE_MAX), "multipleOf": float(CENT)}


def _stock(value: Any) -> int:
    # A JSON integer, which JSON Schema lets a client write as 3.0: the value counts, not the spelling.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON integer")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("must be a whole number")
        value = int(value)
    if not 0 <= value <= STOCK_MAX:
        raise ValueError(f"must be between 0 and {STOCK_MAX}")
    return int(value)


STOCK_SCHEMA = {"type": "integer", "minimum": 0, "maximum": STOCK_MAX}

Name = Annotated[str, PlainValidator(_text(200)), WithJsonSchema(_text_schema(200))]
Sku = Annotated[str, PlainValidator(_text(64)), WithJsonSchema(_text_schema(64))]
Price = Annotated[Decimal, PlainValidator(_price), WithJsonSchema(PRICE_SCHEMA)]
Stock = Annotated[int, PlainValidator(_stock), WithJsonSchema(STOCK_SCHEMA)]
NOT_NULL = ("name", "price", "stock")


# Valid payloads for the document (a fuzzer's examples phase sends them as they are).
PRODUCT_EXAMPLES: list[JsonValue] = [{"name": "Espresso cup", "price": 9.5, "sku": "CUP-ESP-01", "stock": 12}, {"name": "Tea towel", "price": 4}]
PATCH_EXAMPLES = [{"price": 7.25}, {"stock": 0, "sku": None}]


def _patch_schema(schema: dict[str, Any]) -> None:
    # Optional but never null (only sku: null means something), and never empty.
    for name in NOT_NULL:
        prop = schema["properties"][name]
        schema["properties"][name] = next(branch for branch in prop.pop("anyOf") if branch != {"type": "null"})
        prop.pop("default", None)
    schema["minProperties"] = 1
    schema["examples"] = PATCH_EXAMPLES


class ProductIn(BaseModel):
    """A whole product: POST and PUT."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": PRODUCT_EXAMPLES})
    name: Name
    price: Price
    sku: Sku | None = None
    stock: Stock = 0


class ProductPatch(BaseModel):
    """Some fields of a product: PATCH. ``sku: null`` removes the SKU."""

    model_config = ConfigDict(extra="forbid", json_schema_extra=_patch_schema)
    name: Name | None = None
    price: Price | None = None
    sku: Sku | None = None
    stock: Stock | None = None

    @model_validator(mode="after")
    def _not_empty_or_null(self) -> ProductPatch:
        if not self.model_fields_set:
            raise ValueError("at least one of name, price, sku, stock is required")
        for name in NOT_NULL:
            if name in self.model_fields_set and getattr(self, name) is None:
                raise ValueError(f"{name} cannot be null")
        return self


class ProductImage(BaseModel):
    content_type: str
    size: int
    etag: str
    sha256: str


class Product(BaseModel):
    """A product as the API returns it."""

    id: str
    name: str
    price: float
    sku: str | None = None
    stock: int
    created_at: datetime
    updated_at: datetime
    image: ProductImage | None = None


class ProductPage(BaseModel):
    items: list[Product]
    total: int
    limit: int
    offset: int


class FieldError(BaseModel):
    field: str
    message: str
    type: str


class ErrorBody(BaseModel):
    error: str
    request_id: str | None = None
    fields: list[FieldError] | None = None


def field_errors(exc: ValidationError) -> list[dict[str, str]]:
    errors = []
    for err in exc.errors(include_url=False):
        location = ".".join(str(part) for part in err["loc"]) or "body"
        message = err["msg"].removeprefix("Value error, ")
        # A model-level rule names the field inside its message ("price cannot be null").
        if location == "body" and " cannot be null" in message:
            location = message.split(" ", 1)[0]
        errors.append({"field": location, "message": message, "type": err["type"]})
    return errors
