"""Keeps every Alertmanager notification, stamped with when it arrived.

``POST /alerts`` takes Alertmanager's webhook payload (version 4); ``GET /alerts`` lists
what arrived, optionally since an epoch time or for one alert name, so a chaos test can
find "ServiceDown for job=backend, firing" and know to the millisecond when it came.
Memory is bounded: past ``RECEIVER_MAX_NOTIFICATIONS`` the oldest go, counted.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from typing import Any

from prometheus_client import CollectorRegistry, Counter
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse

from services.common.errors import error_response
from services.common.platform import create_app, observability, resource
from services.common.settings import ReceiverSettings, load_receiver

MAX_BODY_BYTES = 1024 * 1024


def _problems(payload: Any) -> list[dict[str, str]]:
    if not isinstance(payload, dict):
        return [{"field": "body", "message": "must be a JSON object", "type": "type"}]
    problems = []
    if payload.get("status") not in {"firing", "resolved"}:
        problems.append({"field": "status", "message": "must be 'firing' or 'resolved'", "type": "enum"})
    alerts = payload.get("alerts")
    if not isinstance(alerts, list) or not all(isinstance(a, dict) and isinstance(a.get("labels"), dict) for a in alerts):
        problems.append({"field": "alerts", "message": "must be a list of alerts with labels", "type": "type"})
    return problems


def build(settings: ReceiverSettings, registry: CollectorRegistry | None = None) -> Starlette:
    obs = observability(settings.common, registry)
    kept: deque[dict[str, Any]] = deque(maxlen=settings.max_notifications)
    sequence = itertools.count(1)
    received = Counter("receiver_notifications", "Alertmanager notifications received, by status.",
                       ["status"], registry=obs.metrics.registry)
    evicted = Counter("receiver_notifications_evicted", "Oldest notifications dropped to stay bounded.",
                      registry=obs.metrics.registry)

    async def health(request: Request) -> JSONResponse:
        return JSONResponse({"ok": True, "service": "receiver", "version": settings.common.version,
                             "uptime_s": obs.uptime(), "notifications": len(kept)})

    async def receive(request: Request) -> JSONResponse:
        body = await request.body()
        if len(body) > MAX_BODY_BYTES:
            return error_response(request, 413, limit_bytes=MAX_BODY_BYTES)
        try:
            payload = json.loads(body)
        except ValueError as exc:
            return error_response(request, 400, "malformed_json", detail=str(exc))
        problems = _problems(payload)
        if problems:
            return error_response(request, 422, fields=problems)
        if len(kept) == kept.maxlen:
            evicted.inc()
        notification = {
            "seq": next(sequence),
            "received_at": time.time(),
            "status": payload["status"],
            "receiver": payload.get("receiver"),
            "group_key": payload.get("groupKey"),
            "group_labels": payload.get("groupLabels", {}),
            "alerts": [
                {key: alert.get(key) for key in ("status", "labels", "annotations", "startsAt", "endsAt", "fingerprint")}
                for alert in payload["alerts"]
            ],
        }
        kept.append(notification)
        received.labels(payload["status"]).inc()
        return JSONResponse({"seq": notification["seq"]}, status_code=201)

    async def listing(request: Request) -> JSONResponse:
        try:
            since = float(request.query_params.get("since", "0"))
        except ValueError:
            return error_response(request, 422, fields=[{"field": "since", "message": "must be epoch seconds", "type": "float_parsing"}])
        alertname = request.query_params.get("alertname")
        found = [
            n for n in kept
            if n["received_at"] >= since
            and (alertname is None or any(a["labels"].get("alertname") == alertname for a in n["alerts"]))
        ]
        return JSONResponse({"notifications": found, "count": len(found)})

    routes = [
        resource("/health", {"GET": health}),
        resource("/alerts", {"GET": listing, "POST": receive}),
    ]
    return create_app(obs, routes)


def app() -> Starlette:
    """Factory for ``uvicorn --factory services.receiver.app:app``."""
    return build(load_receiver())
