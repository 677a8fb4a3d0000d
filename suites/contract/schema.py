"""The OpenAPI document the backend serves, as the judge of every response the suite sees.

Bodies are validated with ``jsonschema`` (OpenAPI 3.1 schemas are JSON Schema 2020-12)
against the document's own ``components``. Product, ProductImage and ProductPage are
closed here (``additionalProperties: false``): a field the API returns but the document
does not describe is a contract break. ErrorBody stays open, as documented: errors add
``detail``, ``field``, ``limit_bytes``, ... beside ``error`` and ``request_id``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any

import httpx
from jsonschema import Draft202012Validator, FormatChecker

CLOSED = frozenset({"Product", "ProductImage", "ProductPage"})
ERROR_BODY = "ErrorBody"
METHODS = ("get", "put", "post", "patch", "delete")


def _date_time(value: object) -> bool:
    # jsonschema only checks "date-time" with an optional package; RFC 3339 needs a 'T'
    # and an offset, which fromisoformat alone does not insist on.
    if not isinstance(value, str):
        return True
    return "T" in value and datetime.fromisoformat(value).tzinfo is not None


FORMATS = FormatChecker(formats=())
FORMATS.checks("date-time", raises=ValueError)(_date_time)


def describe(response: httpx.Response) -> str:
    """A response as assertion messages show it."""
    return f"{response.request.method} {response.request.url.raw_path.decode()} → {response.status_code} {response.text[:300]}"


@dataclass
class OpenApi:
    document: dict[str, Any]
    _validators: dict[str, Draft202012Validator] = field(default_factory=dict)

    @cached_property
    def schemas(self) -> dict[str, Any]:
        declared: dict[str, Any] = self.document["components"]["schemas"]
        return {name: {**schema, "additionalProperties": False} if name in CLOSED else schema
                for name, schema in declared.items()}

    def operations(self) -> set[tuple[str, str]]:
        """(METHOD, path template) of every documented operation."""
        return {(method.upper(), path) for path, item in self.document["paths"].items()
                for method in METHODS if method in item}

    def validator(self, name: str) -> Draft202012Validator:
        if name not in self._validators:
            assert name in self.schemas, f"the OpenAPI document has no components.schemas.{name}: {sorted(self.schemas)}"
            root = {"$ref": f"#/components/schemas/{name}", "components": {"schemas": self.schemas}}
            self._validators[name] = Draft202012Validator(root, format_checker=FORMATS)
        return self._validators[name]

    def validate(self, body: Any, name: str, what: str) -> None:
        __tracebackhide__ = True
        problems = [f"/{'/'.join(str(p) for p in error.absolute_path)}: {error.message}"
                    for error in self.validator(name).iter_errors(body)]
        assert not problems, f"{what}: body does not match {name}: {'; '.join(problems)}\nbody: {str(body)[:500]}"

    def error(self, response: httpx.Response) -> dict[str, Any]:
        """An error answer: an ErrorBody that carries the request id the client sent."""
        __tracebackhide__ = True
        what = describe(response)
        assert response.headers.get("content-type", "").startswith("application/json"), f"{what}: not JSON"
        body: dict[str, Any] = response.json()
        self.validate(body, ERROR_BODY, what)
        sent = response.request.headers["x-request-id"]
        assert body["request_id"] == sent, f"{what}: request_id {body['request_id']!r}, sent X-Request-ID {sent!r}"
        assert response.headers.get("x-request-id") == sent, \
            f"{what}: X-Request-ID header {response.headers.get('x-request-id')!r}, sent {sent!r}"
        return body

    def conforms(self, response: httpx.Response, template: str) -> Any:
        """Assert ``response`` is an answer the document lists for its operation, with a
        body matching the listed schema; return the decoded body (None when not JSON)."""
        __tracebackhide__ = True
        method = response.request.method.lower()
        what = describe(response)
        operation = self.document["paths"].get(template, {}).get(method)
        assert operation is not None, f"{what}: {method.upper()} {template} is not in the OpenAPI document"
        declared = operation["responses"].get(str(response.status_code))
        assert declared is not None, \
            f"{what}: status not listed for {method.upper()} {template} (lists {sorted(operation['responses'])})"
        media = declared.get("content", {}).get("application/json")
        if media is None:
            return None
        name = media["schema"]["$ref"].rsplit("/", 1)[-1]
        if name == ERROR_BODY:
            return self.error(response)
        assert response.headers.get("content-type", "").startswith("application/json"), f"{what}: not JSON"
        body = response.json()
        self.validate(body, name, what)
        return body
