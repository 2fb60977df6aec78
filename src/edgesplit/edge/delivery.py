"""DeliveryWorker: sends the outbox's jobs upstream, with backoff, idempotency keys and callbacks.

Each attempt carries the job's ``Idempotency-Key``, so a job delivered twice (the edge was
killed after the cloud answered but before the outbox recorded it) runs once on the cloud
and the replay fetches the stored answer. Outcomes:

- 2xx: ``done``, the answer stored with the job;
- 409 (still running upstream), 408, 425, 429, 5xx, network errors, timeouts: retried after
  ``min(max_backoff, backoff * 2**attempts)`` seconds, scaled by a random factor in [0.5, 1];
- any other 4xx: ``failed`` with the upstream's reason, never retried.

The worker respects the link's circuit breaker and feeds it: while the circuit is open it
waits; in half-open state it sends a single job as the probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable
from typing import Any

import httpx

from edgesplit.background import run_in_background, stop_task
from edgesplit.edge.outbox import Outbox
from edgesplit.errors import UpstreamError
from edgesplit.schemas import JobRecord
from edgesplit.transport.link import BreakerState, LinkMonitor
from edgesplit.transport.upstream import UpstreamClient, error_message

__all__ = ["DeliveryWorker"]

log = logging.getLogger("edgesplit.edge.delivery")
_RETRYABLE_4XX = frozenset({408, 409, 425, 429})
_IDLE_POLL_S = 1.0
_PATHS = {"chat": "/v1/chat/completions", "text": "/v1/completions", "feedback": "/v1/feedback/batch"}


class DeliveryWorker:
    """One asyncio task per edge node, started with the app and stopped with it."""

    def __init__(
        self,
        outbox: Outbox,
        client: UpstreamClient,
        link: LinkMonitor,
        timeout_s: float,
        backoff_s: float = 1.0,
        max_backoff_s: float = 300.0,
        concurrency: int = 2,
        restore: Callable[[JobRecord], JobRecord] = lambda job: job,
    ) -> None:
        self.outbox = outbox
        self.restore = restore  # callbacks receive the answer with the original values back
        self.link = link
        self.backoff_s = backoff_s
        self.max_backoff_s = max_backoff_s
        self.concurrency = concurrency
        self.client = client  # shared with the edge's other upstream calls; its owner closes it
        self.timeout_s = timeout_s  # covers a whole generation: a job is not streamed
        self._callbacks = httpx.AsyncClient(timeout=10)  # to the client's URLs, not the upstream
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edgesplit-delivery")

    def wake(self) -> None:
        """A job was queued: look now instead of at the next poll."""
        self._wake.set()

    async def stop(self) -> None:
        await stop_task(self._task)
        await self._callbacks.aclose()

    async def _run(self) -> None:
        while True:
            try:
                await self._step()
                await self._send_callbacks()
            except asyncio.CancelledError:
                raise
            except Exception:  # the worker must outlive any one bad job or disk hiccup
                log.exception("delivery loop error")
                await asyncio.sleep(_IDLE_POLL_S)

    async def _step(self) -> None:
        self._wake.clear()  # before looking, so a job queued from here on wakes the sleep below
        due_in = await run_in_background(self.outbox.next_due_in_s)  # SQLite off the event loop
        if due_in is None or due_in > 0:
            await self._sleep(min(due_in if due_in is not None else _IDLE_POLL_S, _IDLE_POLL_S))
            return
        if not self.link.allow():
            await self._sleep(min(max(self.link.snapshot().retry_in_s, 0.05), _IDLE_POLL_S))
            return
        limit = 1 if self.link.state is BreakerState.HALF_OPEN else self.concurrency
        batch = await run_in_background(self.outbox.claim_due, limit)
        if not batch:
            self.link.cancel_probe()
            return
        await asyncio.gather(*(self._deliver(*job) for job in batch))

    async def _sleep(self, seconds: float) -> None:
        # asyncio.timeout, not wait_for: 3.11's wait_for drops a cancel that meets a wake-up
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(seconds):
                await self._wake.wait()

    async def _deliver(self, job_id: str, key: str, kind: str, request: dict[str, Any]) -> None:
        path = _PATHS.get(kind, "/v1/completions")
        start = time.perf_counter()
        try:
            response = await self.client.request(
                "POST", path, what="delivery", timeout=self.timeout_s, json=request, headers={"idempotency-key": key}
            )
        except UpstreamError as exc:
            self.link.record_outcome(None, (time.perf_counter() - start) * 1000)
            await self._retry(job_id, str(exc))
            return
        status = response.status_code
        self.link.record_outcome(status, (time.perf_counter() - start) * 1000)
        if status < 400:
            await run_in_background(self.outbox.mark_done, job_id, response.json())
        elif status >= 500 or status in _RETRYABLE_4XX:
            await self._retry(job_id, f"upstream answered {status}: {error_message(response)}")
        else:
            error = f"upstream refused the request ({status}): {error_message(response)}"
            await run_in_background(self.outbox.mark_failed, job_id, error)
            log.warning("job %s failed permanently: upstream answered %d", job_id, status)

    async def _retry(self, job_id: str, error: str) -> None:
        attempts = await run_in_background(self.outbox.attempts, job_id)
        delay = min(self.max_backoff_s, self.backoff_s * 2**attempts) * random.uniform(0.5, 1.0)
        await run_in_background(self.outbox.mark_retry, job_id, error, delay)

    async def _send_callbacks(self) -> None:
        for job in await run_in_background(self.outbox.pending_callbacks):
            assert job.callback_url is not None
            try:
                payload = (await run_in_background(self.restore, job)).model_dump(mode="json")
                response = await self._callbacks.post(job.callback_url, json=payload)
            except httpx.HTTPError as exc:
                log.info("callback for %s not delivered yet: %s", job.id, type(exc).__name__)
                continue
            if response.status_code < 500:  # a 4xx will not get better by retrying
                await run_in_background(self.outbox.mark_callback_done, job.id)
