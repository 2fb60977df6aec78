"""Per-model admission: one generation at a time per model, a bounded FIFO of waiters.

A llama.cpp context serves one sequence at a time, so requests for a model wait their turn
in arrival order (asyncio's semaphore wakes waiters first-in first-out). When
``max_waiting`` requests already wait, a new one is refused at once with
:class:`QueueFull` (HTTP 429 + Retry-After) instead of hanging.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager

from edgesplit.errors import QueueFull

__all__ = ["ModelQueue"]


class ModelQueue:
    """Fair FIFO admission for one model."""

    def __init__(
        self,
        model: str,
        max_waiting: int,
        retry_after_s: int,
        on_change: Callable[[str, int, int], None] | None = None,  # (model, waiting, running)
    ) -> None:
        self.model = model
        self.max_waiting = max_waiting
        self.retry_after_s = retry_after_s
        self._slots = asyncio.Semaphore(1)
        self._waiting = 0
        self._on_change = on_change

    @property
    def waiting(self) -> int:
        """Requests waiting for the model (not counting the one running)."""
        return self._waiting

    @property
    def idle(self) -> bool:
        """No request is running or waiting."""
        return not self._slots.locked() and self._waiting == 0

    @asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        """Hold the model for the duration of the ``async with`` block."""
        if self._slots.locked() and self._waiting >= self.max_waiting:
            raise QueueFull(
                f"model {self.model!r} is busy: {self._waiting} requests already waiting",
                retry_after_s=self.retry_after_s,
            )
        self._waiting += 1
        self._changed()
        try:
            await self._slots.acquire()
        finally:
            self._waiting -= 1
            self._changed()  # this request holds the slot now (or gave up waiting)
        try:
            yield
        finally:
            self._slots.release()
            self._changed()

    def _changed(self) -> None:
        """Tell ``on_change`` the waiters and whether the slot is taken (read off the semaphore)."""
        if self._on_change is not None:
            self._on_change(self.model, self._waiting, int(self._slots.locked()))
