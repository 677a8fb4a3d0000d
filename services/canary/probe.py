"""One tracer round through every pipeline a request should leave a trace in.

The canary service runs a round every ``CANARY_INTERVAL``; the suite runs the same round
from the host (one implementation). A round sends its requests through the gateway, all
with one fresh request id, then follows them:

- ``products``: a product (sku ``canary-…``) written, read back and removed in MongoDB;
- ``objects``: an image put on that product and read back with the same sha256;
- ``errors``: ``POST /api/canary/error`` captures a deliberate error; its event is looked up
  in the Sentry role by the event id the backend answered with;
- ``logs``: the request id found in the gateway's and the backend's log indices;
- ``metrics``: the canary route's request counted by Prometheus (its counter changes).

Each pipeline's outcome is its success and its end-to-end latency (from the request that
starts it to the moment its trace was seen). The canary's data is tagged: the sku prefix
``canary-`` (listings and checks of other tests use their own prefixes), the request id
prefix ``canary-``, the Sentry tag ``canary=true`` and the route ``/api/canary/error`` that
nothing else calls.
"""

from __future__ import annotations

import abc
import hashlib
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from services.common.search import client as search_client

PIPELINES = ("products", "objects", "errors", "logs", "metrics")
SKU_PREFIX = "canary-"
CANARY_ROUTE = "/api/canary/error"
TOKEN_HEADER = "x-canary-token"
LOG_SERVICES = ("gateway", "backend")
# The backend's count of the canary route: nothing else calls it (its token guards it).
COUNTED = f'sum(http_requests_total{{service="backend",route="{CANARY_ROUTE}",status="202"}})'
POLL_S = 0.25
MIN_REQUEST_S = 0.05
# A PNG signature and some bytes of its own: the object store holds what it is given.
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class PipelineFailed(Exception):
    """A pipeline step saw the wrong answer; the message says what it saw."""


@dataclass(frozen=True)
class Outcome:
    pipeline: str
    ok: bool
    latency_s: float | None  # None when it failed
    detail: str


class EventLookup(abc.ABC):
    """Where the Sentry role's events are read back, by the SDK's event id."""

    def __init__(self, http: httpx.Client) -> None:
        self.http = http

    def close(self) -> None:
        self.http.close()

    @abc.abstractmethod
    def find(self, event_id: str, timeout: float) -> dict[str, Any] | None:
        """The event's data once the server shows it, None while it does not (yet); each
        request within ``timeout`` seconds."""


class BugsinkEvents(EventLookup):
    """The bundled role: ``/api/canonical/0/events/lookup/?project=N&event_id=…``."""

    def __init__(self, url: str, token: str, project: str, headers: dict[str, str] | None = None,
                 timeout: float = 5.0) -> None:
        super().__init__(httpx.Client(base_url=f"{url.rstrip('/')}/api/canonical/0", timeout=timeout,
                                      headers={**(headers or {}), "authorization": f"Bearer {token}"}))
        self.project = project
        self._project_id: int | None = None

    def _project(self, timeout: float) -> int:
        if self._project_id is None:
            url: str | None = "/projects/"
            while url and self._project_id is None:
                page = self.http.get(url, timeout=timeout)
                page.raise_for_status()
                body = page.json()
                self._project_id = next((int(p["id"]) for p in body.get("results", []) if p["name"] == self.project), None)
                url = body.get("next")
            if self._project_id is None:
                raise PipelineFailed(f"the Sentry role has no project {self.project!r}")
        return self._project_id

    def find(self, event_id: str, timeout: float) -> dict[str, Any] | None:
        response = self.http.get("/events/lookup/", params={"project": self._project(timeout), "event_id": event_id},
                                 timeout=timeout)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        data: dict[str, Any] = response.json().get("data") or {}
        return data


class SentryEvents(EventLookup):
    """Your own Sentry: ``/api/0/projects/{org}/{project}/events/{event_id}/``."""

    def __init__(self, api_url: str, token: str, org: str, project: str, timeout: float = 5.0) -> None:
        root = api_url.rstrip("/").removesuffix("/api/0")
        super().__init__(httpx.Client(base_url=f"{root}/api/0", timeout=timeout,
                                      headers={"authorization": f"Bearer {token}"}))
        self.path = f"/projects/{org}/{project}/events/{{}}/"

    def find(self, event_id: str, timeout: float) -> dict[str, Any] | None:
        response = self.http.get(self.path.format(event_id), timeout=timeout)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        event: dict[str, Any] = response.json()
        return event


def events_lookup(url: str, token: str, project: str, org: str | None = None,
                  headers: dict[str, str] | None = None) -> EventLookup:
    """Your own Sentry's REST API when ``org`` is given, else the bundled role (Bugsink):
    the canary's choice and the suite's, made here once."""
    if org:
        return SentryEvents(url, token, org, project)
    return BugsinkEvents(url, token, project, headers)


@dataclass(frozen=True)
class Targets:
    """Where a round goes: the gateway (its only entrance) and the pipelines' stores."""

    gateway: str
    elasticsearch: str
    prometheus: str
    events: EventLookup
    canary_token: str
    gateway_headers: dict[str, str] = field(default_factory=dict)
    prometheus_headers: dict[str, str] = field(default_factory=dict)


