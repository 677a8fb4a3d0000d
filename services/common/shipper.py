"""Ships log documents to Elasticsearch in batches, from a background task.

Requests never wait on Elasticsearch: :meth:`LogShipper.submit` only appends to a
bounded queue (and counts a drop when it is full). The task sends a batch when it is
full or every ``flush_seconds``; a batch that fails goes back to the front of the queue
and is retried with a capped backoff, so shipping resumes by itself when Elasticsearch
returns and nothing is lost unless the queue overflows meanwhile.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from elasticsearch import AsyncElasticsearch

from services.common.logindex import template
from services.common.metrics import Metrics
from services.common.search import async_client

_BACKOFF_CAP_SECONDS = 5.0


def index_name(service: str, doc: dict[str, Any]) -> str:
    # "@timestamp" starts YYYY-MM-DD; the index is per UTC day.
    day = str(doc.get("@timestamp", ""))[:10].replace("-", ".")
    return f"{service}-logs-{day}"


class LogShipper:
    def __init__(
        self,
        service: str,
        url: str,
        metrics: Metrics,
        *,
        queue_size: int = 10_000,
        batch_size: int = 200,
        flush_seconds: float = 1.0,
        request_timeout: float = 5.0,
        client_factory: Callable[[str, float], AsyncElasticsearch] = async_client,
    ) -> None:
        self.service = service
        self.url = url
        self._metrics = metrics
        self._queue: deque[dict[str, Any]] = deque()
        self._queue_size = queue_size
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        # The whole bulk request, name lookup and connect included: with the search server gone
        # and no FIN on the wire, this is how long the shipper can take to notice.
        self._request_timeout = request_timeout
        self._client_factory = client_factory
        self._lock = threading.Lock()
        self._wake: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._task: asyncio.Task[None] | None = None
        self._client: AsyncElasticsearch | None = None
        self._template_applied = False
        self.last_error: str | None = None

    @property
    def pending(self) -> int:
        return len(self._queue)

    def _drop(self, count: int) -> None:
        self._metrics.log_dropped.labels(self.service).inc(count)

    def submit(self, doc: dict[str, Any]) -> None:
        """Queue one document; callable from any thread, never blocks."""
        with self._lock:
            if len(self._queue) >= self._queue_size:
                self._drop(1)
                return
            self._queue.append(doc)
            full = len(self._queue) >= self._batch_size
        if full and self._wake is not None and self._loop is not None:
            try:
                self._loop.call_soon_threadsafe(self._wake.set)
            except RuntimeError:  # loop already closed during shutdown
                pass

    def _take(self) -> list[dict[str, Any]]:
        with self._lock:
            count = min(self._batch_size, len(self._queue))
            return [self._queue.popleft() for _ in range(count)]

    def _put_back(self, batch: list[dict[str, Any]]) -> None:
        with self._lock:
            room = self._queue_size - len(self._queue)
            keep = batch[: max(room, 0)]
            self._queue.extendleft(reversed(keep))
            dropped = len(batch) - len(keep)
        if dropped:
            self._drop(dropped)

    async def _send(self, batch: list[dict[str, Any]]) -> None:
        if self._client is None:
            self._client = self._client_factory(self.url, self._request_timeout)
        if not self._template_applied:
            # Before the first index of this connection is created: a restarted in-memory
            # Elasticsearch has forgotten the template the init job put.
            await self._client.indices.put_index_template(**template())
            self._template_applied = True
        operations: list[dict[str, Any]] = []
        for doc in batch:
            operations.append({"create": {"_index": index_name(self.service, doc)}})
            operations.append(doc)
        response = await self._client.bulk(operations=operations)
        rejected = 0
        if response.get("errors"):
            # Per-document rejections (mapping conflicts) will not succeed on retry.
            rejected = sum(1 for item in response["items"] if "error" in next(iter(item.values())))
            self._drop(rejected)
        self._metrics.log_shipped.labels(self.service).inc(len(batch) - rejected)

    async def flush(self) -> None:
        """Send everything queued now; raises if Elasticsearch refuses."""
        while batch := self._take():
            try:
                await self._send(batch)
            except BaseException:
                self._put_back(batch)
                raise

    async def _run(self) -> None:
        assert self._wake is not None
        backoff = self._flush_seconds
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=backoff)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self.flush()
                backoff = self._flush_seconds
                self.last_error = None
                self._metrics.log_shipper_up.labels(self.service).set(1)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 -- any failure: the batch stays queued
                # Reported on stderr, not through logging: a log record about failing to
                # ship logs would itself be queued for shipping.
                if self.last_error != repr(exc):
                    print(f"log shipper: {self.url} unavailable: {exc!r}", file=sys.stderr)
                self.last_error = repr(exc)
                self._template_applied = False
                self._metrics.log_shipper_up.labels(self.service).set(0)
                backoff = min(backoff * 2, _BACKOFF_CAP_SECONDS)

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name=f"{self.service}-log-shipper")

    async def stop(self, timeout: float = 5.0) -> None:
        """Cancel the loop, then make one bounded last attempt to send what is queued."""
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        try:
            await asyncio.wait_for(self.flush(), timeout=timeout)
        except Exception as exc:  # noqa: BLE001 -- shutdown goes on whatever failed; the loss is reported
            left = self.pending
            if left:
                self._drop(left)
                print(f"log shipper: {left} records not shipped at shutdown: {exc!r}", file=sys.stderr)
        if self._client is not None:
            await self._client.close()
            self._client = None

