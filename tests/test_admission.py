"""Per-model fair queueing: FIFO order, and a full queue answers 429 with Retry-After."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from conftest import EdgeFactory
from edgesplit.admission import ModelQueue
from edgesplit.errors import QueueFull


def test_waiters_are_served_in_arrival_order() -> None:
    async def scenario() -> list[int]:
        queue = ModelQueue("m", max_waiting=10, retry_after_s=1)
        order: list[int] = []
        gate = asyncio.Event()

        async def job(i: int) -> None:
            async with queue.slot():
                if i == 0:
                    await gate.wait()
                order.append(i)

        tasks = [asyncio.create_task(job(0))]
        await asyncio.sleep(0)
        for i in range(1, 6):
            tasks.append(asyncio.create_task(job(i)))
            await asyncio.sleep(0)
        assert queue.waiting == 5
        gate.set()
        await asyncio.gather(*tasks)
        assert queue.waiting == 0
        return order

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4, 5]


def test_full_queue_raises_at_once() -> None:
    async def scenario() -> None:
        depths: list[int] = []
        held: list[int] = []

        def seen(_: str, waiting: int, running: int) -> None:
            depths.append(waiting)
            held.append(running)

        queue = ModelQueue("m", max_waiting=1, retry_after_s=7, on_change=seen)
        gate = asyncio.Event()

        async def hold() -> None:
            async with queue.slot():
                await gate.wait()

        running = asyncio.create_task(hold())
        await asyncio.sleep(0)
        waiter = asyncio.create_task(hold())
        await asyncio.sleep(0)
        with pytest.raises(QueueFull) as info:
            async with queue.slot():
                pass
        assert info.value.retry_after_s == 7
        gate.set()
        await asyncio.gather(running, waiter)
        assert depths[-1] == 0 and max(depths) == 1
        assert held[-1] == 0 and max(held) == 1  # the slot was held, then freed

    asyncio.run(scenario())


def test_full_queue_answers_429_with_retry_after(make_edge: EdgeFactory) -> None:
    edge = make_edge(queue_max_waiting=1, queue_retry_after_s=3)
    body = {
        "model": "edgesplit/edge",
        "messages": [{"role": "user", "content": "Count from 1 to 300, one number per line."}],
        "max_tokens": 200,
        "temperature": 0,
    }

    def send(_: int) -> httpx.Response:
        return httpx.post(f"{edge.url}/v1/chat/completions", json=body, timeout=120)

    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(pool.map(send, range(6)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(200) >= 2, statuses  # the running one and the one waiting
    assert 429 in statuses and set(statuses) <= {200, 429}, statuses
    limited = next(r for r in responses if r.status_code == 429)
    assert limited.headers["retry-after"] == "3"
    assert limited.json()["error"]["code"] == "queue_full"
    # the node is still healthy afterwards
    after = httpx.post(f"{edge.url}/v1/chat/completions", json={**body, "max_tokens": 4}, timeout=60)
    assert after.status_code == 200
