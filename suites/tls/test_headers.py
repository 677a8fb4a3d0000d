"""Through the edge, every answer carries HSTS and the usual security headers (errors too:
nginx's `always`); plain HTTP answers with a redirect to https and never reaches the API."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from fixtures.clients.http import EMPTY_LISTING, new_request_id

from .edge import Edge

HSTS_MIN_S = 365 * 24 * 3600   # a year: what preload lists and scanners ask for
SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
}
PATHS = [EMPTY_LISTING, "/api/products/000000000000000000000000", "/health"]
REDIRECTS = {301, 302, 307, 308}


@pytest.fixture(scope="module")
def https(edge: Edge) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=edge.https, verify=edge.trust(), timeout=10) as client:
        yield client


def max_age(hsts: str) -> int:
    for directive in hsts.split(";"):
        name, _, value = directive.strip().partition("=")
        if name.lower() == "max-age":
            return int(value.strip('"'))
    return 0


@pytest.mark.parametrize("path", PATHS)
def test_answers_carry_hsts_and_security_headers(https: httpx.Client, path: str) -> None:
    response = https.get(path, headers={"x-request-id": new_request_id()})
    hsts = response.headers.get("strict-transport-security", "")
    assert max_age(hsts) >= HSTS_MIN_S, f"GET {path} ({response.status_code}): Strict-Transport-Security {hsts!r}"
    seen = {name: response.headers.get(name, "").lower() for name in SECURITY_HEADERS}
    assert seen == SECURITY_HEADERS, f"GET {path} ({response.status_code}): {seen}"
    framing = (response.headers.get("x-frame-options", "").upper(), response.headers.get("content-security-policy", ""))
    assert framing[0] == "DENY" and "frame-ancestors 'none'" in framing[1], f"GET {path}: framing headers {framing}"


@pytest.mark.parametrize("path", PATHS)
def test_plain_http_redirects_to_https_without_content(edge: Edge, path: str) -> None:
    with httpx.Client(base_url=edge.http, timeout=10) as plain:
        response = plain.get(path, headers={"x-request-id": new_request_id()}, follow_redirects=False)
    assert response.status_code in REDIRECTS, f"http GET {path}: {response.status_code} {response.text[:200]}"
    # Same host and path, https's default port: the edge is published on 443.
    location = response.headers.get("location")
    assert location == f"https://{edge.host}{path}", f"http GET {path}: Location {location!r}"
    # The gateway stamps X-Request-ID on every answer it gives: none here means it never saw
    # the request; and no JSON, the API's only content type.
    assert "x-request-id" not in response.headers, f"http GET {path} reached the gateway: {dict(response.headers)}"
    assert "json" not in response.headers.get("content-type", ""), f"http GET {path}: API content {response.text[:200]}"
