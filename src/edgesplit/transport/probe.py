"""LinkProber: active measurement of the upstream link for the LinkMonitor.

Every ``interval_s`` (and, while the breaker is open, as its half-open probe once the backoff
has passed) it times ``GET /healthz`` for the round trip and downloads ``probe_bytes`` from
``GET /v1/link/probe`` for bandwidth: ``bytes * 8 / (download time - round trip)``. Against a
plain OpenAI-compatible server (``health_path``) it only times that path, ``/v1/models``.
"""

from __future__ import annotations

import asyncio
import logging
import time

from edgesplit.background import stop_task
from edgesplit.errors import UpstreamError
from edgesplit.transport.link import BreakerState, LinkMonitor
from edgesplit.transport.upstream import UpstreamClient

__all__ = ["LinkProber"]

log = logging.getLogger("edgesplit.link")


class LinkProber:
    """A background task that measures RTT and bandwidth to the upstream."""

    def __init__(
        self,
        monitor: LinkMonitor,
        client: UpstreamClient,
        interval_s: float,
        probe_bytes: int = 64 * 1024,
        health_path: str | None = None,
    ) -> None:
        self.monitor = monitor
        self.client = client  # shared with the edge's other upstream calls; its owner closes it
        self.interval_s = interval_s
        self.probe_bytes = probe_bytes
        self.health_path = health_path  # set: time this GET only (no bandwidth download)
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="edgesplit-link-probe")

    async def stop(self) -> None:
        await stop_task(self._task)

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
        """Measure once and feed the monitor (what counts as a failure: ``LinkMonitor.record_outcome``)."""
        start = time.perf_counter()
        try:
            if self.health_path is not None:
                self.monitor.record_success(await self.client.ping(self.health_path))
                return
            sample = await self.client.measure(self.probe_bytes)
        except UpstreamError as exc:
            log.info("link probe of %s failed: %s", self.client.base_url, exc)
            self.monitor.record_outcome(exc.status_code, (time.perf_counter() - start) * 1000)
            return
        self.monitor.record_success(sample.rtt_ms)
        self.monitor.record_bandwidth(sample.bandwidth_mbps)