def _tags(data: dict[str, Any]) -> dict[str, str]:
    raw = data.get("tags") or {}
    if isinstance(raw, dict):
        return {str(k): str(v) for k, v in raw.items()}
    pairs = ((t["key"], t["value"]) if isinstance(t, dict) else tuple(t) for t in raw)
    return {str(k): str(v) for k, v in pairs}


def new_request_id() -> str:
    return f"canary-{uuid.uuid4().hex}"


@dataclass
class _Watch:
    """A pipeline whose trace is awaited: polled by ``seen`` until it answers a detail."""

    pipeline: str
    started: float
    seen: Callable[[], str | None]
    last: str = "not seen yet"


class Tracer:
    """Runs rounds against ``targets``; each round takes at most ``timeout_s``: every request
    waits at most what is left of the round (the chaos bounds count on it: a round against a
    dependency that hangs must end, and fail, on time)."""

    def __init__(self, targets: Targets, timeout_s: float, stop: threading.Event | None = None) -> None:
        self.targets = targets
        self.timeout_s = timeout_s
        self.stop = stop or threading.Event()
        self.request_timeout = request_timeout = min(10.0, timeout_s)
        self._deadline = time.monotonic() + timeout_s
        self.gateway = httpx.Client(base_url=targets.gateway, timeout=request_timeout, headers=targets.gateway_headers)
        self.prometheus = httpx.Client(base_url=targets.prometheus, timeout=request_timeout,
                                       headers=targets.prometheus_headers)
        self.search = search_client(targets.elasticsearch, request_timeout, max_retries=0)

    def close(self) -> None:
        self.gateway.close()
        self.prometheus.close()
        self.search.close()
        self.targets.events.close()

    # --- one round ------------------------------------------------------------------------
    def _left(self) -> float:
        """A request's timeout: the usual one, or what is left of the round if that is less
        (never quite 0, so a late step fails as a timeout rather than not being tried)."""
        return max(MIN_REQUEST_S, min(self.request_timeout, self._deadline - time.monotonic()))

    def run(self) -> dict[str, Outcome]:
        rid = new_request_id()
        self._deadline = deadline = time.monotonic() + self.timeout_s
        headers = {"x-request-id": rid}
        outcomes: dict[str, Outcome] = {}
        outcomes.update(self._products_and_objects(headers))
        watches = [self._logs(rid)]
        counted_before = self._counted_or_none()
        error_sent = time.monotonic()
        answered, event_id = self._trigger_error(headers, outcomes)
        if event_id is not None:
            watches.append(_Watch("errors", error_sent, lambda: self._event_seen(event_id, rid)))
        if counted_before is None:
            outcomes["metrics"] = Outcome("metrics", False, None, f"Prometheus {self.targets.prometheus} unreachable")
        elif not answered:
            outcomes["metrics"] = Outcome("metrics", False, None, f"nothing to count: {outcomes['errors'].detail}")
        else:
            watches.append(_Watch("metrics", error_sent, lambda: self._count_changed(counted_before)))
        outcomes.update(self._await(watches, deadline))
        return {name: outcomes[name] for name in PIPELINES}

    def _products_and_objects(self, headers: dict[str, str]) -> dict[str, Outcome]:
        started = time.monotonic()
        try:
            product_id = self._write_product(headers)
        except (PipelineFailed, httpx.HTTPError) as exc:
            detail = f"write/read back: {exc}"
            return {"products": Outcome("products", False, None, detail),
                    "objects": Outcome("objects", False, None, f"no product to hold the object ({detail})")}
        objects = self._object_round_trip(product_id, headers)
        try:
            self._remove_product(product_id, headers)
        except (PipelineFailed, httpx.HTTPError) as exc:
            return {"products": Outcome("products", False, None, f"remove: {exc}"), "objects": objects}
        took = time.monotonic() - started
        return {"products": Outcome("products", True, took, f"product {product_id} written, read back, removed"),
                "objects": objects}

    def _write_product(self, headers: dict[str, str]) -> str:
        sku = f"{SKU_PREFIX}{uuid.uuid4().hex[:16]}"
        wanted = {"name": f"canary {sku}", "price": 1.0, "sku": sku}
        created = self.gateway.post("/api/products", json=wanted, headers=headers, timeout=self._left())
        if created.status_code != 201:
            raise PipelineFailed(f"POST /api/products: {created.status_code} {created.text[:200]}")
        product_id = str(created.json()["id"])
        read = self.gateway.get(f"/api/products/{product_id}", headers=headers, timeout=self._left())
        if read.status_code != 200 or {k: read.json().get(k) for k in wanted} != wanted:
            raise PipelineFailed(f"GET /api/products/{product_id}: {read.status_code} {read.text[:200]}")
        return product_id

    def _object_round_trip(self, product_id: str, headers: dict[str, str]) -> Outcome:
        image = PNG_SIGNATURE + uuid.uuid4().bytes * 4
        digest = hashlib.sha256(image).hexdigest()
        started = time.monotonic()
        try:
            stored = self.gateway.put(f"/api/products/{product_id}/image", content=image,
                                      headers={**headers, "content-type": "image/png"}, timeout=self._left())
            if stored.status_code != 200:
                raise PipelineFailed(f"PUT image: {stored.status_code} {stored.text[:200]}")
            back = self.gateway.get(f"/api/products/{product_id}/image", headers=headers, timeout=self._left())
            if back.status_code != 200 or hashlib.sha256(back.content).hexdigest() != digest:
                raise PipelineFailed(f"GET image: {back.status_code}, sha256 "
                                     f"{hashlib.sha256(back.content).hexdigest()[:12]} for {digest[:12]}")
        except (PipelineFailed, httpx.HTTPError) as exc:
            return Outcome("objects", False, None, str(exc))
        return Outcome("objects", True, time.monotonic() - started, f"{len(image)} bytes, sha256 {digest[:12]} back")

    def _remove_product(self, product_id: str, headers: dict[str, str]) -> None:
        removed = self.gateway.delete(f"/api/products/{product_id}", headers=headers, timeout=self._left())
        if removed.status_code != 204:
            raise PipelineFailed(f"DELETE /api/products/{product_id}: {removed.status_code} {removed.text[:200]}")
        gone = self.gateway.get(f"/api/products/{product_id}", headers=headers, timeout=self._left())
        if gone.status_code != 404:
            raise PipelineFailed(f"GET after DELETE: {gone.status_code}, not 404")

    def _trigger_error(self, headers: dict[str, str], outcomes: dict[str, Outcome]) -> tuple[bool, str | None]:
        """Whether the canary route answered 202, and the id of the event it captured."""
        try:
            answer = self.gateway.post(CANARY_ROUTE, headers={**headers, TOKEN_HEADER: self.targets.canary_token},
                                       timeout=self._left())
        except httpx.HTTPError as exc:
            outcomes["errors"] = Outcome("errors", False, None, f"POST {CANARY_ROUTE}: {exc!r}")
            return False, None
        if answer.status_code != 202:
            outcomes["errors"] = Outcome("errors", False, None, f"POST {CANARY_ROUTE}: {answer.status_code} {answer.text[:200]}")
            return False, None
        event_id = answer.json().get("event_id")
        if not event_id:
            outcomes["errors"] = Outcome("errors", False, None, "the backend captured nothing (no Sentry DSN)")
        return True, str(event_id) if event_id else None

    # --- what is awaited ------------------------------------------------------------------
    def _logs(self, rid: str) -> _Watch:
        def seen() -> str | None:
            counts = {}
            for service in LOG_SERVICES:
                found = self.search.options(request_timeout=self._left()).search(
                    index=f"{service}-logs-*", query={"match": {"request_id": rid}}, size=0,
                    ignore_unavailable=True, allow_no_indices=True)
                counts[service] = int(found["hits"]["total"]["value"])
            watch.last = f"log documents for {rid}: {counts}"
            return watch.last if all(counts.values()) else None

        watch = _Watch("logs", time.monotonic(), seen)
        return watch

    def _event_seen(self, event_id: str, rid: str) -> str | None:
        data = self.targets.events.find(event_id, self._left())
        if data is None:
            return None
        tagged = _tags(data).get("request_id")
        if tagged != rid:
            raise PipelineFailed(f"event {event_id} is tagged request_id={tagged}, not {rid}")
        return f"event {event_id} tagged {rid}"

    def _count(self) -> float:
        response = self.prometheus.get("/api/v1/query", params={"query": COUNTED}, timeout=self._left())
        response.raise_for_status()
        result = response.json()["data"]["result"]
        return float(result[0]["value"][1]) if result else 0.0

    def _counted_or_none(self) -> float | None:
        try:
            return self._count()
        except (httpx.HTTPError, KeyError, ValueError):
            return None

    def _count_changed(self, before: float) -> str | None:
        now = self._count()
        # Changed, not merely grown: a restarted backend starts its counter again from 0.
        return f"{COUNTED}: {before:g} -> {now:g}" if now != before and now > 0 else None

    def _await(self, watches: list[_Watch], deadline: float) -> dict[str, Outcome]:
        """Poll every watched pipeline until each is seen or the round's deadline passes."""
        done: dict[str, Outcome] = {}
        pending = list(watches)
        while pending:
            for watch in list(pending):
                try:
                    detail = watch.seen()
                except PipelineFailed as exc:
                    done[watch.pipeline] = Outcome(watch.pipeline, False, None, str(exc))
                    pending.remove(watch)
                    continue
                except Exception as exc:  # noqa: BLE001 - any client error is "not seen yet"
                    watch.last = f"{type(exc).__name__}: {str(exc)[:200]}"
                    continue
                if detail is not None:
                    done[watch.pipeline] = Outcome(watch.pipeline, True, time.monotonic() - watch.started, detail)
                    pending.remove(watch)
            if not pending or time.monotonic() >= deadline or self.stop.wait(POLL_S):
                break
        for watch in pending:
            done[watch.pipeline] = Outcome(watch.pipeline, False, None,
                                           f"not seen within {self.timeout_s:g} s: {watch.last}")
        return done
