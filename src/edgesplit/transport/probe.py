"""LinkProber: active measurement of the upstream link for the LinkMonitor.

Every ``interval_s`` (and, while the breaker is open, as its half-open probe once the backoff
has passed) it times ``GET /healthz`` for the round trip and downloads ``probe_bytes`` from
``GET /v1/link/probe`` for bandwidth: ``bytes * 8 / (download time - round trip)``.
"""

from __future__ import annotations

import asyncio
import logging
import time

import httpx

from edgesplit.http.auth import bearer_headers
from edgesplit.transport.link import BreakerState, LinkMonitor

__all__ = ["LinkProber"]

log = logging.getLogger("edgesplit.link")


class LinkProber:
    """A background task that measures RTT and bandwidth to the upstream."""

    def __init__(
        self,
        monitor: LinkMonitor,
        base_url: str,
        token: str | None,
        interval_s: float,
        probe_bytes: int = 64 * 1024,
        timeout_s: float = 10.0,
    ) -> None:
        self.monitor = monitor
        self.interval_s = interval_s
        self.probe_bytes = probe_bytes
        headers = bearer_headers(token)
        self._client = httpx.AsyncClient(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout_s)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edgesplit-link-probe")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        await self._client.aclose()

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._next_wait_s())
            if self.monitor.allow():
                await self.probe_once()

    def _next_wait_s(self) -> float:
        if self.monitor.state is BreakerState.OPEN:
            return min(max(self.monitor.snapshot().retry_in_s, 0.05), self.interval_s)
        return self.interval_s

    async def probe_once(self) -> None:
        """Measure once and feed the monitor (a failure counts against the link)."""
        try:
            start = time.perf_counter()
            (await self._client.get("/healthz")).raise_for_status()
            rtt_s = time.perf_counter() - start
            start = time.perf_counter()
            response = await self._client.get("/v1/link/probe", params={"bytes": self.probe_bytes})
            response.raise_for_status()
            elapsed_s = time.perf_counter() - start
        except httpx.HTTPError as exc:
            log.info("link probe failed: %s", type(exc).__name__)
            self.monitor.record_failure()
            return
        self.monitor.record_success(rtt_s * 1000)
        transfer_s = max(elapsed_s - rtt_s, 1e-4)  # the download's own round trip is not bandwidth
        self.monitor.record_bandwidth(len(response.content) * 8 / transfer_s / 1e6)
