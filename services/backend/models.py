"""Product payloads and their validation.

pydantic reports every offending field at once; :func:`field_errors` turns that into the
``{"field", "message", "type"}`` list the 422 body carries.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, ValidationError, model_validator


def _number_only(value: Any) -> Any:
    # JSON numbers only: "9.99" as a string or true as a bool is a client bug, not a price.
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError("must be a JSON number")
    return Decimal(str(value))


Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Price = Annotated[Decimal, BeforeValidator(_number_only), Field(ge=0, max_digits=14, decimal_places=2)]
Sku = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]
# MongoDB stores 64-bit integers: a larger stock is a 422, not an OverflowError at write time.
Stock = Annotated[int, Field(ge=0, le=2**63 - 1, strict=True)]


class ProductIn(BaseModel):
    """A whole product: POST and PUT."""

    model_config = ConfigDict(extra="forbid")
    name: Name
    price: Price
    sku: Sku | None = None
    stock: Stock = 0


class ProductPatch(BaseModel):
    """Some fields of a product: PATCH. ``sku: null`` removes the SKU."""

    model_config = ConfigDict(extra="forbid")
    name: Name | None = None
    price: Price | None = None
    sku: Sku | None = None
    stock: Stock | None = None

    @model_validator(mode="after")
    def _not_empty_or_null(self) -> ProductPatch:
        if not self.model_fields_set:
            raise ValueError("at least one of name, price, sku, stock is required")
        for name in ("name", "price", "stock"):
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
