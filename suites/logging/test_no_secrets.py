"""No credential of the stack reaches the shipped logs, errors and stack traces included."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from fixtures.clients.http import EMPTY_LISTING, new_request_id, service_client
from fixtures.clients.search import LOG_SHIPPERS, connect, field, has_field, log_index, recent, wait_for_request_logs
from fixtures.clients.sentry import events_api
from fixtures.stack import Stack

SECRET_NAMES = re.compile(r"PASSWORD|SECRET|TOKEN|KEY")
MIN_SECRET_LENGTH = 8  # shorter values turn up in ordinary text and are no real secrets
WINDOW = "now-5m"
MAX_DOCUMENTS = 20_000
# Requests that make the services log more than an access line: client errors with
# details, a validation failure, a stack trace. The fault goes last: the backend drops
# its connection after an unhandled exception, and a request the gateway sends on it at
# once fails with 502 (a gateway defect this suite is not about).
TRAFFIC = [("GET", EMPTY_LISTING, None, 200), ("GET", "/api/products/not-an-id", None, 404),
           ("POST", "/api/products", b"{not json", 400), ("POST", "/api/products", b'{"name": ""}', 422),
           ("POST", "/api/debug/error", None, 500)]


def dsn_keys(stack: Stack) -> dict[str, str]:
    """The public key of every DSN: those in .env, and those the Sentry role handed out
    itself (offline it creates the projects, so their DSNs exist only in its API)."""
    env = stack.env()
    dsns = {name: value for name, value in env.items() if "DSN" in name and value}
    if env.get("SENTRY_API_TOKEN"):
        api = events_api(stack)
        try:
            dsns |= {f"{api.server} project {label} DSN": dsn for label, dsn in api.dsns().items()}
        finally:
            api.close()
    return {f"{name} key": key for name, dsn in dsns.items() if (key := urlsplit(dsn).username)}


def stack_secrets(stack: Stack) -> dict[str, str]:
    named = {name: value for name, value in stack.env().items() if SECRET_NAMES.search(name)}
    return {name: value for name, value in (named | dsn_keys(stack)).items() if len(value) >= MIN_SECRET_LENGTH}


def strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


def describe(doc: dict[str, Any]) -> str:
    service, stamp, message = (field(doc, name) if has_field(doc, name) else "?"
                               for name in ("service.name", "@timestamp", "message"))
    return f"{service} log at {stamp}: {str(message)[:120]!r}"


def test_no_secret_in_shipped_logs(stack: Stack) -> None:
    secrets = stack_secrets(stack)
    assert secrets, f"{stack.target}: no credentials found in the stack's settings to look for"
    request_ids = []
    with service_client(stack, "gateway", timeout=5) as http:
        sent = time.monotonic()
        for method, path, body, status in TRAFFIC:
            request_ids.append(new_request_id())
            response = http.request(method, path, content=body, headers={"x-request-id": request_ids[-1],
                                                                        "content-type": "application/json"})
            assert response.status_code == status, \
                f"{method} {response.request.url}: {response.status_code}, expected {status}"

    with connect(stack) as es:
        # Shipping is asynchronous: scan only once our last request is in both indices.
        wait_for_request_logs(es, request_ids[-1], since=sent)
        leaks: list[str] = []
        scanned: set[str] = set()
        count = 0
        for doc in recent(es, [log_index(s) for s in LOG_SHIPPERS], WINDOW, MAX_DOCUMENTS):
            count += 1
            scanned.add(str(doc.get("request_id", "")))
            text = "\n".join(strings(doc))
            leaks += [f"{name} in {describe(doc)}" for name, value in secrets.items() if value in text]
    missed = set(request_ids) - scanned
    assert not missed, f"the scan of {count} documents since {WINDOW} missed our requests {missed}"
    assert not leaks, f"secrets in shipped logs, {len(leaks)} findings in {count} documents: " + "; ".join(leaks[:10])
