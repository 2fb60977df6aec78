"""background.py: low-priority work off the event loop, and stopping background loops for sure."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from edgesplit.background import stop_task
from edgesplit.edge.delivery import DeliveryWorker
from edgesplit.edge.outbox import Outbox
from edgesplit.transport.link import LinkMonitor
from edgesplit.transport.upstream import UpstreamClient


def test_stop_task_ends_a_loop_that_swallowed_the_first_cancellation() -> None:
    swallowed = []

    async def stubborn() -> None:
        while True:
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                if swallowed:
                    raise
                swallowed.append(True)  # a callee that turned the cancel into an ordinary return

    async def run() -> None:
        task = asyncio.create_task(stubborn())
        await asyncio.sleep(0)
        await asyncio.wait_for(stop_task(task, retry_s=0.05), timeout=5)
        assert task.cancelled() and swallowed

    asyncio.run(run())


def test_stop_task_reports_a_task_that_had_failed(caplog: pytest.LogCaptureFixture) -> None:
    async def fails() -> None:
        raise RuntimeError("disk full")

    async def run() -> None:
        task = asyncio.create_task(fails())
        await asyncio.sleep(0)
        await stop_task(task)
        await stop_task(None)

    asyncio.run(run())
    assert "disk full" in caplog.text


@pytest.mark.parametrize("yields", range(6))
def test_the_delivery_worker_stops_right_after_a_wake_up(tmp_path: Path, yields: int) -> None:
    """A job queued as the node shuts down (the feedback flush) used to leave the worker polling forever."""

    async def run() -> None:
        outbox = Outbox(tmp_path / "outbox.sqlite")
        client = UpstreamClient("http://127.0.0.1:9", None, 1.0)
        worker = DeliveryWorker(outbox, client, LinkMonitor(), timeout_s=1.0)
        worker.start()
        await asyncio.sleep(0.05)  # asleep, waiting for work
        worker.wake()
        for _ in range(yields):
            await asyncio.sleep(0)
        worker._task.cancel()  # type: ignore[union-attr]  # one cancel, as before stop_task
        done, _ = await asyncio.wait({worker._task}, timeout=2)  # type: ignore[arg-type]
        assert done, "the worker went on after its cancellation"
        await worker.stop()
        await client.aclose()
        outbox.close()

    asyncio.run(run())
