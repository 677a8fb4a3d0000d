from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from services.common.settings import load_receiver
from services.receiver.app import build


@pytest.fixture
def receiver() -> Iterator[TestClient]:
    with TestClient(build(load_receiver({"RECEIVER_MAX_NOTIFICATIONS": "3"}), CollectorRegistry())) as client:
        yield client


def notification(status: str, alertname: str, **labels: str) -> dict[str, Any]:
    return {
        "version": "4", "status": status, "receiver": "receiver", "groupKey": f"{{}}:{{alertname=\"{alertname}\"}}",
        "groupLabels": {"alertname": alertname},
        "alerts": [{"status": status, "labels": {"alertname": alertname, **labels}, "annotations": {},
                    "startsAt": "2026-11-24T00:00:00Z", "endsAt": "0001-01-01T00:00:00Z", "fingerprint": "f1"}],
    }


def test_keeps_notifications_with_arrival_time(receiver: TestClient) -> None:
    before = time.time()
    assert receiver.post("/alerts", json=notification("firing", "ServiceDown", job="backend")).status_code == 201
    assert receiver.post("/alerts", json=notification("firing", "Watchdog")).status_code == 201
    found = receiver.get("/alerts", params={"alertname": "ServiceDown"}).json()["notifications"]
    assert len(found) == 1
    assert found[0]["alerts"][0]["labels"] == {"alertname": "ServiceDown", "job": "backend"}
    assert found[0]["received_at"] >= before
    assert receiver.get("/alerts", params={"since": time.time() + 60}).json()["count"] == 0


def test_bounded_oldest_evicted_and_counted(receiver: TestClient) -> None:
    for n in range(5):
        receiver.post("/alerts", json=notification("firing", f"A{n}"))
    names = [n["alerts"][0]["labels"]["alertname"] for n in receiver.get("/alerts").json()["notifications"]]
    assert names == ["A2", "A3", "A4"]
    assert "receiver_notifications_evicted_total 2.0" in receiver.get("/metrics").text


@pytest.mark.parametrize(("body", "status", "field"), [
    (b"not json", 400, None),
    (b"[]", 422, "body"),
    (b'{"status": "weird", "alerts": []}', 422, "status"),
    (b'{"status": "firing", "alerts": [{"no": "labels"}]}', 422, "alerts"),
])
def test_bad_payloads_are_refused_with_the_field(receiver: TestClient, body: bytes, status: int, field: str | None) -> None:
    response = receiver.post("/alerts", content=body, headers={"content-type": "application/json"})
    assert response.status_code == status
    if field:
        assert field in {f["field"] for f in response.json()["fields"]}


def test_since_must_be_a_number(receiver: TestClient) -> None:
    assert receiver.get("/alerts", params={"since": "yesterday"}).status_code == 422
